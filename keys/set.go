package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/oidcd/oidcd/storage"
)

// Set is an immutable view of the provider's signing keys: one signer per
// algorithm (the newest active key of that algorithm) and the JWKS document,
// marshalled once.
type Set struct {
	signers map[string]jose.Signer // by alg
	// keys are the signers' keys, for tokens of another "typ".
	keys   map[string]jose.SigningKey
	kids   map[string]string // alg -> kid of its signer
	public map[string]jose.JSONWebKey
	jwks   []byte
}

// ErrNoKey means no active key signs with the requested algorithm.
var ErrNoKey = errors.New("keys: no active signing key for algorithm")

// NewSet unseals stored keys. Every key is published from its creation:
// "next" keys (ActivatesAt in the future) are published but do not sign
// yet; active keys sign (the newest per algorithm); retired keys (RetiredAt
// reached) are published until RetiredAt+publishFor, so tokens they signed
// still verify (docs/security.md "Signing keys").
func NewSet(stored []*storage.SigningKey, s Sealer, now time.Time, publishFor time.Duration) (*Set, error) {
	set := &Set{
		signers: map[string]jose.Signer{},
		keys:    map[string]jose.SigningKey{},
		kids:    map[string]string{},
		public:  map[string]jose.JSONWebKey{},
	}
	var published []jose.JSONWebKey
	var newest = map[string]time.Time{}
	for _, sk := range stored {
		retired := !sk.RetiredAt.IsZero() && !now.Before(sk.RetiredAt)
		if retired && now.After(sk.RetiredAt.Add(publishFor)) {
			continue
		}
		priv, err := Unseal(sk, s)
		if err != nil {
			return nil, err
		}
		pub := jose.JSONWebKey{Key: priv.Public(), KeyID: sk.ID, Algorithm: sk.Alg, Use: "sig"}
		published = append(published, pub)
		set.public[sk.ID] = pub
		if retired || (!sk.ActivatesAt.IsZero() && now.Before(sk.ActivatesAt)) {
			continue
		}
		if t, ok := newest[sk.Alg]; ok && !sk.CreatedAt.After(t) {
			continue
		}
		signer, err := jose.NewSigner(
			jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Alg), Key: priv},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), sk.ID),
		)
		if err != nil {
			return nil, fmt.Errorf("keys: signer for %s: %w", sk.ID, err)
		}
		newest[sk.Alg] = sk.CreatedAt
		set.signers[sk.Alg] = signer
		set.keys[sk.Alg] = jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Alg), Key: priv}
		set.kids[sk.Alg] = sk.ID
	}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: nonNil(published)})
	if err != nil {
		return nil, fmt.Errorf("keys: marshal jwks: %w", err)
	}
	set.jwks = doc
	return set, nil
}

func nonNil(k []jose.JSONWebKey) []jose.JSONWebKey {
	if k == nil {
		return []jose.JSONWebKey{}
	}
	return k
}

// JWKS returns the marshalled JSON Web Key Set. Callers must not modify it.
func (s *Set) JWKS() []byte { return s.jwks }

// Algs lists the algorithms the set can sign with.
func (s *Set) Algs() []string {
	var out []string
	for _, a := range ServerAlgs {
		if _, ok := s.signers[a]; ok {
			out = append(out, a)
		}
	}
	return out
}

// Public returns the public key with this kid.
func (s *Set) Public(kid string) (jose.JSONWebKey, bool) {
	k, ok := s.public[kid]
	return k, ok
}

// Sign signs payload (JSON claims) with the active key of alg and returns the
// compact serialisation.
func (s *Set) Sign(alg string, payload []byte) (string, error) {
	signer, ok := s.signers[alg]
	if !ok {
		return "", fmt.Errorf("%w %s", ErrNoKey, alg)
	}
	return signCompact(signer, payload)
}

// SignTyped signs payload like Sign, with typ as the JOSE "typ" header
// (explicit typing, RFC 8725 §3.11), e.g. "logout+jwt".
func (s *Set) SignTyped(alg, typ string, payload []byte) (string, error) {
	k, ok := s.keys[alg]
	if !ok {
		return "", fmt.Errorf("%w %s", ErrNoKey, alg)
	}
	signer, err := jose.NewSigner(k, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), s.kids[alg]))
	if err != nil {
		return "", fmt.Errorf("keys: signer: %w", err)
	}
	return signCompact(signer, payload)
}

// SignHS256Typed is SignHS256 with typ as the "typ" header.
func SignHS256Typed(secret []byte, typ string, payload []byte) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("keys: hs256 signer: %w", err)
	}
	return signCompact(signer, payload)
}

// SignHS256 signs payload with a client secret (OIDC Core §10.1: the
// client_secret octets are the key).
func SignHS256(secret, payload []byte) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("keys: hs256 signer: %w", err)
	}
	return signCompact(signer, payload)
}

func signCompact(signer jose.Signer, payload []byte) (string, error) {
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// Verify checks a compact JWS made by one of the set's keys (active or still
// published) and returns its payload. Only the set's algorithms are accepted,
// so "none" and HMAC confusion are impossible.
func (s *Set) Verify(token string) ([]byte, error) {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("keys: parse: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("keys: want exactly one signature")
	}
	h := jws.Signatures[0].Header
	k, ok := s.public[h.KeyID]
	if !ok || k.Algorithm != h.Algorithm {
		return nil, errors.New("keys: unknown key id")
	}
	return jws.Verify(k.Key)
}
