package httpapi

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

// The passkey endpoints speak the JSON of the browser's WebAuthn API: a
// begin answers {"publicKey": …} for
// PublicKeyCredential.parseCreationOptionsFromJSON (or
// parseRequestOptionsFromJSON), binary fields base64url; a finish takes
// the body of credential.toJSON() as it is. The challenge inside that
// body names the ceremony, so nothing else travels.

// errPasskeysOff answers every passkey endpoint of a server run without
// a relying party (--webauthn-rp-id or --public-url).
var errPasskeysOff = apiError(auth.CodeNotFound, "Passkeys are not enabled on this server")

type passkeyNameRequest struct {
	Name string `json:"name"`
}

type passkeyResponse struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	CreatedAt      string   `json:"created_at"`
	LastUsedAt     *string  `json:"last_used_at"`
	Transports     []string `json:"transports"`
	BackupEligible bool     `json:"backup_eligible"`
	BackedUp       bool     `json:"backed_up"`
}

func passkeyJSON(c *passkey.Credential) passkeyResponse {
	out := passkeyResponse{
		ID:             base64.RawURLEncoding.EncodeToString(c.ID),
		Name:           c.Name,
		CreatedAt:      c.CreatedAt.UTC().Format(time.RFC3339),
		Transports:     c.Transports,
		BackupEligible: c.BackupEligible,
		BackedUp:       c.BackedUp,
	}
	if out.Transports == nil {
		out.Transports = []string{}
	}
	if !c.LastUsedAt.IsZero() {
		used := c.LastUsedAt.UTC().Format(time.RFC3339)
		out.LastUsedAt = &used
	}
	return out
}

// passkeys wraps a passkey handler: errPasskeysOff when they are off.
func (s *server) passkeys(h func(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error) handler {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if s.pk == nil {
			return errPasskeysOff
		}
		return h(w, r, p, s.pk)
	}
}

// handleBeginPasskeyRegistration: POST /v1/auth/passkeys/register/begin
// {"name"} → the creation options.
func handleBeginPasskeyRegistration(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error {
	var req passkeyNameRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	creation, err := pk.BeginRegistration(r.Context(), p, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, creation)
	return nil
}

// handleFinishPasskeyRegistration: POST
// /v1/auth/passkeys/register/finish <credential> → 201 the new passkey.
func (s *server) handleFinishPasskeyRegistration(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error {
	body, err := readNested(r)
	if err != nil {
		return err
	}
	c, err := pk.FinishRegistration(r.Context(), p, body, s.client(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, passkeyJSON(c))
	return nil
}

// handleListPasskeys: GET /v1/auth/passkeys → the caller's passkeys,
// oldest first.
func handleListPasskeys(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error {
	list, err := pk.List(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]passkeyResponse, len(list))
	for i := range list {
		out[i] = passkeyJSON(&list[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleRenamePasskey: PUT /v1/auth/passkeys/{id} {"name"}.
func (s *server) handleRenamePasskey(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error {
	var req passkeyNameRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := pk.Rename(r.Context(), p, r.PathValue("id"), req.Name, s.client(r)); err != nil {
		return err
	}
	writeOK(w, http.StatusOK)
	return nil
}

// handleDeletePasskey: DELETE /v1/auth/passkeys/{id}.
func (s *server) handleDeletePasskey(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error {
	if err := pk.Delete(r.Context(), p, r.PathValue("id"), s.client(r)); err != nil {
		return err
	}
	writeOK(w, http.StatusOK)
	return nil
}

// handleBeginPasskeySignIn: POST /v1/auth/passkeys/sign_in/begin → the
// request options of a passwordless sign-in (no body).
func (s *server) handleBeginPasskeySignIn(w http.ResponseWriter, r *http.Request, _ *auth.Principal, pk *passkey.Service) error {
	assertion, err := pk.BeginSignIn(r.Context(), s.client(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, assertion)
	return nil
}

// handleFinishPasskeySignIn: POST /v1/auth/passkeys/sign_in/finish
// <credential> → a session, answered exactly as a sign-in is.
func (s *server) handleFinishPasskeySignIn(w http.ResponseWriter, r *http.Request, _ *auth.Principal, pk *passkey.Service) error {
	body, err := readNested(r)
	if err != nil {
		return err
	}
	g, err := pk.FinishSignIn(r.Context(), body, s.client(r))
	if err != nil {
		return err
	}
	s.writeGrant(w, r, http.StatusOK, g)
	return nil
}

// handleBeginPasskeyAssertion serves the begins of the second step of a
// pending sign-in and of a step-up: the request options listing the
// user's passkeys (no body).
func handleBeginPasskeyAssertion(kind passkey.Kind) func(http.ResponseWriter, *http.Request, *auth.Principal, *passkey.Service) error {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error {
		assertion, err := pk.BeginAssertion(r.Context(), p, kind)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, assertion)
		return nil
	}
}

// handleFinishPasskeySecondFactor: POST
// /v1/auth/passkeys/second_factor/finish <credential> → the completed
// session's credentials, as a sign-in answers.
func (s *server) handleFinishPasskeySecondFactor(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error {
	body, err := readNested(r)
	if err != nil {
		return err
	}
	g, err := pk.FinishSecondFactor(r.Context(), p, body, s.client(r))
	if err != nil {
		return err
	}
	s.writeGrant(w, r, http.StatusOK, g)
	return nil
}

// handleFinishPasskeyStepUp: POST /v1/auth/passkeys/reauthenticate/finish
// <credential> → "ok": the session has proven its user afresh.
func (s *server) handleFinishPasskeyStepUp(w http.ResponseWriter, r *http.Request, p *auth.Principal, pk *passkey.Service) error {
	body, err := readNested(r)
	if err != nil {
		return err
	}
	if err := pk.FinishStepUp(r.Context(), p, body, s.client(r)); err != nil {
		return err
	}
	writeOK(w, http.StatusOK)
	return nil
}
