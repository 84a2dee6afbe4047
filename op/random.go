package op

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// newSecret returns 256 random bits, base64url: codes, tokens, client
// secrets (SECURITY B1, D1, E2).
func newSecret() string {
	return rand.Text() + rand.Text()
}

// newID returns 128 random bits as an identifier (grant ids, client ids).
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// digest is how codes, tokens and client secrets are stored (SECURITY B6).
func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
