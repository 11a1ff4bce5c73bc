package keyring

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/token"
)

// Apply loads the ring into iss, alg's active key signing. It returns a
// fingerprint of what it loaded (ids and states), for Follow to skip
// reloads that change nothing.
func (r *Ring) Apply(ctx context.Context, iss *token.Issuer, alg string) (string, error) {
	recs, err := r.List(ctx)
	if err != nil {
		return "", err
	}
	keys, signer, err := r.keys(recs, alg)
	if err != nil {
		return "", err
	}
	if err := iss.SetKeys(keys, signer); err != nil {
		return "", err
	}
	return fingerprint(recs), nil
}

func fingerprint(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(r.ID + ":" + r.State + ";")
	}
	return b.String()
}

// Follow reloads the ring into iss every interval until ctx ends (last is
// the fingerprint Apply returned at start), so that
// a key added, activated, retired or removed by `gatehouse keys` on any
// node takes effect here within interval. A failed reload keeps the ring
// this node has (its keys are still right; a database blip must not stop
// token verification) and is logged.
func (r *Ring) Follow(ctx context.Context, iss *token.Issuer, alg, last string, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		recs, err := r.List(ctx)
		if err == nil && fingerprint(recs) == last {
			continue
		}
		fp, err := r.Apply(ctx, iss, alg)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reloading the signing key ring", "err", err)
			}
			continue
		}
		log.Info("signing key ring changed", "signer", iss.SignerID())
		last = fp
	}
}
