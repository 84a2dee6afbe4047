package sqlstore

import (
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage"
)

// benchIssue measures the work of one authorization-code exchange: create a
// code, consume it, create the grant with an access and a refresh token, and
// look the access token up.
func benchIssue(b *testing.B, s *Store) {
	ctx := b.Context()
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		b.Fatal(err)
	}
	h := func() []byte { x := make([]byte, 32); rand.Read(x); return x }
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		gid := fmt.Sprintf("g%d", i)
		code := &storage.AuthCode{Hash: h(), GrantID: gid, ClientID: "rp", UserID: "u", Scope: []string{"openid"},
			CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := s.CreateCode(ctx, code); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Code(ctx, code.Hash, now); err != nil {
			b.Fatal(err)
		}
		g := &storage.Grant{ID: gid, ClientID: "rp", UserID: "u", Scope: code.Scope, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		at := &storage.Token{Hash: h(), Kind: storage.AccessToken, GrantID: gid, ClientID: "rp", UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		rt := &storage.Token{Hash: h(), Kind: storage.RefreshToken, GrantID: gid, ClientID: "rp", UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := s.ConsumeCode(ctx, code.Hash, now, g, at, rt); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Token(ctx, at.Hash, now); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBackends runs f on a fresh migrated SQLite file and a fresh
// PostgreSQL database (skipped without PostgreSQL, as the other PostgreSQL
// tests are).
func benchBackends(b *testing.B, f func(b *testing.B, s *Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := Open(b.Context(), "sqlite:"+b.TempDir()+"/bench.db")
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		f(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s := openPostgresTest(b, pgtest.NewDatabase(b, pgtest.URL()))
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		f(b, s)
	})
}

// ccGrant is what a client_credentials token request stores: a grant and
// its access token.
func ccGrant(now time.Time) (*storage.Grant, *storage.Token) {
	id := make([]byte, 16)
	rand.Read(id)
	g := &storage.Grant{ID: fmt.Sprintf("%x", id), ClientID: "rp", Scope: []string{"api"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	h := make([]byte, 32)
	rand.Read(h)
	return g, &storage.Token{Hash: h, Kind: storage.AccessToken, GrantID: g.ID, ClientID: "rp", Scope: g.Scope,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// BenchmarkCreateGrant measures the write of client_credentials token
// issuance with many requests in flight, as under load: on SQLite they share
// commits (group commit, batch.go), on PostgreSQL statements
// (grantbatch.go).
func BenchmarkCreateGrant(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		if err := s.CreateClient(b.Context(), &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				g, t := ccGrant(now)
				if err := s.CreateGrant(b.Context(), g, t); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkTokenLookup measures the read behind introspection, userinfo
// and the protected-resource middleware: a token and its grant by hash.
func BenchmarkTokenLookup(b *testing.B) { benchBackends(b, benchTokenLookup) }

// BenchmarkTokenLookupCached is the same lookup with the token cache on
// (SetTokenCache, OIDCD_TOKEN_CACHE_TTL), each token found in it.
func BenchmarkTokenLookupCached(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Store) {
		s.SetTokenCache(time.Hour)
		benchTokenLookup(b, s)
	})
}

func benchTokenLookup(b *testing.B, s *Store) {
	ctx := b.Context()
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	hashes := make([][]byte, 1000)
	for i := range hashes {
		g, t := ccGrant(now)
		if err := s.CreateGrant(ctx, g, t); err != nil {
			b.Fatal(err)
		}
		hashes[i] = t.Hash
	}
	b.ReportAllocs()
	b.ResetTimer()
	var i atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Token(ctx, hashes[i.Add(1)%int64(len(hashes))], now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
