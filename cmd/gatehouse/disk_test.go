package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestDiskReady(t *testing.T) {
	t.Parallel()
	const minFree = 64 << 20
	tests := []struct {
		name    string
		free    uint64
		err     error
		wantErr bool
	}{
		{name: "plenty", free: 1 << 30},
		{name: "at_threshold", free: minFree},
		{name: "below_threshold", free: minFree - 1, wantErr: true},
		{name: "unreadable", err: errors.New("statfs: no such file"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := diskReady(func() (uint64, error) { return tt.free, tt.err }, minFree)
			if (err != nil) != tt.wantErr {
				t.Errorf("diskReady(%d free, %v) = %v, want error %t", tt.free, tt.err, err, tt.wantErr)
			}
		})
	}
}

// smallFileSystem mounts a tmpfs of size bytes for t, or skips: mounting
// needs root (CAP_SYS_ADMIN), which CI containers often have and laptops
// do not. A real full file system is the point: SQLite's behaviour on
// ENOSPC (what fails, what a checkpoint needs) is not something a fake
// free-space probe can show.
func smallFileSystem(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file at path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("create filler: %v", err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			return
		}
	}
}

// TestDiskFullRecovers fills the file system under a serving SQLite node:
// /readyz says so (and writes fail with 503, never a 500 or a lie), and
// once the space is freed the node serves again without a restart.
func TestDiskFullRecovers(t *testing.T) {
	dir := smallFileSystem(t, "32m")
	n := startNodes(t, []string{"D"}, "sqlite:"+filepath.Join(dir, "g.db"), "--rate-limit=false", "--sqlite-min-free-mib=8")[0]
	before := must(t, "register with room", n.register(randomEmail("disk")), http.StatusCreated)
	waitReady(t, n, http.StatusOK, 5*time.Second)

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	r := waitReady(t, n, http.StatusServiceUnavailable, 5*time.Second)
	if r.header.Get("Retry-After") == "" {
		t.Errorf("GET /readyz on a full disk: 503 without Retry-After")
	}
	for i := range 5 {
		r := n.register(randomEmail("full"))
		if r.err != nil || (r.status != http.StatusCreated && r.status != http.StatusServiceUnavailable) {
			t.Fatalf("register #%d on a full disk: got %v, want 201 or 503", i, r)
		}
	}
	must(t, "verify on a full disk", n.verify(before.str("access")), http.StatusOK)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitReady(t, n, http.StatusOK, 5*time.Second)
	after := must(t, "register after space was freed", n.register(randomEmail("freed")), http.StatusCreated)
	must(t, "verify after space was freed", n.verify(after.str("access")), http.StatusOK)
}
