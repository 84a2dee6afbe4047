package op

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

type idTokenInput struct {
	client      *storage.Client
	userID      string
	sessionID   string
	authTime    time.Time
	nonce       string
	scope       scopeSet
	accessToken string // for at_hash
	code        string // for c_hash
	request     *http.Request
	// claims is the normalised claims request parameter of the grant.
	claims string
	// claimsLocales is the grant's claims_locales (OIDC Core §5.2).
	claimsLocales string
	// includeClaims releases the scope's claims inside the token even when
	// Config.IDTokenIncludeClaims is off.
	includeClaims bool
}

// subject returns the "sub" of a user for a client.
func (p *Provider) subject(ctx context.Context, userID string, c *storage.Client) (string, error) {
	local := userID
	if h := p.cfg.Hooks.Subject; h != nil {
		sub, err := h(ctx, SubjectArgs{UserID: userID, Client: c})
		if err != nil {
			return "", err
		}
		local = sub
	}
	if c.SubjectType == SubjectPairwise {
		// OIDC Core §8.1, over the host's own subject when it has one.
		return p.pairwiseSubject(c, local)
	}
	return local, nil
}

// idToken builds and signs an ID token (OIDC Core §2) with the client's
// jwt_alg, and encrypts it when the client registered
// id_token_encrypted_response_alg.
func (p *Provider) idToken(ctx context.Context, in idTokenInput) (string, error) {
	sub, err := p.subject(ctx, in.userID, in.client)
	if err != nil {
		return "", err
	}
	now := p.now()
	alg := in.client.JWTAlg
	if alg == "" {
		alg = keys.RS256
	}
	claims := map[string]any{
		"iss":       p.cfg.Issuer,
		"sub":       sub,
		"aud":       in.client.ID,
		"exp":       now.Add(p.cfg.IDTokenExpire).Unix(),
		"iat":       now.Unix(),
		"auth_time": in.authTime.Unix(),
	}
	if in.nonce != "" {
		claims["nonce"] = in.nonce
	}
	if in.sessionID != "" {
		claims["sid"] = in.sessionID
	}
	if in.accessToken != "" {
		claims["at_hash"] = halfHash(alg, in.accessToken)
	}
	if in.code != "" {
		claims["c_hash"] = halfHash(alg, in.code)
	}
	var extraScope scopeSet
	if p.cfg.IDTokenIncludeClaims || in.includeClaims {
		extraScope = in.scope
	}
	if names := requestedClaims(in.claims, "id_token"); len(extraScope) > 0 || len(names) > 0 {
		extra, err := p.userClaims(ctx, in.userID, extraScope, in.claimsLocales, names...)
		if err != nil {
			return "", err
		}
		for k, v := range extra {
			if _, taken := claims[k]; !taken {
				claims[k] = v
			}
		}
	}
	for _, h := range p.cfg.Hooks.IDToken {
		if err := h(ctx, &IDTokenArgs{Claims: claims, UserID: in.userID, Client: in.client, Scope: in.scope, Request: in.request}); err != nil {
			return "", fmt.Errorf("op: id token hook: %w", err)
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("op: id token: %w", err)
	}
	signed, err := p.signFor(in.client, alg, payload)
	if err != nil {
		return "", err
	}
	if a := in.client.IDTokenEncryptedResponseAlg; a != "" {
		// OIDC Core §10.2: signed, then encrypted to the client's key;
		// the same at every place an ID token is issued.
		return p.encryptTo(ctx, in.client, a, in.client.IDTokenEncryptedResponseEnc, true, []byte(signed))
	}
	return signed, nil
}

// signFor signs a JWT payload for client c with alg: HS256 with the
// client's secret, the other algorithms with the provider's active key.
func (p *Provider) signFor(c *storage.Client, alg string, payload []byte) (string, error) {
	if alg == keys.HS256 {
		secret, err := p.clientSecret(c)
		if err != nil {
			return "", err
		}
		return keys.SignHS256(secret, payload)
	}
	return p.keySet().Sign(alg, payload)
}

// clientSecret unseals a confidential client's secret (for HS256).
func (p *Provider) clientSecret(c *storage.Client) ([]byte, error) {
	if len(c.SecretSealed) == 0 {
		return nil, fmt.Errorf("op: client %s has no secret to sign HS256 with", c.ID)
	}
	return p.cfg.Sealer.Open(c.SecretSealed, []byte("client-secret:"+c.ID))
}

// halfHash is at_hash / c_hash: the left half of the hash of the ASCII
// value, with the hash of the signing algorithm (OIDC Core §3.1.3.6,
// §3.3.2.11; SHA-512 for Ed25519).
func halfHash(alg, value string) string {
	var h hash.Hash
	if alg == keys.EdDSA {
		h = sha512.New()
	} else {
		h = sha256.New()
	}
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
