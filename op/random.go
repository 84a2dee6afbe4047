package op

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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

// Access and refresh tokens and authorization codes begin with their creation time, so that the
// keys they are stored under grow with time: a token endpoint under load
// then appends to the same few index pages (and WAL frames) instead of
// dirtying a random page of the token index per token, which was most of
// the write cost of issuance (issue 15's profile). A token is
// tokenTimeLen base32 characters of its creation time in Unix
// milliseconds, then newSecret's 256 random bits; it is stored under
// tokenKey: the time as 8 big-endian bytes, then the SHA-256 of the whole
// token. The time is not secret (the token's holder knows when it got it)
// and the digest covers it, so a changed time matches no row.
const (
	tokenTimeLen = 10 // 50 bits of milliseconds
	tokenLen     = tokenTimeLen + 52
	base32Alpha  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // rand.Text's alphabet
)

// newToken returns a new access or refresh token or authorization code
// made at now.
func newToken(now time.Time) string {
	var b [tokenLen]byte
	ms := uint64(now.UnixMilli())
	for i := tokenTimeLen - 1; i >= 0; i-- {
		b[i] = base32Alpha[ms&31]
		ms >>= 5
	}
	copy(b[tokenTimeLen:], newSecret())
	return string(b[:])
}

// tokenKey is the storage key of an access or refresh token or
// authorization code (see
// newToken). A value of any other shape (tokens issued before time-ordered
// tokens, imported tokens) is stored under its plain digest, as before.
func tokenKey(value string) []byte {
	if len(value) != tokenLen {
		return digest(value)
	}
	var ms uint64
	for i := range tokenTimeLen {
		v := strings.IndexByte(base32Alpha, value[i])
		if v < 0 {
			return digest(value)
		}
		ms = ms<<5 | uint64(v)
	}
	h := sha256.Sum256([]byte(value))
	key := make([]byte, 8, 8+len(h))
	binary.BigEndian.PutUint64(key, ms)
	return append(key, h[:]...)
}

// digest is how codes, tokens and client secrets are stored (SECURITY B6).
func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
