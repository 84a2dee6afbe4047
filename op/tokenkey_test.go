package op_test

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// ccToken gets a client_credentials access token for the client.
func ccToken(t *testing.T, env *testEnv, id, secret string) string {
	t.Helper()
	st, body, _ := env.formRequest(op.PathToken, id, secret, url.Values{"grant_type": {"client_credentials"}})
	tok, _ := body["access_token"].(string)
	if st != 200 || tok == "" {
		t.Fatalf("client_credentials: %d %v", st, body)
	}
	return tok
}

func active(t *testing.T, env *testEnv, rsID, rsSecret, tok string) bool {
	t.Helper()
	st, info, _ := env.formRequest(op.PathIntrospect, rsID, rsSecret, url.Values{"token": {tok}})
	if st != 200 {
		t.Fatalf("introspect: %d %v", st, info)
	}
	return info["active"] == true
}

// TestTokenKeysGrowWithTime: the storage keys of issued tokens grow with
// their creation time (so inserts append to the token index), begin with it,
// and tokens of another shape are stored under their plain digest.
func TestTokenKeysGrowWithTime(t *testing.T) {
	env := newSQLiteTestEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	var prev []byte
	for i := range 5 {
		tok := ccToken(t, env, id, secret)
		if len(tok) != 62 || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("token %q: want 62 base32 characters", tok)
		}
		key := op.TokenKey(tok)
		if len(key) != 40 {
			t.Fatalf("key of %d bytes", len(key))
		}
		ms := uint64(0)
		for _, b := range key[:8] {
			ms = ms<<8 | uint64(b)
		}
		if want := uint64(env.clock.Now().UnixMilli()); ms != want {
			t.Errorf("key %d starts with %d, want the issue time %d", i, ms, want)
		}
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			t.Errorf("key %d does not sort after the one issued a millisecond earlier", i)
		}
		prev = key
		env.clock.Add(time.Millisecond)
	}
	for _, other := range []string{"django0123456789abcdef0123456789ab", strings.Repeat("A", 52), strings.Repeat("a", 62), "ABCDEFGHI!" + strings.Repeat("A", 52)} {
		if !bytes.Equal(op.TokenKey(other), op.SecretDigest(other)) {
			t.Errorf("TokenKey(%q) is not its plain digest", other)
		}
	}
}

// TestTokenKeyTimeIsAuthenticated: a token whose time prefix was changed
// matches no stored token, though its key has the same shape.
func TestTokenKeyTimeIsAuthenticated(t *testing.T) {
	env := newSQLiteTestEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	rsID, rsSecret := env.client(storage.Client{Name: "RS", Scope: []string{"token_introspection", id}})
	tok := ccToken(t, env, id, secret)
	if !active(t, env, rsID, rsSecret, tok) {
		t.Fatal("the genuine token is not active")
	}
	for _, i := range []int{0, 9} {
		b := []byte(tok)
		if b[i] == 'B' {
			b[i] = 'C'
		} else {
			b[i] = 'B'
		}
		if active(t, env, rsID, rsSecret, string(b)) {
			t.Errorf("token with character %d of its time changed is active", i)
		}
	}
	if active(t, env, rsID, rsSecret, tok[:61]) || active(t, env, rsID, rsSecret, tok+"A") {
		t.Error("a truncated or extended token is active")
	}
}

// TestTokensStoredUnderPlainDigestStillWork: tokens stored before
// time-ordered keys (and tokens imported from elsewhere) are stored under
// the plain SHA-256 digest; they introspect and revoke as before.
func TestTokensStoredUnderPlainDigestStillWork(t *testing.T) {
	env := newSQLiteTestEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	rsID, rsSecret := env.client(storage.Client{Name: "RS", Scope: []string{"token_introspection", id}})
	ctx := t.Context()
	now := env.clock.Now()
	legacy := strings.Repeat("QZ", 26) // the 52 characters of a token issued before
	g := &storage.Grant{ID: "legacy-grant", ClientID: id, Scope: []string{"api"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := env.store.CreateGrant(ctx, g, &storage.Token{Hash: op.SecretDigest(legacy), Kind: storage.AccessToken,
		GrantID: g.ID, ClientID: id, Scope: g.Scope, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if !active(t, env, rsID, rsSecret, legacy) {
		t.Fatal("a token stored under its plain digest is not active")
	}
	if st, body, _ := env.formRequest(op.PathRevoke, id, secret, url.Values{"token": {legacy}}); st != 200 {
		t.Fatalf("revoke: %d %v", st, body)
	}
	if active(t, env, rsID, rsSecret, legacy) {
		t.Error("the revoked token is still active")
	}
}
