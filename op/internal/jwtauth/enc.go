package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Key management algorithms the provider encrypts with to a client's
// public key (OIDC Core §10.2): RSA-OAEP with SHA-256 and ECDH-ES on the
// NIST curves, direct or with AES key wrap. RSA1_5 (padding-oracle prone)
// and RSA-OAEP with SHA-1 are left out; go-jose has no X25519 key
// agreement, so OKP keys cannot be used.
var KeyAlgs = []jose.KeyAlgorithm{
	jose.RSA_OAEP_256, jose.ECDH_ES, jose.ECDH_ES_A128KW, jose.ECDH_ES_A192KW, jose.ECDH_ES_A256KW,
}

// ContentEncs are the content encryption algorithms (JWA §5): the
// AES-CBC-HMAC and AES-GCM families go-jose implements.
var ContentEncs = []jose.ContentEncryption{
	jose.A128CBC_HS256, jose.A192CBC_HS384, jose.A256CBC_HS512,
	jose.A128GCM, jose.A192GCM, jose.A256GCM,
}

// minRSABits is the smallest RSA modulus a content key is wrapped with.
const minRSABits = 2048

// ErrNoEncryptionKey means the client publishes no key that fits the
// registered key management algorithm.
var ErrNoEncryptionKey = errors.New("jwtauth: the client has no usable encryption key")

// EncryptionKey returns the client's public key to encrypt to with alg
// (one of KeyAlgs): the first key of its jwks, or of its jwks_uri's set,
// whose use is "enc" or unset, whose alg (if set) is alg, and whose type
// and size fit alg. A jwks_uri whose cached set has no such key is fetched
// again (at most every RefetchInterval), so a rotated key is found. The
// error wraps ErrNoEncryptionKey when the set has no fitting key, or
// ErrInvalid when the set could not be had.
func (v *Verifier) EncryptionKey(ctx context.Context, c Client, alg jose.KeyAlgorithm) (jose.JSONWebKey, error) {
	v.init()
	if !slices.Contains(KeyAlgs, alg) {
		return jose.JSONWebKey{}, fmt.Errorf("%w: %q is not a supported key management algorithm", ErrNoEncryptionKey, alg)
	}
	switch {
	case c.JWKS != "":
		set, err := ParseJWKS([]byte(c.JWKS))
		if err != nil {
			return jose.JSONWebKey{}, invalid("registered jwks: %v", err)
		}
		return encryptionKey(set, alg)
	case c.JWKSURI != "":
		set, err := v.keySet(ctx, c.JWKSURI, false)
		if err != nil {
			return jose.JSONWebKey{}, err
		}
		k, err := encryptionKey(set, alg)
		if err == nil {
			return k, nil
		}
		if fresh, ferr := v.keySet(ctx, c.JWKSURI, true); ferr == nil {
			return encryptionKey(fresh, alg)
		}
		return jose.JSONWebKey{}, err
	}
	return jose.JSONWebKey{}, fmt.Errorf("%w: it registered neither jwks nor jwks_uri", ErrNoEncryptionKey)
}

// CheckEncryptionKeys reports whether set (a client's registered jwks)
// holds a key for alg, as EncryptionKey would pick it.
func CheckEncryptionKeys(set *jose.JSONWebKeySet, alg jose.KeyAlgorithm) error {
	_, err := encryptionKey(set, alg)
	return err
}

func encryptionKey(set *jose.JSONWebKeySet, alg jose.KeyAlgorithm) (jose.JSONWebKey, error) {
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "enc" {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != string(alg) {
			continue
		}
		if fitsKeyAlg(k.Key, alg) {
			return k, nil
		}
	}
	return jose.JSONWebKey{}, fmt.Errorf("%w: no key with use enc (or no use) for %s", ErrNoEncryptionKey, alg)
}

// fitsKeyAlg: RSA-OAEP-256 needs an RSA key of at least 2048 bits, ECDH-ES
// an EC key on P-256, P-384 or P-521.
func fitsKeyAlg(key any, alg jose.KeyAlgorithm) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == jose.RSA_OAEP_256 && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		if !strings.HasPrefix(string(alg), "ECDH-ES") {
			return false
		}
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return true
		}
	}
	return false
}
