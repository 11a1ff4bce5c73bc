package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// runBenchBaseline is the hidden bench-baseline command: a bare net/http
// handler answering 200 "ok", run as a child of gatehouse bench with the
// same http.Server settings as serve, so the gap between it and verify is
// the work of Gatehouse itself.
func runBenchBaseline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatehouse bench-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ok := []byte("ok")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(ok) })
	fmt.Fprintf(stdout, "gatehouse bench-baseline listening on http://%s\n", ln.Addr())
	return serveHTTP(ctx, ln, h, slog.New(slog.DiscardHandler), 0, 5*time.Second)
}
