package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// APIs are the APIs the bench can load (--api): Gatehouse's own, and two
// peers' for a side-by-side run on the same machine and database
// (docs/benchmarks.md has the recipes): Supabase Auth's (GoTrue) and Ory
// Kratos' (its API flows, which give session tokens).
var APIs = []string{"gatehouse", "gotrue", "kratos"}

// PeerScenarios are the scenarios each peer's API has a counterpart for.
// GoTrue: sign-in and refresh are POST /token, me is GET /user, sign_out is
// POST /logout, register is POST /signup. Kratos: register and sign-in are
// its API flows (create the flow, then submit it: two requests), me is GET
// /sessions/whoami, sign_out is DELETE /self-service/logout/api; a Kratos
// session token is not refreshed, so there is no refresh.
var PeerScenarios = map[string][]string{
	"gotrue": {"baseline", "argon2", "register", "sign_in", "me", "refresh", "sign_out"},
	"kratos": {"baseline", "argon2", "register", "sign_in", "me", "sign_out"},
}

// api makes the requests of the scenarios and of their setup, over the
// header (token) transport, to the server at base, whose API is kind (one
// of APIs).
type api struct {
	client *http.Client
	base   string // the server's base URL
	kind   string
}

// signIn signs email in with benchPassword, decoding the tokens into g if
// it is not nil.
func (a *api) signIn(ctx context.Context, email string, g *grantBody) error {
	if a.kind == "kratos" {
		return a.kratosFlow(ctx, "login", fmt.Appendf(nil, `{"method":"password","identifier":%q,"password":%q}`, email, benchPassword), g)
	}
	body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
	if a.kind == "gotrue" {
		return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/token?grant_type=password", body: body, want: http.StatusOK}, into(g)...)
	}
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth/sign_in", body: body, tokens: true, want: http.StatusOK}, into(g)...)
}

// refresh exchanges refresh token tok for new tokens, decoded into g.
func (a *api) refresh(ctx context.Context, tok string, g *grantBody) error {
	if a.kind == "gotrue" {
		body := fmt.Appendf(nil, `{"refresh_token":%q}`, tok)
		return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/token?grant_type=refresh_token", body: body, want: http.StatusOK}, g)
	}
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth/refresh", refresh: tok, tokens: true, want: http.StatusOK}, g)
}

// me asks who access token tok belongs to.
func (a *api) me(ctx context.Context, tok string) error {
	path := "/v1/auth/me"
	switch a.kind {
	case "gotrue":
		path = "/user"
	case "kratos":
		path = "/sessions/whoami"
	}
	return a.send(ctx, apiCall{method: http.MethodGet, url: a.base + path, bearer: tok, want: http.StatusOK})
}

// signOut ends the session of access token tok.
func (a *api) signOut(ctx context.Context, tok string) error {
	switch a.kind {
	case "gotrue":
		return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/logout", bearer: tok, want: http.StatusNoContent})
	case "kratos":
		body := fmt.Appendf(nil, `{"session_token":%q}`, tok)
		return a.send(ctx, apiCall{method: http.MethodDelete, url: a.base + "/self-service/logout/api", body: body, want: http.StatusNoContent})
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
	switch a.kind {
	case "gotrue":
		// With GOTRUE_MAILER_AUTOCONFIRM=true the answer holds a session.
		body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
		return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/signup", body: body, want: http.StatusOK}, into(g)...)
	case "kratos":
		// With the session hook after registration the answer holds a session.
		body := fmt.Appendf(nil, `{"method":"password","password":%q,"traits":{"email":%q}}`, benchPassword, email)
		return a.kratosFlow(ctx, "registration", body, g)
	}
	body := fmt.Appendf(nil, `{"email":%q,"password":%q,"password_confirmation":%q}`, email, benchPassword, benchPassword)
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth", body: body, tokens: true, want: http.StatusCreated}, into(g)...)
}

// kratosFlow runs one of Kratos' API flows ("login", "registration"):
// create the flow, then submit body to it.
func (a *api) kratosFlow(ctx context.Context, flow string, body []byte, g *grantBody) error {
	var f struct {
		ID string `json:"id"`
	}
	if err := a.send(ctx, apiCall{method: http.MethodGet, url: a.base + "/self-service/" + flow + "/api", want: http.StatusOK}, &f); err != nil {
		return err
	}
	u := a.base + "/self-service/" + flow + "?flow=" + url.QueryEscape(f.ID)
	return a.send(ctx, apiCall{method: http.MethodPost, url: u, body: body, want: http.StatusOK}, into(g)...)
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

// UnmarshalJSON reads Gatehouse's body, GoTrue's, which names the tokens
// access_token and refresh_token, and Kratos', whose session_token is
// what the bench presents as an access token.
func (g *grantBody) UnmarshalJSON(b []byte) error {
	var v struct {
		Access       string `json:"access"`
		Refresh      string `json:"refresh"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		SessionToken string `json:"session_token"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	g.Access, g.Refresh = cmp.Or(v.Access, v.AccessToken, v.SessionToken), cmp.Or(v.Refresh, v.RefreshToken)
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
