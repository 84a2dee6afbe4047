package op

import (
	"errors"
	"net/http"

	"github.com/oidcd/oidcd/storage"
)

// revoke is the revocation endpoint (RFC 7009). The caller authenticates;
// unknown tokens and tokens of other clients get 200 and nothing changes
// (SECURITY D7); revoking a refresh token revokes its whole grant (§2.1).
// A storage failure is an error, never a silent success (SECURITY D8).
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	form, err := postForm(r)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	c, err := p.authenticateClient(r, form)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	value := form.Get("token")
	if value == "" {
		p.writeJSONError(w, r, newErr(errInvalidRequest, "The token parameter is missing."))
		return
	}
	switch form.Get("token_type_hint") {
	case "", "access_token", "refresh_token":
	default:
		// RFC 7009 §2.2.1
		p.writeJSONError(w, r, newErr("unsupported_token_type", "Unsupported token_type_hint."))
		return
	}
	// The hint is not trusted: the stored kind decides.
	ctx := r.Context()
	if isStateless(value) {
		if err := p.revokeStateless(ctx, c, value, p.now()); err != nil {
			p.writeJSONError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	tok, _, err := p.store.Token(ctx, tokenKey(value), p.now())
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		p.writeJSONError(w, r, err)
		return
	case tok.ClientID != c.ID:
		p.log.InfoContext(ctx, "revocation of another client's token refused", "caller", c.ID)
	case tok.Kind == storage.RefreshToken:
		err = p.store.RevokeGrant(ctx, tok.GrantID, p.now())
	default:
		err = p.store.DeleteToken(ctx, tok.Hash)
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.writeJSONError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
