package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type sessionResponse struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
	Current    bool   `json:"current"`
	Pending    bool   `json:"pending"`
	authLevel
}

// handleListSessions: GET /v1/auth/sessions → the caller's live sessions,
// newest first.
func (s *server) handleListSessions(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	list, err := s.svc.Sessions(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]sessionResponse, len(list))
	for i, si := range list {
		out[i] = sessionResponse{
			ID:         si.ID,
			CreatedAt:  si.CreatedAt.UTC().Format(time.RFC3339),
			LastUsedAt: si.LastUsedAt.UTC().Format(time.RFC3339),
			ExpiresAt:  si.ExpiresAt.UTC().Format(time.RFC3339),
			IP:         si.IP,
			UserAgent:  si.UserAgent,
			Current:    si.Current,
			Pending:    si.Pending,
			authLevel:  authLevelOf(si.Methods, si.AuthenticatedAt),
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleRevokeSession: DELETE /v1/auth/sessions/{id}.
func (s *server) handleRevokeSession(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.svc.RevokeSession(r.Context(), p, r.PathValue("id"), s.client(r)); err != nil {
		return err
	}
	if r.PathValue("id") == p.SessionID {
		s.clearCookie(w)
	}
	writeOK(w, http.StatusOK)
	return nil
}

// handleRevokeSessions: DELETE /v1/auth/sessions?scope=others|all.
func (s *server) handleRevokeSessions(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	scope := r.URL.Query().Get("scope")
	if scope != "others" && scope != "all" {
		return apiError(auth.CodeBadRequest, `Query parameter scope must be "others" or "all"`)
	}
	if err := s.svc.RevokeOtherSessions(r.Context(), p, scope == "all", s.client(r)); err != nil {
		return err
	}
	if scope == "all" {
		s.clearCookie(w)
	}
	writeOK(w, http.StatusOK)
	return nil
}
