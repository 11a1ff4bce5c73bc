// Command downstream is a service that trusts Gatehouse access tokens
// without calling Gatehouse per request, and stops accepting a signed-out
// token within milliseconds (package verifier).
//
//	gatehouse service-tokens create downstream-example   # prints ghst_…
//	GATEHOUSE_URL=http://127.0.0.1:8080 \
//	GATEHOUSE_SERVICE_TOKEN=ghst_… \
//	GATEHOUSE_SECRET="$(cat gatehouse.db.key)" \
//	go run ./examples/downstream
//
//	curl -H "Authorization: Bearer $ACCESS" http://127.0.0.1:8090/whoami
//
// Leave GATEHOUSE_SECRET empty when Gatehouse signs with EdDSA or ES256
// (--token-alg): the keys then come from its /.well-known/jwks.json.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/verifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, log); err != nil {
		log.Error("downstream", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	var key []byte
	if s := os.Getenv("GATEHOUSE_SECRET"); s != "" {
		key = []byte(s)
	}
	v, err := verifier.New(verifier.Config{
		URL:          os.Getenv("GATEHOUSE_URL"),
		ServiceToken: os.Getenv("GATEHOUSE_SERVICE_TOKEN"),
		HS256Key:     key,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	go v.Run(ctx)

	mux := http.NewServeMux()
	mux.Handle("GET /whoami", v.Middleware(http.HandlerFunc(whoami)))
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("serving", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// whoami answers with the caller the middleware verified.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := verifier.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"user_id":    p.UserID,
		"session_id": p.SessionID,
		"auth_level": p.AuthLevel,
	})
}
