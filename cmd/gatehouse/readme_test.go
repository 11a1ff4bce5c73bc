package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	readmeServe   = regexp.MustCompile("`go run ./cmd/gatehouse((?: --[a-z-]+=?[a-z]*)*)`")
	readmeSession = regexp.MustCompile("(?s)\n```sh\n(.*?)```")
	httpStatus    = regexp.MustCompile(`\(HTTP (\d{3})\)`)
)

// TestREADMESession runs the README's curl session as written, twice, on
// one database against the real server started the way the README says:
// the second run must sign in where the first registered, and every step
// must print the status a newcomer expects.
func TestREADMESession(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		needInCI(t, "curl not found")
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "## A session with curl")
	if !ok {
		t.Fatal("README.md: no section \"A session with curl\"")
	}
	serve := readmeServe.FindStringSubmatch(section)
	block := readmeSession.FindStringSubmatch(section)
	if serve == nil || block == nil {
		t.Fatalf("README.md, \"A session with curl\": want `go run ./cmd/gatehouse …` and a sh block; got %q, %q", serve, block)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")}, strings.Fields(serve[1])...)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(string) string { return "" }, noStdin, &stdout, &stderr) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("server did not stop")
		}
	}()
	base := waitForURL(t, &stdout)
	script := strings.ReplaceAll(block[1], "http://localhost:3000", base)

	dir := t.TempDir() // the cookie jar and replies, as in a newcomer's folder
	for i, want := range [][]string{
		{"201", "200", "200", "200", "401"},        // register, me, refresh, sign out, me
		{"422", "200", "200", "200", "200", "401"}, // register refused: the account exists; sign in
	} {
		cmd := exec.Command("sh", "-e", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d of the README session: %v\n%s", i+1, err, out)
		}
		var got []string
		for _, m := range httpStatus.FindAllStringSubmatch(string(out), -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, want) {
			t.Errorf("run %d of the README session: got statuses %v, want %v; output:\n%s", i+1, got, want, out)
		}
	}
}
