package main

import (
	"bytes"
	"regexp"
	"runtime"
	"testing"
)

// TestVersion: --version and the version command print the version, the
// commit and the Go version; values set at link time win over what the
// toolchain stamped (the container test links them for real).
func TestVersion(t *testing.T) {
	defer func(v, c string) { buildVersion, buildCommit = v, c }(buildVersion, buildCommit)
	tests := []struct {
		name            string
		args            []string
		version, commit string
		want            string
	}{
		{name: "flag", args: []string{"--version"}, want: `^gatehouse \S+ \(commit \S+, ` + regexp.QuoteMeta(runtime.Version()) + `\)\n$`},
		{name: "single_dash", args: []string{"-version"}, want: `^gatehouse \S+ \(commit \S+, go`},
		{name: "command", args: []string{"version"}, want: `^gatehouse \S+ \(commit \S+, go`},
		{name: "linked", args: []string{"--version"}, version: "v1.4.0", commit: "0123abc", want: `^gatehouse v1\.4\.0 \(commit 0123abc, go`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buildVersion, buildCommit = tt.version, tt.commit
			var out bytes.Buffer
			if err := run(t.Context(), tt.args, func(string) string { return "" }, noStdin, &out, &out); err != nil {
				t.Fatalf("run(%q): %v", tt.args, err)
			}
			if !regexp.MustCompile(tt.want).MatchString(out.String()) {
				t.Errorf("run(%q): got %q, want a match for %s", tt.args, out.String(), tt.want)
			}
		})
	}
}
