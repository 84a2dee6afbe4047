package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// Error is an OAuth 2.0 error response (RFC 6749 §5.2, OIDC Core §3.1.2.6).
type Error struct {
	Code        string // "invalid_grant"
	Description string // sent to the client
	Status      int    // 0 means 400
	Err         error  // the cause: logged, never sent
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Description, e.Err)
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) status() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

func newErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Error codes used here (RFC 6749 §4.1.2.1, §5.2; OIDC Core §3.1.2.6; RFC 6750 §3.1).
const (
	errInvalidRequest          = "invalid_request"
	errInvalidClient           = "invalid_client"
	errInvalidGrant            = "invalid_grant"
	errUnauthorizedClient      = "unauthorized_client"
	errUnsupportedGrantType    = "unsupported_grant_type"
	errUnsupportedResponseType = "unsupported_response_type"
	errInvalidScope            = "invalid_scope"
	errAccessDenied            = "access_denied"
	errServerError             = "server_error"
	errTemporarilyUnavailable  = "temporarily_unavailable"
	errLoginRequired           = "login_required"
	errConsentRequired         = "consent_required"
	errInvalidToken            = "invalid_token"
	errInsufficientScope       = "insufficient_scope"
	errRequestNotSupported     = "request_not_supported"
	errRequestURINotSupported  = "request_uri_not_supported"
	// RFC 8628 §3.5
	errAuthorizationPending = "authorization_pending"
	errSlowDown             = "slow_down"
	errExpiredToken         = "expired_token"
)

// statusClientClosed is the status logged and counted for a request
// whose client went away before it was answered (nginx's 499; no client
// sees it).
const statusClientClosed = 499

// unavailableRetry is the Retry-After sent with 503 temporarily_unavailable.
const unavailableRetry = 5 * time.Second

// asError turns any error into an *Error: protocol errors pass through,
// storage that cannot be reached becomes 503 temporarily_unavailable (RFC
// 6749 §4.1.2.1, §5.2 by extension) with a Retry-After, everything else
// server_error with a generic description.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) {
		// The request's context ends when its client closes the
		// connection (or the server shuts down): nothing went wrong here,
		// and no one reads the answer. A 500 logged at error level made every
		// client that gave up look like a server fault, in the log and in
		// the 5xx metrics.
		return &Error{Code: errServerError, Description: "The request was canceled.", Status: statusClientClosed, Err: err}
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return &Error{
			Code:        errTemporarilyUnavailable,
			Description: "The service is temporarily unavailable. Please try again later.",
			Status:      http.StatusServiceUnavailable,
			Err:         err,
			RetryAfter:  unavailableRetry,
		}
	}
	return &Error{Code: errServerError, Description: "The server could not complete the request.", Status: http.StatusInternalServerError, Err: err}
}

// logError records a failed request: client errors at info, server errors at
// error level. Only codes and descriptions are logged, never parameters.
func (p *Provider) logError(r *http.Request, e *Error) {
	level := slog.LevelInfo
	if e.status() >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("path", r.URL.Path),
		slog.String("error", e.Code),
		slog.String("description", e.Description),
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("cause", e.Err.Error()))
	}
	p.log.LogAttrs(r.Context(), level, "request failed", attrs...)
}

// writeJSONError writes a JSON error body (RFC 6749 §5.2).
func (p *Provider) writeJSONError(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	p.logError(r, e)
	if e.Code == errInvalidClient && e.status() == http.StatusUnauthorized {
		// RFC 6749 §5.2
		w.Header().Set("WWW-Authenticate", `Basic realm="oidcd", charset="UTF-8"`)
	}
	setRetryAfter(w, e)
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	writeJSON(w, e.status(), body)
}

// setRetryAfter sends e.RetryAfter, rounded up to whole seconds (RFC 9110
// §10.2.3).
func setRetryAfter(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
