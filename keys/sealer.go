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

// Sealer holds the system key: it encrypts secrets at rest (signing keys'
// private halves, client secrets) and computes keyed MACs (CSRF tokens,
// throttle keys, signed markers). op, server and the command line use only
// this interface, so a host can keep the key elsewhere, in a KMS or an HSM.
//
// Seal and Open may call out to such a service and fail; they run when a key
// or client is created or loaded and for HS256 ID tokens, not on every
// request. MAC and VerifyMAC run on every form and throttle check, so an
// implementation backed by a remote service keeps its MAC key in memory
// (for example unwrapped once at start). *SecretSealer, made by NewSealer
// from a secret, is the default implementation.
type Sealer interface {
	// Seal encrypts plaintext; aad binds the result to its context (e.g. the
	// row id) so that a sealed value cannot be moved to another row.
	Seal(plaintext, aad []byte) ([]byte, error)
	// Open decrypts a value made by Seal with the same aad; an error
	// wrapping ErrUnseal if it was corrupt, moved or sealed with another key.
	Open(sealed, aad []byte) ([]byte, error)
	// MAC returns a keyed MAC over the parts, each length-prefixed so that
	// ("ab","c") and ("a","bc") differ.
	MAC(parts ...string) []byte
	// VerifyMAC compares mac with MAC(parts...) in constant time.
	VerifyMAC(mac []byte, parts ...string) bool
}

var _ Sealer = (*SecretSealer)(nil)

// SecretSealer is the default Sealer: AES-256-GCM encryption and
// HMAC-SHA256 MACs under keys derived from one system secret.
type SecretSealer struct {
	aead   cipher.AEAD
	macKey []byte
}

// MinSecretLen is the shortest system secret accepted.
const MinSecretLen = 32

// NewSealer returns the default Sealer, deriving its encryption and MAC keys
// from secret with HKDF-SHA256.
func NewSealer(secret []byte) (*SecretSealer, error) {
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
	return &SecretSealer{aead: aead, macKey: macKey}, nil
}

// Seal implements Sealer; it does not fail.
func (s *SecretSealer) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// ErrUnseal means a sealed value was corrupt or sealed with another key.
var ErrUnseal = errors.New("keys: cannot unseal (wrong system secret or corrupt data)")

// Open implements Sealer.
func (s *SecretSealer) Open(sealed, aad []byte) ([]byte, error) {
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
func (s *SecretSealer) MAC(parts ...string) []byte {
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
func (s *SecretSealer) VerifyMAC(mac []byte, parts ...string) bool {
	return hmac.Equal(mac, s.MAC(parts...))
}

// CheckValue is a value that identifies the system secret without
// revealing it: stored in the database, it tells a wrong or new secret from
// the one the data was sealed with (docs/security.md "System secret").
// It is a MAC, so any Sealer has one.
func CheckValue(s Sealer) []byte { return s.MAC("oidcd system secret check v1") }
