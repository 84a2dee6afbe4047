package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// csrfMaxAge is how long a rendered form may be sent.
const csrfMaxAge = 2 * time.Hour

// newCSRF returns a form token: a random nonce and the time, MACed with the
// digest of the session cookie (SECURITY F1). Only the session's browser
// can send it, and useCSRF accepts it once.
func (c *Console) newCSRF(sess *storage.Session) string {
	raw := make([]byte, 16, 24)
	rand.Read(raw)
	raw = binary.BigEndian.AppendUint64(raw, uint64(c.now().Unix()))
	payload := base64.RawURLEncoding.EncodeToString(raw)
	mac := c.sealer.MAC("console csrf", hex.EncodeToString(sess.Hash), payload)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// useCSRF reports whether token is a form token of sess, not expired and
// not used before, and marks it used on every node.
func (c *Console) useCSRF(ctx context.Context, sess *storage.Session, token string) bool {
	payload, raw, mac, ok := parseCSRF(token)
	if !ok {
		return false
	}
	if !c.sealer.VerifyMAC(mac, "console csrf", hex.EncodeToString(sess.Hash), payload) {
		return false
	}
	now := c.now()
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw[16:])), 0)
	if now.Sub(issued) > csrfMaxAge || issued.Sub(now) > time.Minute {
		return false
	}
	key := sha256.Sum256(append([]byte("console csrf\x00"), raw[:16]...))
	switch err := c.store.UseOnce(ctx, key[:], now, issued.Add(csrfMaxAge)); {
	case err == nil:
		return true
	case errors.Is(err, storage.ErrReused):
		return false
	default:
		c.log.ErrorContext(ctx, "console: record CSRF token", "err", err)
		return false
	}
}

// parseCSRF splits a form token into its payload (text and 24 bytes: the
// nonce and the time) and its MAC; ok is false for anything malformed.
func parseCSRF(token string) (payload string, raw, mac []byte, ok bool) {
	payload, macText, found := strings.Cut(token, ".")
	if !found || len(payload) != 32 || len(macText) > 128 {
		return "", nil, nil, false
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(payload)
	mac, err2 := base64.RawURLEncoding.DecodeString(macText)
	if err1 != nil || err2 != nil || len(raw) != 24 || len(mac) == 0 {
		return "", nil, nil, false
	}
	return payload, raw, mac, true
}
