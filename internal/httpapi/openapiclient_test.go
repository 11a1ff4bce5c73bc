package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/httpapi/openapiclient"
)

// specDoer sends the generated client's requests to the test server and
// checks each exchange against openapi.json, as do does for the scenarios.
type specDoer struct {
	t  *testing.T
	ts *testServer
}

func (d specDoer) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := d.ts.client.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	checkSpec(d.t, req, string(body), response{call: req.Method + " " + req.URL.Path, status: resp.StatusCode, header: resp.Header, body: string(b)})
	return resp, err
}

func bearer(token string) openapiclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// TestOpenAPIClient: a client generated from openapi.json, and nothing
// else, signs in, refreshes and signs out, in token transport.
func TestOpenAPIClient(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	ts.register(t, "ada@example.com", "correct horse battery")
	c, err := openapiclient.NewClientWithResponses(ts.url, openapiclient.WithHTTPClient(specDoer{t, ts}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	transport := "token"
	email, pw := "ada@example.com", "correct horse battery"

	signIn, err := c.SignInWithResponse(ctx, &openapiclient.SignInParams{XAuthTransport: &transport},
		openapiclient.Credentials{Email: &email, Password: &pw})
	if err != nil || signIn.JSON200 == nil {
		t.Fatalf("SignIn: got %v, status %d, body %s; want 200", err, signIn.StatusCode(), signIn.Body)
	}
	tokens, err := signIn.JSON200.AsTokens()
	if err != nil {
		t.Fatalf("SignIn: body %s as Tokens: %v", signIn.Body, err)
	}

	me, err := c.MeWithResponse(ctx, bearer(tokens.Access))
	if err != nil || me.JSON200 == nil || me.JSON200.Email != email {
		t.Fatalf("Me: got %v, status %d, body %s; want 200 naming %s", err, me.StatusCode(), me.Body, email)
	}

	refreshed, err := c.RefreshWithResponse(ctx, &openapiclient.RefreshParams{XAuthTransport: &transport, XRefreshToken: &tokens.Refresh})
	if err != nil || refreshed.JSON200 == nil {
		t.Fatalf("Refresh: got %v, status %d, body %s; want 200", err, refreshed.StatusCode(), refreshed.Body)
	}
	next, err := refreshed.JSON200.AsTokens()
	if err != nil || next.Refresh == tokens.Refresh || next.Access == tokens.Access {
		t.Fatalf("Refresh: got %s (%v), want new access and refresh tokens", refreshed.Body, err)
	}

	out, err := c.SignOutWithResponse(ctx, &openapiclient.SignOutParams{}, bearer(next.Access))
	if err != nil || out.StatusCode() != http.StatusOK {
		t.Fatalf("SignOut: got %v, status %d, body %s; want 200", err, out.StatusCode(), out.Body)
	}
	after, err := c.MeWithResponse(ctx, bearer(next.Access))
	if err != nil || after.JSON401 == nil || after.JSON401.Code != openapiclient.ErrorCodeNotAuthorized {
		t.Errorf("Me after SignOut: got %v, status %d, body %s; want 401 not_authorized", err, after.StatusCode(), after.Body)
	}
}
