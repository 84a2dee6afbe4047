package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/oidcd/oidcd/storage"
)

// Algorithms a server key can sign with.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
	HS256 = "HS256" // with a client secret, never a server key
)

// ServerAlgs lists the algorithms of server keys.
var ServerAlgs = []string{RS256, ES256, EdDSA}

// Generate creates a private key for alg: RSA-2048, P-256 or Ed25519.
func Generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("keys: unsupported algorithm %q (want RS256, ES256 or EdDSA)", alg)
}

// AlgFor returns the JWS algorithm a private key signs with.
func AlgFor(k crypto.Signer) (string, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("keys: RSA key of %d bits is too short (want at least 2048)", k.N.BitLen())
		}
		return RS256, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("keys: only P-256 EC keys are supported")
		}
		return ES256, nil
	case ed25519.PrivateKey:
		return EdDSA, nil
	}
	return "", fmt.Errorf("keys: unsupported key type %T", k)
}

// ParsePEM reads a private key in PKCS #8, PKCS #1 (RSA) or SEC 1 (EC) PEM form.
func ParsePEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("keys: no PEM block found")
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("keys: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: parse private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: unsupported key type %T", k)
	}
	if _, err := AlgFor(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of the public key, base64url: a
// stable, unique kid.
func Thumbprint(k crypto.Signer) (string, error) {
	jwk := jose.JSONWebKey{Key: k.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// NewSigningKey seals k into a storage row.
func NewSigningKey(k crypto.Signer, s Sealer, now time.Time) (*storage.SigningKey, error) {
	kid, err := Thumbprint(k)
	if err != nil {
		return nil, err
	}
	return NewSigningKeyWithKID(k, kid, s, now)
}

// NewSigningKeyWithKID seals k into a storage row under a given kid: for
// keys imported from another provider, whose kid relying parties already
// see in the ID tokens they hold.
func NewSigningKeyWithKID(k crypto.Signer, kid string, s Sealer, now time.Time) (*storage.SigningKey, error) {
	alg, err := AlgFor(k)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		return nil, errors.New("keys: empty kid")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal: %w", err)
	}
	sealed, err := s.Seal(der, []byte("signing-key:"+kid))
	if err != nil {
		return nil, fmt.Errorf("keys: seal key %s: %w", kid, err)
	}
	return &storage.SigningKey{
		ID:            kid,
		Alg:           alg,
		PrivateSealed: sealed,
		CreatedAt:     now.UTC(),
	}, nil
}

// Unseal decrypts a stored signing key.
func Unseal(sk *storage.SigningKey, s Sealer) (crypto.Signer, error) {
	der, err := s.Open(sk.PrivateSealed, []byte("signing-key:"+sk.ID))
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", sk.ID, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", sk.ID, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: key %s: unsupported type %T", sk.ID, k)
	}
	return signer, nil
}
