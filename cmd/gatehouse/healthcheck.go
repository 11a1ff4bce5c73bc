package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck asks a running server's /healthz and fails unless it
// answers 200: the container image has no shell and no curl, so Docker's
// HEALTHCHECK runs the binary itself. By default it asks the address that
// serve would listen on (GATEHOUSE_ADDR, else localhost:3000), on loopback
// when that address names no host.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatehouse healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "URL to ask (default: http://<GATEHOUSE_ADDR>/healthz)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		printUsage(fs.Output(), fs, `Usage: gatehouse healthcheck [flags]

Exit 0 if the server answers 200 on /healthz, else 1: the container image's
HEALTHCHECK, which has no shell or curl.`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *url == "" {
		addr := getenv("GATEHOUSE_ADDR")
		if addr == "" {
			addr = "localhost:3000"
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return usagef("GATEHOUSE_ADDR=%q: want host:port or :port", addr)
		}
		if host == "" || net.ParseIP(host).IsUnspecified() {
			host = "127.0.0.1"
		}
		*url = "http://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usagef("--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", *url, resp.Status)
	}
	fmt.Fprintf(stdout, "%s: ok\n", *url)
	return nil
}
