package op

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/oidcd/oidcd/op/internal/dpop"
	"github.com/oidcd/oidcd/storage"
)

// DPoP (RFC 9449): a client proves at every request that it holds a
// private key, and the tokens it gets are bound to that key, so a stolen
// token is useless without it. Proofs are checked by op/internal/dpop; this
// file binds tokens at the token endpoint and checks them at userinfo and
// in Protect.

// Error codes of RFC 9449 §5 and §8.
const (
	errInvalidDPoPProof = "invalid_dpop_proof"
	errUseDPoPNonce     = "use_dpop_nonce"
)

type proofKey struct{}

// withProof remembers the checked proof of a token request.
func withProof(r *http.Request, p *dpop.Proof) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), proofKey{}, p))
}

// boundJKT is the thumbprint the tokens of request r are bound to, or "".
func boundJKT(r *http.Request) string {
	if p, ok := r.Context().Value(proofKey{}).(*dpop.Proof); ok {
		return p.JKT
	}
	return ""
}

// tokenType is "DPoP" for tokens bound to a key, "Bearer" otherwise (RFC
// 9449 §5).
func tokenType(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}

// newDPoPChecker is nil when DPoP is off.
func newDPoPChecker(cfg *Config) *dpop.Checker {
	if !cfg.DPoP {
		return nil
	}
	return &dpop.Checker{
		Replays: cfg.Storage, Sealer: cfg.Sealer, Window: cfg.DPoPProofWindow,
		RequireNonce: cfg.DPoPRequireNonce, NonceLifetime: cfg.DPoPNonceExpire, Now: cfg.Now,
	}
}

// proofError turns a refused proof into RFC 9449's errors; a storage
// failure stays itself.
func proofError(err error) *Error {
	switch {
	case errors.Is(err, dpop.ErrUseNonce):
		return &Error{Code: errUseDPoPNonce, Description: "Resend the request with a DPoP proof carrying the nonce in the DPoP-Nonce header.", Err: err}
	case errors.Is(err, dpop.ErrInvalid):
		return &Error{Code: errInvalidDPoPProof, Description: "The DPoP proof is invalid.", Err: err}
	}
	return asError(err)
}

// tokenEndpointProof checks the DPoP proof of a token request, if any (RFC
// 9449 §5). A client registered with dpop_bound_access_tokens must send
// one (§5.2). With DPoP off the header is ignored, as by a server that does
// not know it.
func (p *Provider) tokenEndpointProof(w http.ResponseWriter, r *http.Request, c *storage.Client) (*http.Request, error) {
	if p.dpop == nil {
		return r, nil
	}
	if p.cfg.DPoPRequireNonce {
		w.Header().Set("DPoP-Nonce", p.dpop.Nonce())
	}
	if len(r.Header.Values("DPoP")) == 0 {
		if c.DPoPBoundAccessTokens {
			return nil, &Error{Code: errInvalidDPoPProof, Description: "This client must send a DPoP proof."}
		}
		return r, nil
	}
	proof, err := p.dpop.Check(r.Context(), r, p.endpoint(PathToken), "")
	if err != nil {
		return nil, proofError(err)
	}
	return withProof(r, proof), nil
}

// checkCodeJKT enforces dpop_jkt (RFC 9449 §10): a code asked for with a
// key thumbprint is redeemed only with a proof by that key.
func checkCodeJKT(r *http.Request, ac *storage.AuthCode) error {
	if ac.DPoPJKT == "" {
		return nil
	}
	switch jkt := boundJKT(r); {
	case jkt == "":
		return &Error{Code: errInvalidDPoPProof, Description: "The authorization request named a DPoP key (dpop_jkt); send a proof by it."}
	case jkt != ac.DPoPJKT:
		return newErr(errInvalidGrant, "The DPoP proof's key is not the one named by dpop_jkt.")
	}
	return nil
}

// checkRefreshJKT enforces the binding of a refresh token (RFC 9449 §5.0):
// a bound one is used only with a proof by its key.
func checkRefreshJKT(r *http.Request, t *storage.Token) error {
	if t.JKT == "" {
		return nil
	}
	switch jkt := boundJKT(r); {
	case jkt == "":
		return &Error{Code: errInvalidDPoPProof, Description: "The refresh token is bound to a DPoP key; send a proof by it."}
	case jkt != t.JKT:
		return newErr(errInvalidGrant, "The DPoP proof's key is not the refresh token's.")
	}
	return nil
}

// jktPattern is a base64url SHA-256 thumbprint.
var jktPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// resourceURL is the htu of a request to a protected resource in the
// provider's process: the issuer's origin and the path as the client sent
// it (never the Host header: SECURITY G2).
func (p *Provider) resourceURL(r *http.Request) string {
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && r.RequestURI != "" {
		path = u.EscapedPath() // before any http.StripPrefix
	}
	return p.issuerURL.Scheme + "://" + p.issuerURL.Host + path
}

// presentedToken is the access token of a request to a resource, with how
// it came: scheme "DPoP" (RFC 9449 §7.1) or "Bearer" (any RFC 6750 way).
type presentedToken struct {
	value  string
	scheme string
}

// resourceToken reads the token of a resource request.
func (p *Provider) resourceToken(r *http.Request) (presentedToken, *Error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "DPoP") {
			tok = strings.TrimSpace(tok)
			if tok == "" || p.dpop == nil {
				return presentedToken{}, &Error{Code: errInvalidRequest, Description: "The Authorization header is not a supported token.", Status: http.StatusUnauthorized}
			}
			if r.URL.Query().Has("access_token") {
				return presentedToken{}, newErr(errInvalidRequest, "More than one access token was sent.")
			}
			return presentedToken{value: tok, scheme: "DPoP"}, nil
		}
	}
	v, e := p.bearerToken(r)
	return presentedToken{value: v, scheme: "Bearer"}, e
}

// checkResourceProof checks a DPoP-bound or bearer token's presentation
// (RFC 9449 §7): a bound token needs the DPoP scheme and a proof by its
// key over this request, hashing the token; a bound token sent as a bearer
// token is refused (§7.2).
func (p *Provider) checkResourceProof(r *http.Request, pt presentedToken, tok *storage.Token, htu string) *Error {
	if pt.scheme != "DPoP" {
		if tok.JKT != "" {
			return &Error{Code: errInvalidToken, Description: "The access token is bound to a DPoP key; present it with the DPoP scheme and a proof.", Status: http.StatusUnauthorized}
		}
		return nil
	}
	proof, err := p.dpop.Check(r.Context(), r, htu, pt.value)
	if err != nil {
		e := proofError(err)
		if e.Code == errInvalidDPoPProof || e.Code == errUseDPoPNonce {
			e.Status = http.StatusUnauthorized
		}
		return e
	}
	if tok.JKT == "" || proof.JKT != tok.JKT {
		return &Error{Code: errInvalidToken, Description: "The access token is not bound to the DPoP proof's key.", Status: http.StatusUnauthorized}
	}
	return nil
}

// dpopChallenge is the WWW-Authenticate value of RFC 9449 §7.1.
func dpopChallenge(e *Error, scope string) string {
	c := `DPoP algs="` + strings.Join(dpop.AlgNames(), " ") + `"`
	if e.Code != "" {
		c += `, error="` + e.Code + `"`
		if e.Description != "" {
			c += `, error_description="` + strings.ReplaceAll(e.Description, `"`, `'`) + `"`
		}
	}
	if scope != "" {
		c += `, scope="` + scope + `"`
	}
	return c
}
