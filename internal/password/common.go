package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonText is the 30,000 most common passwords from zxcvbn 4.4.2, one per
// line, lower case. See COMMON_PASSWORDS.md for its origin and licence.
//
//go:embed common-passwords.txt
var commonText string

// commonSet is built on first use rather than at init so that programs
// which import the package but never check passwords (migrations, tools)
// do not pay for a 30,000-entry map. It is never written after that.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(commonText, "\n"))
	for line := range strings.Lines(commonText) {
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			set[strings.ToLower(line)] = struct{}{}
		}
	}
	return set
})

// IsCommon reports whether pw, ignoring case, is on the embedded list of
// commonly used passwords. NIST SP 800-63B requires rejecting such passwords
// at registration and password change, since they are the first guesses of
// any online or offline attack.
func IsCommon(pw string) bool {
	_, ok := commonSet()[strings.ToLower(pw)]
	return ok
}

// CommonCount returns the number of entries on the embedded list.
func CommonCount() int { return len(commonSet()) }
