package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts secrets at rest (private keys, client secrets) with
// AES-256-GCM and computes keyed MACs (CSRF tokens, signed hints), both
// derived from one system secret.
type Sealer struct {
	aead   cipher.AEAD
	macKey []byte
}

// MinSecretLen is the shortest system secret accepted.
const MinSecretLen = 32

// NewSealer derives the encryption and MAC keys from secret with HKDF-SHA256.
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("keys: system secret must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	encKey, err := hkdf.Key(sha256.New, secret, nil, "oidcd seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("keys: derive: %w", err)
	}
	macKey, err := hkdf.Key(sha256.New, secret, nil, "oidcd mac v1", 32)
	if err != nil {
		return nil, fmt.Errorf("keys: derive: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &Sealer{aead: aead, macKey: macKey}, nil
}

// Seal encrypts plaintext; aad binds the ciphertext to its context (e.g. the
// row id) so a sealed value cannot be moved to another row.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, aad)
}

// ErrUnseal means a sealed value was corrupt or sealed with another key.
var ErrUnseal = errors.New("keys: cannot unseal (wrong system secret or corrupt data)")

// Open decrypts a value made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrUnseal
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}

// MAC returns HMAC-SHA256 over the parts, each length-prefixed so that
// ("ab","c") and ("a","bc") differ.
func (s *Sealer) MAC(parts ...string) []byte {
	m := hmac.New(sha256.New, s.macKey)
	var l [4]byte
	for _, p := range parts {
		n := len(p)
		l[0], l[1], l[2], l[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		m.Write(l[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// VerifyMAC compares mac with MAC(parts...) in constant time.
func (s *Sealer) VerifyMAC(mac []byte, parts ...string) bool {
	return hmac.Equal(mac, s.MAC(parts...))
}

// CheckValue is a value that identifies the system secret without
// revealing it: stored in the database, it tells a wrong or new secret from
// the one the data was sealed with (docs/security.md "System secret").
func (s *Sealer) CheckValue() []byte { return s.MAC("oidcd system secret check v1") }
