package console

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// FuzzCSRFToken: any form token value is parsed without a panic, and
// only the token made for this session verifies.
func FuzzCSRFToken(f *testing.F) {
	sealer, err := keys.NewSealer(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		f.Fatal(err)
	}
	c := &Console{sealer: sealer}
	sess := &storage.Session{Hash: bytes.Repeat([]byte{7}, 32)}
	// A token as newCSRF makes them, with a fixed nonce so that every fuzz
	// worker knows the same one.
	raw := append(bytes.Repeat([]byte{1}, 16), 0, 0, 0, 0, 0x71, 0x2c, 0xe1, 0x05)
	p := base64.RawURLEncoding.EncodeToString(raw)
	good := p + "." + base64.RawURLEncoding.EncodeToString(c.sealer.MAC("console csrf", hex.EncodeToString(sess.Hash), p))
	goodPayload, _, goodMAC, _ := parseCSRF(good)
	sessHex := hex.EncodeToString(sess.Hash)
	for _, s := range []string{good, "", ".", "a.b", good + "x", good[:40], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		payload, raw, mac, ok := parseCSRF(token)
		if !ok {
			return
		}
		if len(raw) != 24 || len(payload) != 32 || len(mac) == 0 {
			t.Fatalf("accepted a malformed token %q", token)
		}
		// (Another spelling of the same payload and MAC is the same token.)
		same := payload == goodPayload && bytes.Equal(mac, goodMAC)
		if !same && c.sealer.VerifyMAC(mac, "console csrf", sessHex, payload) {
			t.Fatalf("a token the console did not make verifies: %q", token)
		}
	})
}

// FuzzAdminSeenCookie: any admin idle cookie value is parsed without a
// panic; malformed values are refused.
func FuzzAdminSeenCookie(f *testing.F) {
	for _, s := range []string{"", ".", "AAAAAAAAAAA.AAAA", "AAAAAAAAAAA." + base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "x.y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ts, raw, mac, ok := parseSeen(v)
		if ok && (len(raw) != 8 || len(ts) != 11 || len(mac) == 0) {
			t.Fatalf("accepted a malformed cookie %q", v)
		}
	})
}
