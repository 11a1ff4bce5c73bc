package auth

import (
	"errors"
	"fmt"
	"time"
)

// Code is a machine-readable error code. The set is closed and part of the
// public contract (docs/api.md): clients switch on it, so codes are never
// renamed.
type Code string

// The error codes of the API. httpapi maps each to exactly one HTTP status.
const (
	CodeBadRequest           Code = "bad_request"
	CodeNotAuthorized        Code = "not_authorized"
	CodeTokenExpired         Code = "token_expired"
	CodeCSRFInvalid          Code = "csrf_invalid"
	CodeInvalidCredentials   Code = "invalid_credentials"
	CodeTokenReused          Code = "token_reused"
	CodeForbidden            Code = "forbidden"
	CodeNotFound             Code = "not_found"
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodePayloadTooLarge      Code = "payload_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeValidationFailed     Code = "validation_failed"
	CodeRateLimited          Code = "rate_limited"
	CodeUnavailable          Code = "unavailable"
	CodeTokenInvalid         Code = "token_invalid"
	CodeEmailUnconfirmed     Code = "email_unconfirmed"
	CodeOutcomeUnknown       Code = "outcome_unknown"
	CodePositionExpired      Code = "position_expired"
	// Second factors (stepup.go).
	CodeMFARequired              Code = "mfa_required"
	CodeReauthenticationRequired Code = "reauthentication_required"
	CodeInsufficientAAL          Code = "insufficient_aal"
)

// Codes lists every code above, for the tests that check each has its
// status and its place in the API document.
func Codes() []Code {
	return []Code{
		CodeBadRequest, CodeNotAuthorized, CodeTokenExpired, CodeCSRFInvalid,
		CodeInvalidCredentials, CodeTokenReused, CodeForbidden, CodeNotFound,
		CodeMethodNotAllowed, CodePayloadTooLarge, CodeUnsupportedMediaType,
		CodeValidationFailed, CodeRateLimited, CodeUnavailable, CodeTokenInvalid,
		CodeEmailUnconfirmed, CodeOutcomeUnknown, CodePositionExpired,
		CodeMFARequired, CodeReauthenticationRequired, CodeInsufficientAAL,
	}
}

// Error is the one error type that crosses the API boundary. Message is
// safe to show to clients; Err, if set, is the internal cause and is only
// logged.
type Error struct {
	Code    Code
	Message string
	// Details holds per-field validation messages (Rails' errors.messages).
	Details map[string][]string
	// RetryAfter is sent as the Retry-After header when positive.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrX) match any *Error with the same code and
// message, so a sentinel still matches after it was copied to add a cause
// or a Retry-After.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == e.Message
}

// Sentinels returned by Service and the stores. Compare with errors.Is.
var (
	ErrNotAuthorized      = &Error{Code: CodeNotAuthorized, Message: "Not authorized"}
	ErrTokenExpired       = &Error{Code: CodeTokenExpired, Message: "Not authorized"}
	ErrCSRFInvalid        = &Error{Code: CodeCSRFInvalid, Message: "Not authorized"}
	ErrInvalidCredentials = &Error{Code: CodeInvalidCredentials, Message: "Not authorized"}
	ErrRefreshReused      = &Error{Code: CodeTokenReused, Message: "Not authorized"}
	ErrNotFound           = &Error{Code: CodeNotFound, Message: "Not found"}
	ErrUnavailable        = &Error{Code: CodeUnavailable, Message: "Service temporarily unavailable", RetryAfter: time.Second}
	ErrRateLimited        = &Error{Code: CodeRateLimited, Message: "Too many requests", RetryAfter: time.Second}
	// ErrOutcomeUnknown is returned by a store when a write may or may not
	// have committed: the connection failed after the statement or its
	// COMMIT may have reached the database. docs/api.md says how each
	// endpoint is retried safely.
	// ErrPositionExpired: a revocation stream position whose successors
	// were pruned (or that this database never had). The follower must
	// start over without a position and rebuild its state.
	ErrPositionExpired = &Error{Code: CodePositionExpired, Message: "Stream position expired; reconnect without a position to resync"}
	ErrOutcomeUnknown  = &Error{Code: CodeOutcomeUnknown, Message: "Service temporarily unavailable; the change may or may not have been made", RetryAfter: time.Second}

	// ErrEmailTaken is returned by UserStore when the normalized email
	// already belongs to a user.
	ErrEmailTaken = &Error{Code: CodeValidationFailed, Message: "Email has already been taken",
		Details: map[string][]string{"email": {"has already been taken"}}}
	// ErrTokenInvalid answers a mail link's token that is malformed,
	// forged, used, superseded, expired or outlived its password: the
	// client cannot tell which, and need not.
	ErrTokenInvalid = &Error{Code: CodeTokenInvalid, Message: "Reset token is invalid or has expired"}
	// ErrConfirmTokenInvalid is ErrTokenInvalid for a confirmation link.
	ErrConfirmTokenInvalid = &Error{Code: CodeTokenInvalid, Message: "Confirmation token is invalid or has expired"}
	// ErrEmailUnconfirmed refuses sign-in until the address is confirmed
	// (with --require-email-confirmation).
	ErrEmailUnconfirmed = &Error{Code: CodeEmailUnconfirmed, Message: "Email not confirmed"}
	// ErrOutboxFull is returned by MailStore.EnqueueMail when the backlog
	// is at its bound; clients see it as a temporary failure.
	ErrOutboxFull = &Error{Code: CodeUnavailable, Message: "Mail queue full, try again later", RetryAfter: time.Minute}
	// ErrMFARequired answers every request of a pending sign-in but
	// those that finish it or sign out.
	ErrMFARequired = &Error{Code: CodeMFARequired, Message: "Second factor required"}
	// ErrReauthenticationRequired refuses a dangerous change until the
	// session proves its user again (POST /v1/auth/reauthenticate).
	ErrReauthenticationRequired = &Error{Code: CodeReauthenticationRequired, Message: "Recent authentication required"}
	// ErrInsufficientAAL answers /verify?aal=N for a session below N.
	ErrInsufficientAAL = &Error{Code: CodeInsufficientAAL, Message: "Stronger authentication required"}
	// ErrNotPending answers an attempt to finish a sign-in that is not
	// waiting for a second factor.
	ErrNotPending = &Error{Code: CodeBadRequest, Message: "No sign-in is waiting for a second factor"}
	// ErrFactorInvalid is a second factor's secret that did not verify
	// (a wrong, used or expired code, an assertion that failed).
	ErrFactorInvalid = &Error{Code: CodeValidationFailed, Message: "Code is invalid",
		Details: map[string][]string{"code": {"is invalid"}}}
	// ErrSecondFactorNeeded refuses a password step-up of a user who has
	// a second factor.
	ErrSecondFactorNeeded = &Error{Code: CodeValidationFailed, Message: "Password is not enough: use a second factor",
		Details: map[string][]string{"password": {"is not enough: use a second factor"}}}
	// ErrPasswordInvalid is a wrong password at a step-up.
	ErrPasswordInvalid = &Error{Code: CodeValidationFailed, Message: "Password is invalid",
		Details: map[string][]string{"password": {"is invalid"}}}
	// ErrConflict is returned by SessionStore.RotateSession when the session
	// moved on (another refresh won) or was revoked in the meantime.
	ErrConflict = errors.New("auth: session changed concurrently")
)

// ErrorCode returns the code of err, or CodeUnavailable for an error that
// is not an *Error: anything unexpected (a dropped connection, a full disk)
// is reported as a temporary failure, never as success and never with
// internals.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeUnavailable
}

// Unavailable is unavailable for the packages beside auth (mfa,
// passkey) whose flows answer in auth's codes.
func Unavailable(err error) error { return unavailable(err) }

// unavailable wraps an internal cause as ErrUnavailable, keeping the cause
// for the logs.
func unavailable(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	u := *ErrUnavailable
	u.Err = err
	return &u
}
