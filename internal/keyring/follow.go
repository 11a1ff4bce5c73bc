package keyring

import (
	"context"
	"log/slog"
	"strings"

	"github.com/gatehouse/gatehouse/internal/token"
)

// Apply loads the ring into iss, alg's active key signing. It returns a
// fingerprint of what it loaded (ids and states), for Reload to skip
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

// Reload reloads the ring into iss if it changed since last (the
// fingerprint Apply, or the previous Reload, returned) and returns the
// fingerprint in force. A node calls it every ReloadInterval, so that a
// key added, activated, retired or removed by `gatehouse keys` on any node
// takes effect there within that interval. A failed reload keeps the ring
// the node has (its keys are still right; a database blip must not stop
// token verification) and is logged.
func (r *Ring) Reload(ctx context.Context, iss *token.Issuer, alg, last string, log *slog.Logger) string {
	recs, err := r.List(ctx)
	if err == nil && fingerprint(recs) == last {
		return last
	}
	fp, err := r.Apply(ctx, iss, alg)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("reloading the signing key ring", "err", err)
		}
		return last
	}
	log.Info("signing key ring changed", "signer", iss.SignerID())
	return fp
}
