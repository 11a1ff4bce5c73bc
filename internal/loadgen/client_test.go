package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{url: "http://127.0.0.1:3000", ok: true},
		{url: "http://127.8.9.10", ok: true},
		{url: "http://localhost:3000/", ok: true},
		{url: "https://LOCALHOST", ok: true},
		{url: "http://[::1]:3000", ok: true},
		{url: "http://[::ffff:127.0.0.1]:3000", ok: true},
		{url: "http://10.0.0.1:3000"},
		{url: "http://192.168.1.20"},
		{url: "http://0.0.0.0:3000"},
		{url: "http://[::]:3000"},
		{url: "http://example.com"},
		{url: "http://localhost.example.com"},
		{url: "http://127.0.0.1.nip.io"},
		{url: "ftp://127.0.0.1"},
		{url: "127.0.0.1:3000"},
	}
	for _, tt := range tests {
		err := CheckLoopback(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
	if err := CheckLoopback("http://10.0.0.1"); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("CheckLoopback(10.0.0.1) = %v, want ErrNotLoopback", err)
	}
}

func TestClientRefusesOtherMachines(t *testing.T) {
	c := NewClient(1, time.Second)
	// The dialer checks the address it is about to connect to, so this
	// fails before any packet leaves: TEST-NET-1 is never routed.
	_, err := c.Get("http://192.0.2.1:9/")
	if !errors.Is(err, ErrNotLoopback) {
		t.Errorf("Get(192.0.2.1) = %v, want ErrNotLoopback", err)
	}
}

func TestClientReachesLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	c := NewClient(2, time.Second)
	if err := WaitReady(context.Background(), c, srv.URL, time.Second); err != nil {
		t.Errorf("WaitReady(%s) = %v, want nil", srv.URL, err)
	}
}
