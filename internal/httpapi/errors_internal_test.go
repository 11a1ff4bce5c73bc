package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// A change whose outcome is unknown is a 503 like any temporary failure,
// but with its own code, so a client can tell "nothing happened, retry"
// from "it may have happened, retry the safe way" (docs/api.md).
func TestWriteError_OutcomeUnknown(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	s := &server{log: slog.New(slog.DiscardHandler)}
	s.writeError(rec, httptest.NewRequest("POST", "/v1/auth", nil), auth.ErrOutcomeUnknown)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("writeError(ErrOutcomeUnknown): status %d, Retry-After %q; want 503, 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	if want := `"code":"outcome_unknown"`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("writeError(ErrOutcomeUnknown) body = %s, want it to hold %s", rec.Body.String(), want)
	}
}

// TestStatusOfEveryCode: every code the domain can return has its one
// status, and the table holds no code the domain does not know. A code
// missing from statusOf would otherwise reach clients as a 503.
func TestStatusOfEveryCode(t *testing.T) {
	t.Parallel()
	codes := auth.Codes()
	for _, code := range codes {
		if statusOf[code] == 0 {
			t.Errorf("statusOf[%q] is missing", code)
		}
	}
	if len(statusOf) != len(codes) {
		t.Errorf("statusOf has %d codes, auth.Codes() %d: a code left the domain but not the table", len(statusOf), len(codes))
	}
}
