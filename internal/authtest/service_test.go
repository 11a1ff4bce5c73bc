package authtest

import (
	"fmt"
	"strings"
	"testing"
)

// fakeTB records how RequireService ends a test. Its Fatalf and Skipf panic
// to stop the caller, as the real ones stop the test goroutine.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	panic(f)
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	panic(f)
}

// requireService calls RequireService on a fakeTB and reports what it did.
func requireService(envVar string) (value string, tb *fakeTB) {
	tb = &fakeTB{}
	defer func() {
		if r := recover(); r != nil && r != tb {
			panic(r)
		}
	}()
	return RequireService(tb, envVar), tb
}

func TestRequireService(t *testing.T) {
	const envVar = "GATEHOUSE_TEST_AUTHTEST_URL"
	tests := []struct {
		name      string
		value, ci string
		want      string
		wantSkip  bool
		wantFatal bool
	}{
		{name: "Set", value: "postgres://localhost/test", want: "postgres://localhost/test"},
		{name: "SetInCI", value: "redis://localhost:6379/0", ci: "true", want: "redis://localhost:6379/0"},
		{name: "UnsetSkips", wantSkip: true},
		{name: "UnsetInCIFails", ci: "true", wantFatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envVar, tt.value)
			t.Setenv("CI", tt.ci)
			got, tb := requireService(envVar)
			if got != tt.want {
				t.Errorf("RequireService(%s) = %q, want %q", envVar, got, tt.want)
			}
			if (tb.skip != "") != tt.wantSkip {
				t.Errorf("RequireService(%s) skipped with %q, want skip %v", envVar, tb.skip, tt.wantSkip)
			}
			if (tb.fatal != "") != tt.wantFatal {
				t.Errorf("RequireService(%s) failed with %q, want failure %v", envVar, tb.fatal, tt.wantFatal)
			}
			for _, msg := range []string{tb.skip, tb.fatal} {
				if msg != "" && !strings.Contains(msg, envVar) {
					t.Errorf("RequireService(%s) message %q does not name the variable", envVar, msg)
				}
			}
		})
	}
}

// The real *testing.T: an unset variable skips the test.
func TestRequireService_SkipsRealTest(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_AUTHTEST_URL", "")
	t.Setenv("CI", "")
	var skipped bool
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RequireService(t, "GATEHOUSE_TEST_AUTHTEST_URL")
		t.Errorf("RequireService returned with the variable unset")
	})
	if !skipped {
		t.Errorf("RequireService with GATEHOUSE_TEST_AUTHTEST_URL unset did not skip the test")
	}
}
