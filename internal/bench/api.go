package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// APIs are the APIs the bench can load (--api): Gatehouse's own, and
// Supabase Auth's (GoTrue), for a side-by-side run against a peer on the
// same machine and database (docs/benchmarks.md has the recipe).
var APIs = []string{"gatehouse", "gotrue"}

// GoTrueScenarios are the scenarios GoTrue's API has a counterpart for:
// sign-in and refresh are POST /token, me is GET /user, sign_out is POST
// /logout, register is POST /signup.
var GoTrueScenarios = []string{"baseline", "argon2", "register", "sign_in", "me", "refresh", "sign_out"}

// api makes the requests of the scenarios and of their setup, over the
// header (token) transport, to the Gatehouse at base, or with gotrue set
// to the Supabase Auth (GoTrue) server at base.
type api struct {
	client *http.Client
	base   string // the server's base URL
	gotrue bool
}

// signIn signs email in with benchPassword, decoding the tokens into g if
// it is not nil.
func (a *api) signIn(ctx context.Context, email string, g *grantBody) error {
	body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
	if a.gotrue {
		return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/token?grant_type=password", body: body, want: http.StatusOK}, into(g)...)
	}
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth/sign_in", body: body, tokens: true, want: http.StatusOK}, into(g)...)
}

// refresh exchanges refresh token tok for new tokens, decoded into g.
func (a *api) refresh(ctx context.Context, tok string, g *grantBody) error {
	if a.gotrue {
		body := fmt.Appendf(nil, `{"refresh_token":%q}`, tok)
		return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/token?grant_type=refresh_token", body: body, want: http.StatusOK}, g)
	}
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth/refresh", refresh: tok, tokens: true, want: http.StatusOK}, g)
}

// me asks who access token tok belongs to.
func (a *api) me(ctx context.Context, tok string) error {
	if a.gotrue {
		return a.send(ctx, apiCall{method: http.MethodGet, url: a.base + "/user", bearer: tok, want: http.StatusOK})
	}
	return a.send(ctx, apiCall{method: http.MethodGet, url: a.base + "/v1/auth/me", bearer: tok, want: http.StatusOK})
}

// signOut ends the session of access token tok.
func (a *api) signOut(ctx context.Context, tok string) error {
	if a.gotrue {
		return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/logout", bearer: tok, want: http.StatusNoContent})
	}
	return a.send(ctx, apiCall{method: http.MethodDelete, url: a.base + "/v1/auth/sign_out", bearer: tok, want: http.StatusOK})
}

// forgot asks for a password-reset mail for email.
func (a *api) forgot(ctx context.Context, email string) error {
	body := fmt.Appendf(nil, `{"email":%q}`, email)
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth/password/forgot", body: body, want: http.StatusAccepted})
}

// register registers email with benchPassword, decoding the tokens into g
// if it is not nil.
func (a *api) register(ctx context.Context, email string, g *grantBody) error {
	if a.gotrue {
		// With GOTRUE_MAILER_AUTOCONFIRM=true the answer holds a session.
		body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
		return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/signup", body: body, want: http.StatusOK}, into(g)...)
	}
	body := fmt.Appendf(nil, `{"email":%q,"password":%q,"password_confirmation":%q}`, email, benchPassword, benchPassword)
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth", body: body, tokens: true, want: http.StatusCreated}, into(g)...)
}

// into is send's optional decoding target: none for a nil g, whose body a
// scenario only drains.
func into(g *grantBody) []any {
	if g == nil {
		return nil
	}
	return []any{g}
}

// apiCall is one request of the header transport.
type apiCall struct {
	method, url string
	body        []byte
	bearer      string // Authorization: Bearer
	refresh     string // X-Refresh-Token
	tokens      bool   // X-Auth-Transport: token
	want        int
}

// grantBody is the token-transport body of register, sign-in and refresh.
type grantBody struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// UnmarshalJSON reads Gatehouse's body and GoTrue's, which names the
// tokens access_token and refresh_token.
func (g *grantBody) UnmarshalJSON(b []byte) error {
	var v struct {
		Access       string `json:"access"`
		Refresh      string `json:"refresh"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	g.Access, g.Refresh = cmp.Or(v.Access, v.AccessToken), cmp.Or(v.Refresh, v.RefreshToken)
	return nil
}

// statusError is an answer other than the one a scenario expects.
type statusError struct {
	call string
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: status %d: %s", e.call, e.code, e.body)
}

// send makes c and checks its status, decoding a JSON body into out[0] if
// given. The body is always read to the end so the connection is reused.
func (a *api) send(ctx context.Context, c apiCall, out ...any) error {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "gatehouse-bench")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.refresh != "" {
		req.Header.Set("X-Refresh-Token", c.refresh)
	}
	if c.tokens {
		req.Header.Set("X-Auth-Transport", "token")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != c.want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		io.Copy(io.Discard, resp.Body)
		return &statusError{call: c.method + " " + req.URL.Path, code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	}
	if len(out) > 0 {
		err = json.NewDecoder(resp.Body).Decode(out[0])
	}
	io.Copy(io.Discard, resp.Body)
	return err
}
