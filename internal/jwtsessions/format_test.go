package jwtsessions

import "testing"

func TestNamespace(t *testing.T) {
	tests := []struct {
		tmpl    string
		bad     bool
		pattern string // of prefix "jwt_"
		ns      string
		userID  string // "" if ns names none
	}{
		{tmpl: "user_{id}", pattern: "jwt__user_*_refresh_*", ns: "user_42", userID: "42"},
		{tmpl: "{id}", pattern: "jwt__*_refresh_*", ns: "42", userID: "42"},
		{tmpl: "acct[{id}]*", pattern: `jwt__acct\[*\]\*_refresh_*`, ns: "acct[7]*", userID: "7"},
		{tmpl: "user_{id}", pattern: "jwt__user_*_refresh_*", ns: "admin_42"},
		{tmpl: "user_{id}", pattern: "jwt__user_*_refresh_*", ns: "user_"},
		{tmpl: "user", bad: true},
		{tmpl: "{id}_{id}", bad: true},
		{tmpl: "x_refresh_{id}", bad: true},
	}
	for _, tt := range tests {
		n, err := ParseNamespace(tt.tmpl)
		if (err != nil) != tt.bad {
			t.Errorf("ParseNamespace(%q) = %v, want an error: %v", tt.tmpl, err, tt.bad)
		}
		if tt.bad {
			continue
		}
		if got := n.refreshPattern("jwt_"); got != tt.pattern {
			t.Errorf("ParseNamespace(%q).refreshPattern(jwt_) = %q, want %q", tt.tmpl, got, tt.pattern)
		}
		if id, ok := n.userID(tt.ns); id != tt.userID || ok != (tt.userID != "") {
			t.Errorf("ParseNamespace(%q).userID(%q) = %q, %v; want %q", tt.tmpl, tt.ns, id, ok, tt.userID)
		}
	}
}
