package op

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// TokenInfo describes the access token of a request that passed
// Provider.Protect (in the provider's process) or Introspector.Protect (in a
// resource server elsewhere). Both fill it the same way, so a handler works
// behind either; only UserID, which an Introspector cannot know, differs.
type TokenInfo struct {
	// ClientID is the client the token was issued to.
	ClientID string
	// Subject is the token's "sub": for a user's token, what Hooks.Subject
	// makes of the user and client (the user id by default), the same value
	// the client finds in ID tokens, userinfo and introspection; for a
	// client-credentials token, the ClientID (as introspection reports it,
	// RFC 7662 §2.2). Resource servers know users by it.
	Subject string
	// ClientCredentials reports a token the client obtained for itself
	// (client_credentials grant): no user is involved.
	ClientCredentials bool
	// UserID is the provider's own id of the token's user. Only
	// Provider.Protect, inside the provider, knows it; it is empty for
	// client-credentials tokens and always empty from an Introspector, which
	// learns only the Subject (with a pairwise Subject hook the two differ).
	UserID string
	// Scope is the token's scope, in the order it was granted.
	Scope []string
	// ExpiresAt is when the token expires, to the second, in UTC.
	ExpiresAt time.Time
	// JKT is the thumbprint of the key a DPoP-bound token is bound to (RFC
	// 9449 §6), whose proof the middleware has checked; empty for bearer
	// tokens.
	JKT string
	// Audience is the token's aud when it was issued for resources (RFC
	// 8707) or audiences (RFC 8693); empty for a token of the client itself.
	Audience []string
}

type tokenInfoKey struct{}

// TokenInfoFrom returns the token of a request that passed Protect or
// Introspector.Protect.
func TokenInfoFrom(ctx context.Context) (*TokenInfo, bool) {
	ti, ok := ctx.Value(tokenInfoKey{}).(*TokenInfo)
	return ti, ok
}

// Protect guards handlers of the application that mounts the provider (
// django-oidc-provider's protected_resource_view): the request needs a live access token
// carrying every one of scopes. Missing, expired or revoked tokens get 401
// invalid_token, too narrow ones 403 insufficient_scope (RFC 6750 §3).
func (p *Provider) Protect(scopes ...string) func(http.Handler) http.Handler {
	return p.protect("", scopes)
}

// ProtectResource is Protect for a resource with its own identifier (RFC
// 8707): a token is accepted only when its audience names resource, so a
// token issued for another API is refused (401 invalid_token) even though
// it is live.
func (p *Provider) ProtectResource(resource string, scopes ...string) func(http.Handler) http.Handler {
	return p.protect(resource, scopes)
}

func (p *Provider) protect(resource string, scopes []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, _, e := p.accessToken(r, p.resourceURL(r))
			if e != nil {
				p.writeBearerError(w, r, e, "")
				return
			}
			if resource != "" && !slices.Contains(tok.Audience, resource) {
				p.writeBearerError(w, r, wrongAudience(), "")
				return
			}
			if missing := missingScopes(tok.Scope, scopes); missing != "" {
				p.writeBearerError(w, r, insufficientScope(missing), missing)
				return
			}
			info, err := p.tokenInfo(r.Context(), tok)
			if err != nil {
				p.writeJSONError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenInfoKey{}, info)))
		})
	}
}

// tokenInfo describes a live access token as introspection would: the
// Subject through Hooks.Subject, the client id for client tokens.
func (p *Provider) tokenInfo(ctx context.Context, tok *storage.Token) (*TokenInfo, error) {
	info := &TokenInfo{
		ClientID:          tok.ClientID,
		Subject:           tok.ClientID,
		ClientCredentials: tok.UserID == "",
		UserID:            tok.UserID,
		Scope:             slices.Clone(tok.Scope),
		ExpiresAt:         time.Unix(tok.ExpiresAt.Unix(), 0).UTC(),
		JKT:               tok.JKT,
		Audience:          slices.Clone(tok.Audience),
	}
	if tok.UserID == "" {
		return info, nil
	}
	client, err := p.client(ctx, tok.ClientID)
	if err != nil {
		return nil, err
	}
	if info.Subject, err = p.subject(ctx, tok.UserID, client); err != nil {
		return nil, fmt.Errorf("op: subject: %w", err)
	}
	return info, nil
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

// wrongAudience is RFC 6750 §3.1's invalid_token for a token meant for
// another resource (RFC 8707 §2).
func wrongAudience() *Error {
	return &Error{Code: errInvalidToken, Description: "The access token is not meant for this resource.", Status: http.StatusUnauthorized}
}
