// Package ttlcache is a small, bounded, concurrency-safe map whose entries
// expire after a fixed time. oidcd uses it to reuse rows (clients, user
// claims) for a few seconds on hot paths; the TTL is the bound on how stale
// a change made through another node can be.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps K to V for TTL. The zero value is not usable; use New.
type Cache[K comparable, V any] struct {
	ttl time.Duration
	max int
	mu  sync.RWMutex
	m   map[K]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a cache keeping at most max entries for ttl each.
func New[K comparable, V any](ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, max: max, m: make(map[K]entry[V])}
}

// Get returns the live value of k at now.
func (c *Cache[K, V]) Get(k K, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v under k from now on. When the cache is full it first drops
// expired entries, then arbitrary ones, down to three quarters of its size.
func (c *Cache[K, V]) Put(k K, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max*3/4 {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = entry[V]{v: v, expires: now.Add(c.ttl)}
}

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// Len reports how many entries (live or expired) are held.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
