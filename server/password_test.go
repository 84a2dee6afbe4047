package server

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/op"
)

type claimsT = op.Claims

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustPrefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("s3cret pässword")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if !CheckPassword(h, "s3cret pässword") {
		t.Fatal("right password rejected")
	}
	h2, _ := HashPassword("s3cret pässword")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct{ name, phc, pw string }{
		{"wrong password", h, "s3cret passwörd"},
		{"empty password", h, ""},
		{"empty hash", "", "x"},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuJ5ltUvzHq5m3DpPpoxVuFyr6oG1wUXe", "x"},
		{"argon2i", strings.Replace(h, "argon2id", "argon2i", 1), "s3cret pässword"},
		{"huge memory", strings.Replace(h, "m=19456", "m=99999999", 1), "s3cret pässword"},
		{"zero time", strings.Replace(h, "t=2", "t=0", 1), "s3cret pässword"},
		{"truncated", h[:len(h)-10], "s3cret pässword"},
		{"bad base64", h[:len(h)-2] + "!!", "s3cret pässword"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if CheckPassword(tt.phc, tt.pw) {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("empty password hashed")
	}
	if _, err := HashPassword(strings.Repeat("x", MaxPasswordLen+1)); err == nil {
		t.Error("overlong password hashed")
	}
}

func TestValidateUsername(t *testing.T) {
	for _, ok := range []string{"alice", "alice@example.com", "Ærøskøbing"} {
		if err := ValidateUsername(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " alice", "al ice", "a\x00b", strings.Repeat("a", 151)} {
		if err := ValidateUsername(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSetPasswordEndsSessions(t *testing.T) {
	e := newTestServer(t, nil)
	u := e.addUser(t, "alice", "old")
	c := e.browser(t)
	e.login(t, c, "alice", "old", "")
	if e.currentUser(t, c) == "" {
		t.Fatal("not logged in")
	}
	now := e.clock.Now()
	if err := SetPassword(t.Context(), e.store, u, "new", now); err != nil {
		t.Fatal(err)
	}
	if e.currentUser(t, c) != "" {
		t.Fatal("session survived a password change")
	}
	if _, err := e.srv.Authenticate(t.Context(), "alice", "old", ""); !errors.Is(err, op.ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if got, err := e.srv.Authenticate(t.Context(), "alice", "new", ""); err != nil || got.ID != u.ID {
		t.Fatalf("new password: %v", err)
	}
}

// The dummy hash for unknown users must cost what a real hash costs: the
// same algorithm and parameters as HashPassword uses now.
func TestDummyHashMatchesParameters(t *testing.T) {
	h, err := HashPassword("anything")
	if err != nil {
		t.Fatal(err)
	}
	params := func(phc string) string { return strings.Join(strings.Split(phc, "$")[:4], "$") }
	if params(h) != params(dummyHash) {
		t.Fatalf("dummyHash %s, HashPassword %s: regenerate dummyHash", params(dummyHash), params(h))
	}
	if CheckPassword(dummyHash, "") || CheckPassword(dummyHash, "anything") {
		t.Fatal("dummyHash matched a guessable password")
	}
}
