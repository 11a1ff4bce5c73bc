package httpapi

import (
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/csrf"
)

// credential is the access token a request presents and how it came.
type credential struct {
	token      string
	fromCookie bool
}

// credentialOf finds the access token of r. The Authorization header wins
// (bare or "Bearer": the last whitespace-separated piece counts, as in the
// gem); a header that is not a three-part JWT is ignored and the cookie is
// used instead.
func (s *server) credentialOf(r *http.Request) (credential, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok := lastField(h); strings.Count(tok, ".") == 2 {
			return credential{token: tok}, true
		}
	}
	if c, err := r.Cookie(s.cookieName); err == nil && c.Value != "" {
		return credential{token: c.Value, fromCookie: true}, true
	}
	return credential{}, false
}

// lastField is the last element strings.Fields(h) would return ("" for
// none), without building the slice: it runs on every authenticated
// request. The header is ASCII nearly always, and read byte by byte from
// the end; a non-ASCII byte in the last field or after it (which could be
// Unicode white space) hands the whole header to the rune-wise reading.
func lastField(h string) string {
	end := len(h)
	for end > 0 && asciiSpace[h[end-1]] {
		end--
	}
	start := end
	for ; start > 0 && !asciiSpace[h[start-1]]; start-- {
		if h[start-1] >= utf8.RuneSelf {
			return lastFieldUnicode(h)
		}
	}
	return h[start:end]
}

// asciiSpace is the ASCII white space of unicode.IsSpace.
var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

func lastFieldUnicode(h string) string {
	h = strings.TrimRightFunc(h, unicode.IsSpace)
	i := strings.LastIndexFunc(h, unicode.IsSpace)
	if i < 0 {
		return h
	}
	_, size := utf8.DecodeRuneInString(h[i:])
	return h[i+size:]
}

// safeMethod reports whether a cookie-authenticated request may skip the
// CSRF check: methods that must not change state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// tokenTransport reports whether the client asked for tokens in the body
// instead of a cookie.
func tokenTransport(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("X-Auth-Transport"), "token")
}

type tokenBody struct {
	CSRF             string `json:"csrf"`
	Access           string `json:"access"`
	AccessExpiresAt  string `json:"access_expires_at"`
	Refresh          string `json:"refresh"`
	RefreshExpiresAt string `json:"refresh_expires_at"`
	secondStep
}

type csrfBody struct {
	CSRF string `json:"csrf"`
	secondStep
}

// secondStep is what a pending sign-in adds to its grant: that a second
// factor must finish it, and which. Absent from every other grant, so a
// user without a second factor gets the seed's bodies byte for byte.
type secondStep struct {
	MFARequired   bool          `json:"mfa_required,omitempty"`
	SecondFactors []auth.Method `json:"second_factors,omitempty"`
}

func secondStepOf(g *auth.Grant) secondStep {
	return secondStep{MFARequired: len(g.SecondFactors) > 0, SecondFactors: g.SecondFactors}
}

// writeGrant answers a successful register, sign-in, refresh or password
// change: a cookie and {"csrf"} by default, or the tokens in the body for
// clients that sent X-Auth-Transport: token.
func (s *server) writeGrant(w http.ResponseWriter, r *http.Request, status int, g *auth.Grant) {
	masked := csrf.Mask(g.CSRFSecret)
	if tokenTransport(r) {
		writeJSON(w, status, tokenBody{
			CSRF:             masked,
			Access:           g.AccessToken,
			AccessExpiresAt:  g.AccessExpiresAt.UTC().Format(time.RFC3339),
			Refresh:          g.RefreshToken,
			RefreshExpiresAt: g.RefreshExpiresAt.UTC().Format(time.RFC3339),
			secondStep:       secondStepOf(g),
		})
		return
	}
	// The cookie lives as long as the session, not the access token, so
	// an expired access token can still be sent to /refresh.
	maxAge := int(g.RefreshExpiresAt.Sub(s.now()) / time.Second)
	if maxAge < 1 {
		maxAge = 1
	}
	http.SetCookie(w, s.cookie(g.AccessToken, maxAge))
	writeJSON(w, status, csrfBody{CSRF: masked, secondStep: secondStepOf(g)})
}

func (s *server) clearCookie(w http.ResponseWriter) {
	c := s.cookie("", -1) // net/http writes MaxAge<0 as Max-Age=0
	http.SetCookie(w, c)
}

func (s *server) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     s.cookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.cookieSecure,
		SameSite: s.cookieSameSite,
	}
}
