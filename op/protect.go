package op

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// TokenInfo describes the access token of a request that passed a
// protection middleware.
type TokenInfo struct {
	ClientID  string
	UserID    string // empty for client-credentials tokens
	Subject   string
	Scope     []string
	ExpiresAt time.Time
}

type tokenInfoKey struct{}

// TokenInfoFrom returns the token of a request that passed Protect or
// Introspector.Protect.
func TokenInfoFrom(ctx context.Context) (*TokenInfo, bool) {
	ti, ok := ctx.Value(tokenInfoKey{}).(*TokenInfo)
	return ti, ok
}

// Protect guards handlers of the application that mounts the provider (the
// seed's protected_resource_view): the request needs a live access token
// carrying every one of scopes. Missing, expired or revoked tokens get 401
// invalid_token, too narrow ones 403 insufficient_scope (RFC 6750 §3).
func (p *Provider) Protect(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, _, e := p.accessToken(r)
			if e != nil {
				p.writeBearerError(w, r, e, "")
				return
			}
			info := &TokenInfo{ClientID: tok.ClientID, UserID: tok.UserID, Subject: tok.UserID, Scope: tok.Scope, ExpiresAt: tok.ExpiresAt}
			if missing := missingScopes(tok.Scope, scopes); missing != "" {
				p.writeBearerError(w, r, insufficientScope(missing), missing)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenInfoKey{}, info)))
		})
	}
}

func missingScopes(have, need []string) string {
	var missing []string
	for _, s := range need {
		if !scopeSet(have).has(s) {
			missing = append(missing, s)
		}
	}
	return strings.Join(missing, " ")
}

func insufficientScope(missing string) *Error {
	return &Error{Code: errInsufficientScope, Description: "The access token lacks the scope: " + missing, Status: http.StatusForbidden}
}
