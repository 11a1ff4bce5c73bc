package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheck: exit 0 only on a 200 from /healthz, found from
// GATEHOUSE_ADDR as serve would listen on it (":port" means loopback).
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	serve := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	up, down := serve(http.StatusOK), serve(http.StatusServiceUnavailable)
	_, upPort, _ := strings.Cut(up, ":")
	// A port nobody listens on: a server's, closed at once.
	dead := httptest.NewServer(nil)
	deadAddr := strings.TrimPrefix(dead.URL, "http://")
	dead.Close()
	tests := []struct {
		name      string
		addr      string
		args      []string
		wantErr   string // "" for success
		wantUsage bool
	}{
		{name: "up", addr: up},
		{name: "port_only_means_loopback", addr: ":" + upPort},
		{name: "unspecified_host_means_loopback", addr: "0.0.0.0:" + upPort},
		{name: "url_flag", args: []string{"--url", "http://" + up + "/healthz"}},
		{name: "not_ok", addr: down, wantErr: "503"},
		{name: "nobody_listening", addr: deadAddr, wantErr: "healthcheck"},
		{name: "addr_without_port", addr: "localhost", wantErr: "GATEHOUSE_ADDR", wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GATEHOUSE_ADDR" {
					return tt.addr
				}
				return ""
			}
			err := run(t.Context(), append([]string{"healthcheck"}, tt.args...), getenv, noStdin, io.Discard, io.Discard)
			var u usageError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("healthcheck (GATEHOUSE_ADDR=%q): got %v, want success", tt.addr, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("healthcheck (GATEHOUSE_ADDR=%q): got %v, want an error mentioning %q", tt.addr, err, tt.wantErr)
			case tt.wantErr != "" && errors.As(err, &u) != tt.wantUsage:
				t.Errorf("healthcheck (GATEHOUSE_ADDR=%q): got %v, usage error %v, want %v", tt.addr, err, !tt.wantUsage, tt.wantUsage)
			}
		})
	}
}
