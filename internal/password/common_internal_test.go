package password

import (
	"strings"
	"testing"
)

// TestCommonListFile checks the embedded file is what COMMON_PASSWORDS.md
// says: one lower-case entry per line, no blanks, no duplicates, all loaded.
func TestCommonListFile(t *testing.T) {
	t.Parallel()
	if !strings.HasSuffix(commonText, "\n") {
		t.Errorf("common-passwords.txt does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(commonText, "\n"), "\n")
	seen := make(map[string]bool, len(lines))
	for i, line := range lines {
		switch {
		case line == "" || strings.ContainsAny(line, "\r\t "):
			t.Errorf("line %d = %q, want a non-empty entry without whitespace", i+1, line)
		case line != strings.ToLower(line):
			t.Errorf("line %d = %q, want lower case", i+1, line)
		case seen[line]:
			t.Errorf("line %d = %q is a duplicate", i+1, line)
		case !IsCommon(strings.ToUpper(line)):
			t.Errorf("IsCommon(%q) = false for line %d", strings.ToUpper(line), i+1)
		}
		seen[line] = true
	}
	if got := CommonCount(); got != len(lines) {
		t.Errorf("CommonCount() = %d, want %d (lines in file)", got, len(lines))
	}
}
