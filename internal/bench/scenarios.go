package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"

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
	case "verify":
		return func(ctx context.Context, w int) error {
			return a.send(ctx, apiCall{method: http.MethodGet, url: a.base + "/v1/auth/verify", bearer: fx.access[w], want: http.StatusOK})
		}
	case "me":
		return func(ctx context.Context, w int) error { return a.me(ctx, fx.access[w]) }
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
			err := a.refresh(ctx, fx.refresh[w], &g)
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
			return a.signOut(ctx, toks[i])
		}
	}
	panic("bench: no scenario " + sc)
}
