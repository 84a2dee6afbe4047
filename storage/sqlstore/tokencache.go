package sqlstore

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/oidcd/oidcd/internal/ttlcache"
	"github.com/oidcd/oidcd/storage"
)

// tokenCache keeps what Token found for a short time, so that a resource
// server introspecting the same access token, or a client calling userinfo
// with it, does not read the token and its grant on every request (the
// lookup was three quarters of userinfo's CPU in its profile under load).
//
// Every method of this store that can end a token (revoking or deleting
// a grant or token, rotating a refresh token, deleting a client, user,
// session or consent, a replayed code, Atomically) calls tokensChanged once
// its transaction has committed, which invalidates every entry at once:
// entries carry the generation that was current before their row was read,
// so a row read before a revocation committed can never be served after it.
// A change made through another node or process is seen after at most the
// TTL. Only found tokens are kept, and a kept token still ends at its own
// expiry and its grant's.
type tokenCache struct {
	c   *ttlcache.Cache[string, cachedToken]
	gen atomic.Uint64
}

type cachedToken struct {
	t   storage.Token
	g   storage.Grant
	gen uint64
}

// tokenCacheSize bounds the entries kept (each under a kilobyte): with a
// TTL of a second, the tokens in use within a second; beyond it, entries
// are dropped and read again.
const tokenCacheSize = 4096

// SetTokenCache makes Token reuse what it found for ttl (OIDCD_TOKEN_CACHE_TTL):
// a token revoked through this store is refused at once, one revoked
// through another node or process after at most ttl. ttl <= 0, the
// default of Open, reads the database on every lookup. Call it before
// the store is used.
func (s *Store) SetTokenCache(ttl time.Duration) {
	if s.txc != nil {
		return
	}
	if ttl <= 0 {
		s.tc = nil
		return
	}
	s.tc = &tokenCache{c: ttlcache.New[string, cachedToken](ttl, tokenCacheSize)}
}

// tokensChanged invalidates every cached token; methods that can end a
// token call it after their change has committed.
func (s *Store) tokensChanged() {
	if s.tc != nil {
		s.tc.gen.Add(1)
	}
}

// cachedTokenLookup is Token through the cache.
func (s *Store) cachedTokenLookup(ctx context.Context, hash []byte, now time.Time) (*storage.Token, *storage.Grant, error) {
	tc := s.tc
	gen := tc.gen.Load()
	if e, ok := tc.c.Get(string(hash), now); ok && e.gen == gen &&
		now.Before(e.t.ExpiresAt) && (e.g.ExpiresAt.IsZero() || now.Before(e.g.ExpiresAt)) {
		return copyToken(&e.t), copyGrant(&e.g), nil
	}
	t, g, err := s.lookupToken(ctx, hash, now)
	if err != nil {
		return nil, nil, err
	}
	tc.c.Put(string(hash), cachedToken{t: *copyToken(t), g: *copyGrant(g), gen: gen}, now)
	return t, g, nil
}

// copyToken and copyGrant copy what callers could change in place, so that
// no caller shares the cached values.
func copyToken(t *storage.Token) *storage.Token {
	c := *t
	c.Hash = slices.Clone(t.Hash)
	c.Scope = slices.Clone(t.Scope)
	c.Audience = slices.Clone(t.Audience)
	return &c
}

func copyGrant(g *storage.Grant) *storage.Grant {
	c := *g
	c.Scope = slices.Clone(g.Scope)
	c.Resources = slices.Clone(g.Resources)
	return &c
}
