package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const goodPassword = "6JzwdrAeiTeDrL"

// An address of exactly 254 bytes (the limit): a 64-byte local part and
// a domain of 189.
var (
	longestEmail  = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
	tooLongEmail  = "x" + longestEmail[1:64] + "@" + "e" + longestEmail[65:]
	tooLongPasswd = strings.Repeat("aB3$", 64) + "z" // 257 characters
)

// TestRegister_Validation: every refusal is a 422 whose error joins the
// Rails full messages with a space and whose details list them by field;
// nothing is created, so the credentials do not sign in afterwards.
func TestRegister_Validation(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	ts.register(t, seedEmail, seedPassword)
	if len(tooLongEmail) != 255 || len(longestEmail) != 254 {
		t.Fatalf("test data: got emails of %d and %d bytes, want 255 and 254", len(tooLongEmail), len(longestEmail))
	}
	type row struct {
		name             string
		email            string
		password         string
		confirmation     string // defaults to password
		omitConfirmation bool
		wantError        string
		wantDetails      map[string][]string
	}
	invalid := func(name, email string) row {
		return row{name: name, email: email, password: goodPassword,
			wantError: "Email is invalid", wantDetails: map[string][]string{"email": {"is invalid"}}}
	}
	tests := []row{
		{name: "email_blank", email: "", password: goodPassword, wantError: "Email can't be blank", wantDetails: map[string][]string{"email": {"can't be blank"}}},
		{name: "email_only_spaces", email: "   ", password: goodPassword, wantError: "Email can't be blank", wantDetails: map[string][]string{"email": {"can't be blank"}}},
		invalid("email_no_at", "no-at"),
		invalid("email_no_dot_in_domain", "a@b"),
		invalid("email_one_letter_tld", "a@b.c"),
		invalid("email_numeric_tld", "a@b.123"),
		invalid("email_space_inside", "a b@c.de"),
		invalid("email_quoted_local_part", `"q"@x.com`),
		invalid("email_ip_literal", "a@[1.2.3.4]"),
		invalid("email_display_name", "Name <a@b.co>"),
		invalid("email_comment", "a(comment)@b.co"),
		invalid("email_double_dot", "a..b@c.de"),
		invalid("email_leading_dot", ".a@c.de"),
		invalid("email_two_addresses", "a@b.co,c@d.co"),
		invalid("email_two_ats", "a@b@c.de"),
		invalid("email_newline", "a@b.co\nBcc: c@d.co"),
		invalid("email_local_part_65_bytes", strings.Repeat("l", 65)+"@example.com"),
		invalid("email_non_ascii", "jörg@example.com"),
		{
			name: "email_255_bytes", email: tooLongEmail, password: goodPassword,
			wantError: "Email is too long (maximum is 254 characters)", wantDetails: map[string][]string{"email": {"is too long (maximum is 254 characters)"}},
		},
		{
			name: "email_taken", email: seedEmail, password: "another-pass-9",
			wantError: "Email has already been taken", wantDetails: map[string][]string{"email": {"has already been taken"}},
		},
		{
			name: "email_taken_other_case_and_spaces", email: " Chelsey@Prohaska.NAME ", password: "another-pass-9",
			wantError: "Email has already been taken", wantDetails: map[string][]string{"email": {"has already been taken"}},
		},
		{
			name: "password_blank", email: "blank@example.com", password: "",
			wantError:   "Password can't be blank Password confirmation can't be blank",
			wantDetails: map[string][]string{"password": {"can't be blank"}, "password_confirmation": {"can't be blank"}},
		},
		{
			name: "password_too_short", email: "short@example.com", password: "Xy7#kQ2",
			wantError: "Password is too short (minimum is 8 characters)", wantDetails: map[string][]string{"password": {"is too short (minimum is 8 characters)"}},
		},
		{
			// 7 characters in 11 bytes: the minimum counts characters.
			name: "password_too_short_multibyte", email: "short.mb@example.com", password: "ñandú€7",
			wantError: "Password is too short (minimum is 8 characters)", wantDetails: map[string][]string{"password": {"is too short (minimum is 8 characters)"}},
		},
		{
			name: "password_too_long", email: "long@example.com", password: tooLongPasswd,
			wantError: "Password is too long (maximum is 256 characters)", wantDetails: map[string][]string{"password": {"is too long (maximum is 256 characters)"}},
		},
		{
			name: "password_common", email: "common@example.com", password: "password123",
			wantError: "Password is too common", wantDetails: map[string][]string{"password": {"is too common"}},
		},
		{
			name: "password_common_other_case", email: "common.case@example.com", password: "PassWord123",
			wantError: "Password is too common", wantDetails: map[string][]string{"password": {"is too common"}},
		},
		{
			name: "password_is_the_email", email: "dana.scully@example.com", password: "Dana.Scully@Example.com",
			wantError: "Password can't be your email address", wantDetails: map[string][]string{"password": {"can't be your email address"}},
		},
		{
			name: "password_is_the_local_part", email: "longlocalpart@example.com", password: "LongLocalPart",
			wantError: "Password can't be your email address", wantDetails: map[string][]string{"password": {"can't be your email address"}},
		},
		{
			name: "confirmation_missing", email: "noconfirm@example.com", password: goodPassword, omitConfirmation: true,
			wantError: "Password confirmation can't be blank", wantDetails: map[string][]string{"password_confirmation": {"can't be blank"}},
		},
		{
			name: "confirmation_mismatch", email: "mismatch@example.com", password: goodPassword, confirmation: goodPassword + "x",
			wantError: "Password confirmation doesn't match Password", wantDetails: map[string][]string{"password_confirmation": {"doesn't match Password"}},
		},
		{
			name: "confirmation_differs_by_trailing_space", email: "space@example.com", password: goodPassword, confirmation: goodPassword + " ",
			wantError: "Password confirmation doesn't match Password", wantDetails: map[string][]string{"password_confirmation": {"doesn't match Password"}},
		},
		{
			name: "several_errors", email: "", password: "short", confirmation: "other",
			wantError: "Email can't be blank Password is too short (minimum is 8 characters) Password confirmation doesn't match Password",
			wantDetails: map[string][]string{
				"email":                 {"can't be blank"},
				"password":              {"is too short (minimum is 8 characters)"},
				"password_confirmation": {"doesn't match Password"},
			},
		},
		{
			name: "invalid_email_and_common_password", email: "a@b", password: "password123",
			wantError:   "Email is invalid Password is too common",
			wantDetails: map[string][]string{"email": {"is invalid"}, "password": {"is too common"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			confirmation := tt.confirmation
			if confirmation == "" {
				confirmation = tt.password
			}
			body := registration(tt.email, tt.password, confirmation)
			if tt.omitConfirmation {
				body = credentials(tt.email, tt.password)
			}
			resp := ts.do(t, request{method: "POST", path: "/v1/auth", body: body})
			e := wantError(t, resp, http.StatusUnprocessableEntity, "validation_failed")
			if e.Error != tt.wantError {
				t.Errorf("%s: got error %q, want %q", resp.call, e.Error, tt.wantError)
			}
			if diff := cmp.Diff(tt.wantDetails, e.Details); diff != "" {
				t.Errorf("%s: details mismatch (-want +got):\n%s", resp.call, diff)
			}
			if sc := resp.header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("%s: got Set-Cookie %q, want none", resp.call, sc)
			}
			signIn := ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials(tt.email, tt.password)})
			wantError(t, signIn, http.StatusUnauthorized, "invalid_credentials")
		})
	}
}

// TestRegister_Accepted: what registration takes, and that the password
// is then checked byte for byte as sent: no trimming, no normalization,
// no truncation.
func TestRegister_Accepted(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	long := strings.Repeat("0123456789", 7) + "ab-this-part-comes-after-byte-72"
	tests := []struct {
		name       string
		email      string
		password   string
		wantEmail  string
		wrongTwins []string // passwords that must not sign in
	}{
		{name: "seed", email: seedEmail, password: seedPassword, wantEmail: seedEmail, wrongTwins: []string{strings.ToLower(seedPassword), seedPassword[:13]}},
		{name: "email_normalized", email: "  MiXeD@Example.COM\t", password: goodPassword, wantEmail: "mixed@example.com"},
		{name: "email_254_bytes", email: longestEmail, password: goodPassword, wantEmail: longestEmail},
		{name: "email_plus_and_subdomain", email: "a+tag_1@mail.example.co.uk", password: goodPassword, wantEmail: "a+tag_1@mail.example.co.uk"},
		{name: "password_8_characters", email: "eight@example.com", password: "k9#Lm2$q", wantEmail: "eight@example.com"},
		{
			// 8 characters in 14 bytes.
			name: "password_8_unicode_characters", email: "unicode@example.com", password: "ünïcödé!", wantEmail: "unicode@example.com",
			wrongTwins: []string{"unicode!", "u\u0308nïcödé!"},
		},
		{name: "password_256_characters", email: "longest@example.com", password: tooLongPasswd[:256], wantEmail: "longest@example.com"},
		{
			name: "password_surrounding_spaces_kept", email: "spaces@example.com", password: "  padded secret  ", wantEmail: "spaces@example.com",
			wrongTwins: []string{"padded secret", "  padded secret"},
		},
		{
			name: "password_over_72_bytes_not_truncated", email: "bcrypt.limit@example.com", password: long, wantEmail: "bcrypt.limit@example.com",
			wrongTwins: []string{long[:72], long[:72] + "X"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ts.register(t, tt.email, tt.password)
			if got := decode[meBody](t, ts.do(t, s.viaHeader("GET", "/v1/auth/me"))).Email; got != tt.wantEmail {
				t.Errorf("GET /v1/auth/me after registering %q: got email %q, want %q", tt.email, got, tt.wantEmail)
			}
			ts.signIn(t, tt.email, tt.password)
			ts.signIn(t, strings.ToUpper(tt.wantEmail), tt.password)
			for _, pw := range tt.wrongTwins {
				resp := ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials(tt.email, pw)})
				if resp.status != http.StatusUnauthorized {
					t.Errorf("%s with password %q (registered %q): got status %d, want 401", resp.call, pw, tt.password, resp.status)
				}
			}
		})
	}
}

// TestSignIn_Failures: an unknown email, a wrong password and a locked
// account get the very same answer, so it tells nothing about accounts.
func TestSignIn_Failures(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	ts.register(t, "known@example.com", goodPassword)
	locked := ts.register(t, "locked@example.com", goodPassword)
	if err := ts.store.SetLocked(context.Background(), claimsOf(t, locked.access).UserID, ts.clock.Now()); err != nil {
		t.Fatalf("SetLocked: %v", err)
	}
	const want = `{"error":"Not authorized","code":"invalid_credentials"}`
	tests := []struct {
		name string
		body string
	}{
		{name: "unknown_email", body: credentials("unknown@example.com", goodPassword)},
		{name: "wrong_password", body: credentials("known@example.com", goodPassword+"x")},
		{name: "password_other_case", body: credentials("known@example.com", strings.ToUpper(goodPassword))},
		{name: "locked_user_right_password", body: credentials("locked@example.com", goodPassword)},
		{name: "empty_password", body: credentials("known@example.com", "")},
		{name: "password_missing", body: jsonObject("email", "known@example.com")},
		{name: "null_values", body: `{"email":null,"password":null}`},
		{name: "empty_object", body: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: tt.body})
			wantBody(t, resp, http.StatusUnauthorized, want)
			if sc := resp.header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("%s: got Set-Cookie %q, want none", resp.call, sc)
			}
		})
	}
}
