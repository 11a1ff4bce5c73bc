package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/loadgen"
)

// doer returns the request loop body of scenario sc at level c.
func (r *runner) doer(sc string, c int) func(context.Context, int) error {
	fx, a := &r.fx, r.api
	switch sc {
	case "baseline":
		return func(ctx context.Context, w int) error {
			return a.send(ctx, apiCall{method: http.MethodGet, url: r.srv.baseline.URL + "/", want: http.StatusOK})
		}
	case "argon2":
		return func(ctx context.Context, w int) error {
			_, err := r.hasher.Hash(benchPassword)
			return err
		}
	case "verify", "me":
		return func(ctx context.Context, w int) error {
			return a.send(ctx, apiCall{method: http.MethodGet, url: a.base + "/v1/auth/" + sc, bearer: fx.access[w], want: http.StatusOK})
		}
	case "register":
		return func(ctx context.Context, w int) error {
			return a.register(ctx, fmt.Sprintf("r%s-%d@bench.example.com", r.runID, fx.regSeq.Add(1)), nil)
		}
	case "sign_in":
		return func(ctx context.Context, w int) error { return a.signIn(ctx, fx.email(rand.IntN(fx.users)+1), nil) }
	case "forgot_known":
		return func(ctx context.Context, w int) error { return a.forgot(ctx, fx.email(rand.IntN(fx.users)+1)) }
	case "forgot_unknown":
		return func(ctx context.Context, w int) error {
			return a.forgot(ctx, fmt.Sprintf("nobody-%d@bench.example.com", rand.IntN(1<<30)))
		}
	case "refresh":
		return func(ctx context.Context, w int) error {
			var g grantBody
			err := a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth/refresh", refresh: fx.refresh[w], tokens: true, want: http.StatusOK}, &g)
			if err == nil {
				fx.refresh[w] = g.Refresh
			}
			return err
		}
	case "sign_out":
		toks, next := fx.signOut[c], fx.next[c]
		return func(ctx context.Context, w int) error {
			i := next.Add(1) - 1
			if i >= int64(len(toks)) {
				return loadgen.ErrStop
			}
			return a.send(ctx, apiCall{method: http.MethodDelete, url: a.base + "/v1/auth/sign_out", bearer: toks[i], want: http.StatusOK})
		}
	}
	panic("bench: no scenario " + sc)
}

// api makes the requests of the scenarios and of their setup, over the
// header (token) transport, to the Gatehouse at base.
type api struct {
	client *http.Client
	base   string // gatehouse base URL
}

// signIn signs email in with benchPassword, decoding the tokens into g if
// it is not nil.
func (a *api) signIn(ctx context.Context, email string, g *grantBody) error {
	body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth/sign_in", body: body, tokens: true, want: http.StatusOK}, into(g)...)
}

// forgot asks for a password-reset mail for email.
func (a *api) forgot(ctx context.Context, email string) error {
	body := fmt.Appendf(nil, `{"email":%q}`, email)
	return a.send(ctx, apiCall{method: http.MethodPost, url: a.base + "/v1/auth/password/forgot", body: body, want: http.StatusAccepted})
}

// register registers email with benchPassword, decoding the tokens into g
// if it is not nil.
func (a *api) register(ctx context.Context, email string, g *grantBody) error {
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
