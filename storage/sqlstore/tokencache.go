package sqlstore

import (
	"context"
	"slices"
	"sync"
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
// Every method of this store that can end a token calls forgetGrant (one
// grant's tokens: a revoked grant, a rotated refresh token, a replayed code,
// a deleted token) or forgetAll (a user, client, session or consent,
// Atomically) once its change has committed. seq orders lookups and
// changes: an entry carries the seq loaded before its row was read, a change
// takes a new seq after its commit, and an entry older than a change that
// concerns it is never served, so a row read before a revocation committed
// cannot be served after it. A change made through another node or process
// is seen after at most the TTL. Only found tokens are kept, and a kept
// token still ends at its own expiry and its grant's.
type tokenCache struct {
	c   *ttlcache.Cache[string, cachedToken]
	seq atomic.Uint64
	mu  sync.RWMutex
	// all is the seq of the last change that may have ended any token.
	all uint64
	// grants holds the seq of the last change to each grant changed since
	// the last forgetAll; at maxGrantMarks it gives way to a forgetAll.
	grants map[string]uint64
}

type cachedToken struct {
	t   storage.Token
	g   storage.Grant
	seq uint64
}

const (
	// tokenCacheSize bounds the entries kept (each under a kilobyte): with
	// a TTL of a second, the tokens in use within a second; beyond it,
	// entries are dropped and read again.
	tokenCacheSize = 4096
	maxGrantMarks  = 4096
)

// SetTokenCache makes Token reuse what it found for ttl (OIDCD_TOKEN_CACHE_TTL):
// a token ended through this store is refused at once, one ended through
// another node or process after at most ttl. ttl <= 0, the default of Open,
// reads the database on every lookup. Call it before the store is used.
func (s *Store) SetTokenCache(ttl time.Duration) {
	if s.txc != nil {
		return
	}
	if ttl <= 0 {
		s.tc = nil
		return
	}
	s.tc = &tokenCache{c: ttlcache.New[string, cachedToken](ttl, tokenCacheSize), grants: map[string]uint64{}}
}

// forgetAll stops every cached token from being served; called after a
// committed change that may have ended tokens of several grants.
func (s *Store) forgetAll() {
	tc := s.tc
	if tc == nil {
		return
	}
	tc.mu.Lock()
	tc.all = tc.seq.Add(1)
	clear(tc.grants)
	tc.mu.Unlock()
}

// forgetGrant stops the cached tokens of grant id from being served; called
// after a committed change to that grant's tokens.
func (s *Store) forgetGrant(id string) {
	tc := s.tc
	if tc == nil {
		return
	}
	tc.mu.Lock()
	m := tc.seq.Add(1)
	if len(tc.grants) >= maxGrantMarks {
		tc.all = m
		clear(tc.grants)
	} else {
		tc.grants[id] = m
	}
	tc.mu.Unlock()
}

// fresh reports whether e was read after every change that concerns it.
// all and grants are read under one lock, as they are written: a forgetGrant
// that overflows into a forgetAll must not be seen half done.
func (tc *tokenCache) fresh(e *cachedToken) bool {
	tc.mu.RLock()
	defer tc.mu.RUnlock()
	if e.seq < tc.all {
		return false
	}
	m, changed := tc.grants[e.g.ID]
	return !changed || e.seq >= m
}

// cachedTokenLookup is Token through the cache.
func (s *Store) cachedTokenLookup(ctx context.Context, hash []byte, now time.Time) (*storage.Token, *storage.Grant, error) {
	tc := s.tc
	seq := tc.seq.Load()
	if e, ok := tc.c.Get(string(hash), now); ok && tc.fresh(&e) &&
		now.Before(e.t.ExpiresAt) && (e.g.ExpiresAt.IsZero() || now.Before(e.g.ExpiresAt)) {
		return copyToken(&e.t), copyGrant(&e.g), nil
	}
	t, g, err := s.lookupToken(ctx, hash, now)
	if err != nil {
		return nil, nil, err
	}
	// The entry lapses ttl after now, which the caller took before the row
	// was read: a change made elsewhere after the read is seen at most ttl
	// after it.
	tc.c.Put(string(hash), cachedToken{t: *copyToken(t), g: *copyGrant(g), seq: seq}, now)
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
