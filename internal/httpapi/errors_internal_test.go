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
	writeError(rec, httptest.NewRequest("POST", "/v1/auth", nil), slog.New(slog.DiscardHandler), auth.ErrOutcomeUnknown)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("writeError(ErrOutcomeUnknown): status %d, Retry-After %q; want 503, 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	if want := `"code":"outcome_unknown"`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("writeError(ErrOutcomeUnknown) body = %s, want it to hold %s", rec.Body.String(), want)
	}
}
