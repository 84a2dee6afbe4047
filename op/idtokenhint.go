package op

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// verifyIDToken checks that token is an ID token this provider issued (to
// client, when client is set and the token is HS256): a valid signature by
// one of our keys or the client's secret, and our issuer. Expiry is not
// checked: hints may be expired (OIDC Core §3.1.2.1; SECURITY H4).
//
// An encrypted ID token (a JWE) is refused with a message saying so: it
// was encrypted to the client's public key, and this provider holds no
// private key of the client, nor publishes an encryption key of its own to
// which the client could re-encrypt it. The client sends the signed ID
// token it decrypted instead, as OIDC Core §3.1.2.1 tells it to.
func (p *Provider) verifyIDToken(token string, clientSecret func() ([]byte, error)) (map[string]any, error) {
	if isJWE(token) {
		return nil, errEncryptedHint
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA, jose.HS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("the id_token_hint is not a signed JWT")
	}
	var payload []byte
	if jws.Signatures[0].Header.Algorithm == string(jose.HS256) {
		if clientSecret == nil {
			return nil, errors.New("the id_token_hint cannot be verified")
		}
		secret, err := clientSecret()
		if err != nil {
			return nil, errors.New("the id_token_hint cannot be verified")
		}
		payload, err = jws.Verify(secret)
		if err != nil {
			return nil, errors.New("the id_token_hint signature is invalid")
		}
	} else if payload, err = p.keySet().Verify(token); err != nil {
		return nil, errors.New("the id_token_hint signature is invalid")
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("the id_token_hint payload is not JSON")
	}
	if claims["iss"] != p.cfg.Issuer {
		return nil, errors.New("the id_token_hint was issued by another provider")
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return nil, errors.New("the id_token_hint has no subject")
	}
	return claims, nil
}

// errEncryptedHint refuses an encrypted id_token_hint.
var errEncryptedHint = errors.New("the id_token_hint is encrypted; send the signed ID token it contains (OIDC Core §3.1.2.1)")

// checkIDTokenHint verifies id_token_hint, if sent, and remembers its subject.
func (p *Provider) checkIDTokenHint(req *authRequest) error {
	hint := req.params.Get("id_token_hint")
	if hint == "" {
		return nil
	}
	claims, err := p.verifyIDToken(hint, func() ([]byte, error) { return p.clientSecret(req.client) })
	if err != nil {
		return err
	}
	req.hintSub = claims["sub"].(string)
	return nil
}
