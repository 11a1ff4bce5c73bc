package httpapi

import (
	"encoding/base64"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

type mfaStatusResponse struct {
	Factors           []auth.Method `json:"factors"`
	TOTPPending       bool          `json:"totp_pending"`
	RecoveryCodesLeft int           `json:"recovery_codes_left"`
}

// handleMFAStatus: GET /v1/auth/mfa → the caller's second factors.
func (s *server) handleMFAStatus(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	st, err := s.mfa.Status(r.Context(), p)
	if err != nil {
		return err
	}
	factors := st.Factors
	if factors == nil {
		factors = []auth.Method{}
	}
	writeJSON(w, http.StatusOK, mfaStatusResponse{Factors: factors, TOTPPending: st.TOTPPending, RecoveryCodesLeft: st.RecoveryCodesLeft})
	return nil
}

type enrolmentResponse struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
	QRPNG  string `json:"qr_png"` // base64 of the PNG
}

// handleEnrolTOTP: POST /v1/auth/mfa/totp → 201 a new secret, its
// otpauth:// URI and a QR code; it counts once confirmed. Step-up.
func (s *server) handleEnrolTOTP(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	en, err := s.mfa.EnrolTOTP(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, enrolmentResponse{Secret: en.Secret, URI: en.URI, QRPNG: base64.StdEncoding.EncodeToString(en.QRCode)})
	return nil
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryCodesResponse struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// handleConfirmTOTP: POST /v1/auth/mfa/totp/confirm {"code"} → TOTP on,
// and the ten recovery codes, shown this once.
func (s *server) handleConfirmTOTP(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req codeRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	codes, err := s.mfa.ConfirmTOTP(r.Context(), p, req.Code, s.client(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
	return nil
}

// handleDisableTOTP: DELETE /v1/auth/mfa/totp → "ok": TOTP off
// (step-up), or an enrolment not yet confirmed cancelled (no step-up).
func (s *server) handleDisableTOTP(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.mfa.DisableTOTP(r.Context(), p, s.client(r)); err != nil {
		return err
	}
	writeOK(w, http.StatusOK)
	return nil
}

// handleRecoveryCodes: POST /v1/auth/mfa/recovery_codes → ten new codes;
// the old ones stop working. Step-up.
func (s *server) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	codes, err := s.mfa.RegenerateRecoveryCodes(r.Context(), p, s.client(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
	return nil
}

type proofRequest struct {
	Method   auth.Method `json:"method"`
	Code     string      `json:"code"`
	Password string      `json:"password"`
}

// handleMFAVerify: POST /v1/auth/mfa/verify {"method": "totp" |
// "recovery_code", "code"} by a pending sign-in → the session, complete
// and with new credentials, answered as a sign-in.
func (s *server) handleMFAVerify(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req proofRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	g, err := s.mfa.Verify(r.Context(), p, mfa.Proof{Method: req.Method, Code: req.Code}, s.client(r))
	if err != nil {
		return err
	}
	s.writeGrant(w, r, http.StatusOK, g)
	return nil
}

// handleReauthenticate: POST /v1/auth/reauthenticate {"method",
// "password" | "code"} → "ok": a fresh proof for the dangerous changes
// (step-up). A user with a second factor must use it.
func (s *server) handleReauthenticate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req proofRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	err := s.mfa.Reauthenticate(r.Context(), p, mfa.Proof{Method: req.Method, Code: req.Code}, req.Password, s.device(r))
	if err != nil {
		return err
	}
	writeOK(w, http.StatusOK)
	return nil
}
