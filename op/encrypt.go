package op

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/internal/safehttp"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op/internal/jwtauth"
	"github.com/oidcd/oidcd/storage"
)

// ID token and userinfo encryption (OIDC Core §10.2, §5.3.2; OIDC
// Registration §2): a client that registers id_token_encrypted_response_alg
// gets its ID tokens signed, then encrypted to a public key from its jwks
// or jwks_uri (a nested JWT, cty "JWT"); userinfo_signed_response_alg and
// userinfo_encrypted_response_alg turn its userinfo responses into an
// application/jwt, signed and/or encrypted likewise. go-jose does the
// cryptography; the algorithms are those of jwtauth.KeyAlgs and
// jwtauth.ContentEncs.

// defaultContentEnc is the *_encrypted_response_enc of a client that
// registers only the alg (OIDC Registration §2).
const defaultContentEnc = string(jose.A128CBC_HS256)

// keyEncAlgNames are the key management algorithms, for discovery's
// *_encryption_alg_values_supported.
func keyEncAlgNames() []string {
	var out []string
	for _, a := range jwtauth.KeyAlgs {
		out = append(out, string(a))
	}
	return out
}

// contentEncNames are the content encryption algorithms, for discovery's
// *_encryption_enc_values_supported.
func contentEncNames() []string {
	var out []string
	for _, e := range jwtauth.ContentEncs {
		out = append(out, string(e))
	}
	return out
}

// userinfoSigningAlgs are the userinfo_signed_response_alg values: those of
// ID tokens (HS256 with the client secret).
var userinfoSigningAlgs = []string{keys.RS256, keys.ES256, keys.EdDSA, keys.HS256}

// checkEncryptionMetadata validates the encryption and userinfo signing
// properties and fills in the default enc. A jwks registered by value must
// hold a key for each alg; a jwks_uri is fetched by CheckEncryptionKeys.
func checkEncryptionMetadata(c *storage.Client) []error {
	var errs []error
	m := &c.ClientMetadata
	for _, p := range []struct {
		name     string
		alg, enc *string
	}{
		{"id_token_encrypted_response", &m.IDTokenEncryptedResponseAlg, &m.IDTokenEncryptedResponseEnc},
		{"userinfo_encrypted_response", &m.UserinfoEncryptedResponseAlg, &m.UserinfoEncryptedResponseEnc},
	} {
		switch {
		case *p.alg == "" && *p.enc != "":
			// OIDC Registration §2: enc needs alg.
			errs = append(errs, fmt.Errorf("%s_enc needs %s_alg", p.name, p.name))
			continue
		case *p.alg == "":
			continue
		case !slices.Contains(jwtauth.KeyAlgs, jose.KeyAlgorithm(*p.alg)):
			errs = append(errs, fmt.Errorf("%s_alg %q is not supported (supported: %s)", p.name, *p.alg, strings.Join(keyEncAlgNames(), ", ")))
		}
		if *p.enc == "" {
			*p.enc = defaultContentEnc
		} else if !slices.Contains(jwtauth.ContentEncs, jose.ContentEncryption(*p.enc)) {
			errs = append(errs, fmt.Errorf("%s_enc %q is not supported (supported: %s)", p.name, *p.enc, strings.Join(contentEncNames(), ", ")))
		}
		switch {
		case m.JWKS == "" && m.JWKSURI == "":
			errs = append(errs, fmt.Errorf("%s_alg needs jwks or jwks_uri with the client's encryption key", p.name))
		case m.JWKS != "":
			set, err := ParseClientJWKS(m.JWKS)
			if err != nil {
				continue // reported with jwks
			}
			if err := jwtauth.CheckEncryptionKeys(set, jose.KeyAlgorithm(*p.alg)); err != nil && slices.Contains(jwtauth.KeyAlgs, jose.KeyAlgorithm(*p.alg)) {
				errs = append(errs, fmt.Errorf("%s_alg %s: jwks has no key to encrypt to (use enc or none, alg %s or none, RSA of 2048 bits or more for RSA-OAEP-256, EC P-256/P-384/P-521 for ECDH-ES)", p.name, *p.alg, *p.alg))
			}
		}
	}
	switch a := m.UserinfoSignedResponseAlg; {
	case a == "":
	case !slices.Contains(userinfoSigningAlgs, a):
		errs = append(errs, fmt.Errorf("userinfo_signed_response_alg %q is not supported (supported: %s)", a, strings.Join(userinfoSigningAlgs, ", ")))
	case a == keys.HS256 && c.Type == storage.Public:
		errs = append(errs, errors.New("public clients have no secret and cannot use HS256 for userinfo_signed_response_alg"))
	}
	return errs
}

// CheckEncryptionKeys fetches the jwks_uri of a client that registered
// id_token_encrypted_response_alg or userinfo_encrypted_response_alg, and
// reports whether it holds a key for each (OIDC Registration §2). It goes
// through the SSRF-safe client (SECURITY K1); allowPrivate permits
// loopback and private targets (tests). Like CheckSectorIdentifier it is
// not part of NewClient, since it goes to the network: /register calls
// it, and so does the CLI.
func CheckEncryptionKeys(ctx context.Context, c *storage.Client, allowPrivate bool) error {
	v := &jwtauth.Verifier{HTTP: safehttp.New(safehttp.Options{AllowPrivate: allowPrivate})}
	return checkEncryptionKeys(ctx, c, v)
}

func checkEncryptionKeys(ctx context.Context, c *storage.Client, v *jwtauth.Verifier) error {
	if c.JWKSURI == "" {
		return nil // a jwks by value was checked by NewClient
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	jc := jwtauth.Client{ID: c.ID, JWKSURI: c.JWKSURI}
	for _, p := range []struct{ name, alg string }{
		{"id_token_encrypted_response_alg", c.IDTokenEncryptedResponseAlg},
		{"userinfo_encrypted_response_alg", c.UserinfoEncryptedResponseAlg},
	} {
		if p.alg == "" {
			continue
		}
		if _, err := v.EncryptionKey(ctx, jc, jose.KeyAlgorithm(p.alg)); err != nil {
			// The description names no network detail (SECURITY K1: no
			// port-scanning oracle); the cause is logged.
			e := &Error{Code: errInvalidClientMetadata, Err: err,
				Description: fmt.Sprintf("%s %s: jwks_uri could not be fetched, or is not a JWK Set.", p.name, p.alg)}
			if errors.Is(err, jwtauth.ErrNoEncryptionKey) {
				e.Description = fmt.Sprintf("%s %s: jwks_uri has no key to encrypt to.", p.name, p.alg)
			}
			return e
		}
	}
	return nil
}

// encryptTo encrypts plaintext to the client's public key for alg, with
// enc (the default when empty); nested marks a signed JWT inside (cty
// "JWT", RFC 7519 §5.2). The key's kid, if any, goes in the header.
func (p *Provider) encryptTo(ctx context.Context, c *storage.Client, alg, enc string, nested bool, plaintext []byte) (string, error) {
	key, err := p.assertions.EncryptionKey(ctx, jwtauth.Client{ID: c.ID, JWKS: c.JWKS, JWKSURI: c.JWKSURI}, jose.KeyAlgorithm(alg))
	if err != nil {
		return "", &Error{Code: errServerError, Status: http.StatusInternalServerError,
			Description: "The response could not be encrypted: the client's jwks or jwks_uri has no usable encryption key.",
			Err:         fmt.Errorf("op: client %s: %w", c.ID, err)}
	}
	if enc == "" {
		enc = defaultContentEnc
	}
	opts := &jose.EncrypterOptions{}
	if nested {
		opts = opts.WithContentType("JWT")
	}
	e, err := jose.NewEncrypter(jose.ContentEncryption(enc), jose.Recipient{Algorithm: jose.KeyAlgorithm(alg), Key: key.Key, KeyID: key.KeyID}, opts)
	if err != nil {
		return "", fmt.Errorf("op: client %s: encrypter: %w", c.ID, err)
	}
	obj, err := e.Encrypt(plaintext)
	if err != nil {
		return "", fmt.Errorf("op: client %s: encrypt: %w", c.ID, err)
	}
	return obj.CompactSerialize()
}

// isJWE reports whether a compact serialisation has the five parts of a
// JWE (RFC 7516 §7.1) rather than the three of a JWS.
func isJWE(token string) bool { return strings.Count(token, ".") == 4 }
