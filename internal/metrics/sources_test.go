package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The clock offset and free disk space are read at scrape time, so an
// alert sees the node's state as of the scrape.
func TestClockAndDiskGauges(t *testing.T) {
	tests := []struct {
		name string
		src  Sources
		want string
	}{
		{
			name: "clock_behind",
			src:  Sources{ClockOffset: func() time.Duration { return -1500 * time.Millisecond }},
			want: "gatehouse_clock_offset_seconds -1.5\n",
		},
		{
			name: "disk_free",
			src:  Sources{DiskFree: func() (uint64, error) { return 4 << 20, nil }},
			want: "gatehouse_disk_free_bytes 4.194304e+06\n",
		},
		{
			name: "disk_unreadable",
			src:  Sources{DiskFree: func() (uint64, error) { return 0, errors.New("statfs failed") }},
			want: "gatehouse_disk_free_bytes -1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			New(reg, tt.src)
			name := strings.Fields(tt.want)[0]
			want := "# HELP " + name + " " + help(t, reg, name) + "\n# TYPE " + name + " gauge\n" + tt.want
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), name); err != nil {
				t.Errorf("gauge %s: %v", name, err)
			}
		})
	}
}

// help returns the registered help text of metric name.
func help(t *testing.T, reg *prometheus.Registry, name string) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetHelp()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return ""
}
