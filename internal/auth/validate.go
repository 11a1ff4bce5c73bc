package auth

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/password"
)

const (
	maxEmailBytes    = 254 // RFC 5321 path limit
	maxLocalBytes    = 64
	maxPasswordChars = 256
	maxPasswordBytes = 1024
)

// validation collects Rails-style errors: per-field messages in details and
// "Attribute message" full messages in order.
type validation struct {
	full    []string
	details map[string][]string
}

func (v *validation) add(field, attribute, msg string) {
	if v.details == nil {
		v.details = map[string][]string{}
	}
	v.details[field] = append(v.details[field], msg)
	v.full = append(v.full, attribute+" "+msg)
}

func (v *validation) err() error {
	if len(v.full) == 0 {
		return nil
	}
	return &Error{Code: CodeValidationFailed, Message: strings.Join(v.full, " "), Details: v.details}
}

// NormalizeEmail trims and lower-cases an address, the form in which emails
// are stored and compared.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

func (v *validation) email(email string) {
	switch {
	case email == "":
		v.add("email", "Email", "can't be blank")
	case len(email) > maxEmailBytes:
		v.add("email", "Email", fmt.Sprintf("is too long (maximum is %d characters)", maxEmailBytes))
	case !validEmail(email):
		v.add("email", "Email", "is invalid")
	}
}

// validEmail accepts one bare address local@domain.tld: a dot-atom local
// part, and a domain of LDH labels ending in an alphabetic TLD. Quoted
// local parts, comments, display names and IP literals are refused on
// purpose: they are legal in RFC 5322 but are almost always a mistake or an
// attack on whatever later parses the address.
func validEmail(email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at > maxLocalBytes {
		return false
	}
	local, domain := email[:at], email[at+1:]
	if !dotAtom(local) {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !ldhLabel(l) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !isAlpha(tld[i]) {
			return false
		}
	}
	return true
}

func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && !strings.ContainsRune(".!#$%&'*+/=?^_`{|}~-", rune(c)) {
			return false
		}
	}
	return true
}

func ldhLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// password checks a new password as NIST SP 800-63B asks: a minimum
// length, a generous maximum, no composition rules, and not a common or
// context-specific (the email) value. It is checked as sent: no trimming,
// no normalization, no truncation.
func (v *validation) password(pw, email string, minChars int) {
	n := utf8.RuneCountInString(pw)
	lower := strings.ToLower(pw)
	local, _, _ := strings.Cut(email, "@")
	switch {
	case pw == "":
		v.add("password", "Password", "can't be blank")
	case n < minChars:
		v.add("password", "Password", fmt.Sprintf("is too short (minimum is %d characters)", minChars))
	case n > maxPasswordChars || len(pw) > maxPasswordBytes:
		v.add("password", "Password", fmt.Sprintf("is too long (maximum is %d characters)", maxPasswordChars))
	case email != "" && (lower == email || lower == local):
		v.add("password", "Password", "can't be your email address")
	case password.IsCommon(pw):
		v.add("password", "Password", "is too common")
	}
}

func (v *validation) confirmation(pw, confirmation string) {
	switch {
	case confirmation == "":
		v.add("password_confirmation", "Password confirmation", "can't be blank")
	case confirmation != pw:
		v.add("password_confirmation", "Password confirmation", "doesn't match Password")
	}
}
