package op

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
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

// newGrantID returns a grant id that sorts by creation time: a 48-bit
// millisecond timestamp in hex, then 128 random bits. Grant ids are keys of
// several storage indexes; ids that grow with time append to the same index
// pages instead of touching a random page per insert. They are never shown
// to clients, so revealing the creation time costs nothing.
func newGrantID(now time.Time) string {
	return fmt.Sprintf("%012x", now.UnixMilli()&0xffffffffffff) + newID()
}

// newClientID returns 130 random bits as 26 lower-case base32 characters
// (a-z, 2-7): safe in URLs, forms and command lines, where an id starting
// with "-" (possible in base64url) would read as a flag.
func newClientID() string {
	return strings.ToLower(rand.Text())
}

// digest is how codes, tokens and client secrets are stored (SECURITY B6).
func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
