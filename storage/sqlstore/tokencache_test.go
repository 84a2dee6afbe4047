package sqlstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// tokenCacheFixture stores client "rp" and its grant "g1" with one access
// token, on the SQLite file that another store (another process or node)
// opens too.
func tokenCacheFixture(t *testing.T, s *Store, now time.Time) (*storage.Grant, *storage.Token) {
	t.Helper()
	c := &storage.Client{ID: "rp", Name: "rp", Type: storage.Confidential, JWTAlg: "RS256",
		ResponseTypes: []string{"code"}, RedirectURIs: []string{"https://rp.example/cb"}, CreatedAt: now}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return storeGrant(t, s, "g1", now)
}

// storeGrant stores grant id of client "rp" with one access token valid
// for an hour from now, whose hash is derived from id.
func storeGrant(t *testing.T, s *Store, id string, now time.Time) (*storage.Grant, *storage.Token) {
	t.Helper()
	g := &storage.Grant{ID: id, ClientID: "rp", UserID: "u1", Scope: []string{"openid"},
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	tok := &storage.Token{Hash: []byte(id + "-0123456789abcdef0123456789abcdef"), Kind: storage.AccessToken, GrantID: id,
		ClientID: "rp", UserID: "u1", Scope: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateGrant(t.Context(), g, tok); err != nil {
		t.Fatal(err)
	}
	return g, tok
}

// A revocation made through another store on the same database (another
// node, or the command line) is seen after at most the cache's TTL; one made
// through this store, at once.
func TestTokenCacheBound(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const ttl = 2 * time.Second
	s := newSQLite(t)
	s.SetTokenCache(ttl)
	g, tok := tokenCacheFixture(t, s, now)
	other, err := Open(ctx, "sqlite:"+s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	if _, _, err := s.Token(ctx, tok.Hash, now); err != nil {
		t.Fatalf("Token: %v", err)
	}
	if err := other.RevokeGrant(ctx, g.ID, now); err != nil {
		t.Fatal(err)
	}
	got, gg, err := s.Token(ctx, tok.Hash, now.Add(ttl-time.Millisecond))
	if err != nil {
		t.Fatalf("Token within the TTL of a revocation elsewhere: %v (want the cached token)", err)
	}
	if !gg.RevokedAt.IsZero() || got.GrantID != g.ID {
		t.Fatalf("cached token = %+v, grant %+v", got, gg)
	}
	if _, _, err := s.Token(ctx, tok.Hash, now.Add(ttl)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Token once the TTL has passed: %v, want ErrNotFound", err)
	}

	// Values handed out are copies: changing one changes no later lookup.
	_, tok2 := storeGrant(t, s, "g2", now)
	a, ag, err := s.Token(ctx, tok2.Hash, now)
	if err != nil {
		t.Fatal(err)
	}
	a.Scope[0], ag.Scope[0], a.Hash[0] = "admin", "admin", 'x'
	b, bg, err := s.Token(ctx, tok2.Hash, now)
	if err != nil {
		t.Fatal(err)
	}
	if b.Scope[0] != "openid" || bg.Scope[0] != "openid" || b.Hash[0] != tok2.Hash[0] {
		t.Fatalf("a caller's change reached the cache: token scope %v, grant scope %v", b.Scope, bg.Scope)
	}
	// A cached token still ends at its expiry.
	if _, _, err := s.Token(ctx, tok2.Hash, tok2.ExpiresAt); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cached token at its expiry: %v, want ErrNotFound", err)
	}

	// A change committed by Atomically is seen at once.
	if _, _, err := s.Token(ctx, tok2.Hash, now); err != nil {
		t.Fatal(err)
	}
	if err := s.Atomically(ctx, func(tx storage.Storage) error { return tx.RevokeGrant(ctx, "g2", now) }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Token(ctx, tok2.Hash, now); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Token after Atomically revoked its grant: %v, want ErrNotFound", err)
	}
}

// A change to one grant leaves the other grants' cached tokens in the
// cache; a change that may concern any grant, or more grants changed than
// the cache keeps marks for, does not.
func TestTokenCacheForgetsOnlyWhatChanged(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSQLite(t)
	g, tok := tokenCacheFixture(t, s, now)
	other, err := Open(ctx, "sqlite:"+s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// hidden stores a token, looks it up through s, and deletes it through
	// another store: from then on, s finds it only in its cache.
	hidden := func(id string) []byte {
		t.Helper()
		_, tok := storeGrant(t, s, id, now)
		h := tok.Hash
		if _, _, err := s.Token(ctx, h, now); err != nil {
			t.Fatal(err)
		}
		if err := other.DeleteToken(ctx, h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	cached := func(h []byte) bool {
		t.Helper()
		_, _, err := s.Token(ctx, h, now)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	h2 := hidden("g2")
	if _, _, err := s.Token(ctx, tok.Hash, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeGrant(ctx, g.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Token(ctx, tok.Hash, now); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("token of the revoked grant: %v, want ErrNotFound", err)
	}
	if !cached(h2) {
		t.Fatal("revoking one grant dropped another grant's cached token")
	}
	h4 := hidden("g4")
	_, deleted := storeGrant(t, s, "g5", now)
	extra := deleted.Hash
	if err := s.DeleteToken(ctx, extra); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Token(ctx, extra, now); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a deleted token: %v, want ErrNotFound", err)
	}
	if !cached(h2) || !cached(h4) {
		t.Fatal("deleting one token dropped other grants' cached tokens")
	}
	if err := s.RevokeUserGrants(ctx, "nobody", now); err != nil {
		t.Fatal(err)
	}
	if cached(h2) {
		t.Fatal("a change by user left the cached tokens of every grant served")
	}

	h3 := hidden("g3")
	for i := range maxGrantMarks {
		s.forgetGrant(fmt.Sprintf("elsewhere-%d", i))
	}
	if !cached(h3) {
		t.Fatal("changes to other grants dropped a cached token")
	}
	s.forgetGrant("one-too-many")
	if cached(h3) {
		t.Fatal("more changed grants than the cache keeps marks for left the cached tokens served")
	}
}

// Lookups running beside a revocation never find the token once the
// revocation has returned, whichever order the cache saw them in.
func TestTokenCacheConcurrentRevocation(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSQLite(t)
	tokenCacheFixture(t, s, now)
	for i := range 50 {
		id := fmt.Sprintf("race-%d", i)
		_, tok := storeGrant(t, s, id, now)
		h := tok.Hash
		var revoked, stale atomic.Bool
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 200 {
					after := revoked.Load()
					_, _, err := s.Token(ctx, h, now)
					if err == nil && after {
						stale.Store(true)
					}
					if after {
						return
					}
				}
			})
		}
		if i%2 == 0 {
			err := s.RevokeGrant(ctx, id, now)
			revoked.Store(true)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			err := s.RevokeUserGrants(ctx, "nobody", now) // a change to every grant...
			if err != nil {
				t.Fatal(err)
			}
			err = s.RevokeGrant(ctx, id, now) // ...then to this one
			revoked.Store(true)
			if err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		if stale.Load() {
			t.Fatalf("round %d: a lookup begun after the revocation returned found the token", i)
		}
	}
}
