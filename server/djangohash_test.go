package server

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/storage"
)

// djangoUser is a user of a fixture site made by django-oidc-provider
// (testdata/django/make_fixtures.sh): the password as Django hashed it.
type djangoUser struct {
	ID       int    `json:"id"`
	Password string `json:"password"`
	Hasher   string `json:"hasher"`
	Encoded  string `json:"encoded"`
}

// djangoUsers returns the users of every fixture site, by "release/username".
func djangoUsers(t *testing.T, pattern string) map[string]djangoUser {
	t.Helper()
	files, err := filepath.Glob("../testdata/django/" + pattern + ".json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixture manifests: %v", err)
	}
	out := map[string]djangoUser{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Users map[string]djangoUser `json:"users"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for name, u := range m.Users {
			out[strings.TrimSuffix(filepath.Base(f), ".json")+"/"+name] = u
		}
	}
	return out
}

// Hashes written by Django itself (the fixtures) verify with the right
// password only; unsupported hashers never verify. Every release's fixture
// was hashed by the same Django, so one release's users are checked.
func TestDjangoPasswordHashes(t *testing.T) {
	seen := map[string]bool{}
	for name, u := range djangoUsers(t, "v0.8.3") {
		if seen[u.Hasher] {
			continue
		}
		seen[u.Hasher] = true
		t.Run(name, func(t *testing.T) {
			hasher := DjangoHasher(u.Encoded)
			if u.Hasher == "" {
				if hasher != "unusable" {
					t.Fatalf("unusable password %q identified as %q", u.Encoded, hasher)
				}
				return
			}
			if hasher != u.Hasher {
				t.Fatalf("hasher of %q = %q, want %q", u.Encoded, hasher, u.Hasher)
			}
			supported := u.Hasher != "unsalted_md5"
			if DjangoHasherSupported(hasher) != supported {
				t.Fatalf("DjangoHasherSupported(%q) = %v", hasher, !supported)
			}
			if got := CheckPassword(u.Encoded, u.Password); got != supported {
				t.Fatalf("CheckPassword(right password) = %v", got)
			}
			if CheckPassword(u.Encoded, u.Password+"x") {
				t.Fatal("wrong password accepted")
			}
			if !NeedsRehash(u.Encoded) {
				t.Fatal("a Django hash does not need rehashing")
			}
		})
	}
	for _, h := range []string{"pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "scrypt", "unsalted_md5"} {
		if !seen[h] {
			t.Errorf("no fixture user hashed with %s", h)
		}
	}
}

// Corrupt or hostile Django hashes never match and never run unbounded.
func TestDjangoPasswordHashesMalformed(t *testing.T) {
	users := djangoUsers(t, "v0.8.3")
	enc := func(h string) string {
		for _, u := range users {
			if u.Hasher == h {
				return u.Encoded
			}
		}
		t.Fatalf("no %s fixture", h)
		return ""
	}
	pw := func(h string) string {
		for _, u := range users {
			if u.Hasher == h {
				return u.Password
			}
		}
		return ""
	}
	pb, ar, bc, sc := enc("pbkdf2_sha256"), enc("argon2"), enc("bcrypt_sha256"), enc("scrypt")
	for _, tt := range []struct{ name, encoded, hasher string }{
		{"pbkdf2 other iterations", strings.Replace(pb, "$260000$", "$260001$", 1), "pbkdf2_sha256"},
		{"pbkdf2 huge iterations", strings.Replace(pb, "$260000$", "$999999999$", 1), "pbkdf2_sha256"},
		{"pbkdf2 zero iterations", strings.Replace(pb, "$260000$", "$0$", 1), "pbkdf2_sha256"},
		{"pbkdf2 short hash", pb[:len(pb)-8], "pbkdf2_sha256"},
		{"pbkdf2 as sha1", strings.Replace(pb, "pbkdf2_sha256$", "pbkdf2_sha1$", 1), "pbkdf2_sha256"},
		{"argon2 huge memory", strings.Replace(ar, "m=102400", "m=99999999", 1), "argon2"},
		{"argon2 as argon2i", strings.Replace(ar, "$argon2id$", "$argon2i$", 1), "argon2"},
		{"argon2 version 1.0", strings.Replace(ar, "$v=19", "", 1), "argon2"},
		{"bcrypt huge cost", strings.Replace(bc, "$2b$12$", "$2b$31$", 1), "bcrypt_sha256"},
		{"bcrypt_sha256 as bcrypt", strings.Replace(bc, "bcrypt_sha256$", "bcrypt$", 1), "bcrypt_sha256"},
		{"scrypt huge N", strings.Replace(sc, "scrypt$16384$", "scrypt$1073741824$", 1), "scrypt"},
		{"scrypt N not a power of two", strings.Replace(sc, "scrypt$16384$", "scrypt$16383$", 1), "scrypt"},
		{"scrypt huge p", strings.Replace(sc, "$8$1$", "$8$100000$", 1), "scrypt"},
		{"no fields", "pbkdf2_sha256", "pbkdf2_sha256"},
		{"unknown hasher", "whirlpool$1$salt$hash", "whirlpool"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if CheckPassword(tt.encoded, pw(tt.hasher)) {
				t.Fatalf("%q accepted", tt.encoded)
			}
		})
	}
}

// A user imported with a Django hash logs in through the login form; the
// hash is then replaced by argon2id, which the next login uses.
func TestLoginUpgradesDjangoHash(t *testing.T) {
	seen := map[string]bool{}
	for _, u := range djangoUsers(t, "v0.8.3") {
		if seen[u.Hasher] || !DjangoHasherSupported(u.Hasher) {
			continue
		}
		seen[u.Hasher] = true
		t.Run(u.Hasher, func(t *testing.T) {
			e := newTestServer(t, nil)
			acct := &storage.User{ID: "7", Username: "imported", PasswordHash: u.Encoded, CreatedAt: e.clock.Now()}
			if err := e.store.CreateUser(t.Context(), acct); err != nil {
				t.Fatal(err)
			}
			if r := e.login(t, e.browser(t), "imported", "wrong"+u.Password, "/"); r.StatusCode == http.StatusSeeOther {
				t.Fatal("wrong password logged in")
			}
			if got, _ := e.store.User(t.Context(), "7"); got.PasswordHash != u.Encoded {
				t.Fatal("a failed login changed the hash")
			}
			if r := e.login(t, e.browser(t), "imported", u.Password, "/"); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("login with the Django password: status %d\n%s", r.StatusCode, r.body)
			}
			got, err := e.store.User(t.Context(), "7")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
				t.Fatalf("hash not upgraded: %q", got.PasswordHash)
			}
			if !CheckPassword(got.PasswordHash, u.Password) {
				t.Fatal("upgraded hash does not hold the password")
			}
			if r := e.login(t, e.browser(t), "imported", u.Password, "/"); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("second login: status %d", r.StatusCode)
			}
			if !strings.Contains(e.logs.String(), "password hash upgraded") {
				t.Error("upgrade not logged")
			}
		})
	}
}
