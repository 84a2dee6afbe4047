package op

import (
	"context"
	"sync"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// clientCache keeps recently used clients for a short time, so hot paths
// (token, userinfo, introspection) do not read and decode the client row on
// every request. A change made through another node (or the CLI) is seen
// after at most the TTL. Only found clients are cached, and the size is
// bounded, so unknown client ids cannot grow it.
type clientCache struct {
	ttl  time.Duration
	max  int
	now  func() time.Time
	mu   sync.RWMutex
	byID map[string]cachedClient
}

type cachedClient struct {
	c       *storage.Client
	expires time.Time
}

// client returns the client with this id from the cache or the store. The
// returned value is shared: callers must not modify it.
func (p *Provider) client(ctx context.Context, id string) (*storage.Client, error) {
	cc := &p.clients
	if cc.ttl <= 0 {
		return p.store.Client(ctx, id)
	}
	now := cc.now()
	cc.mu.RLock()
	e, ok := cc.byID[id]
	cc.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.c, nil
	}
	c, err := p.store.Client(ctx, id)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if len(cc.byID) >= cc.max {
		for k, v := range cc.byID {
			if !now.Before(v.expires) || len(cc.byID) >= cc.max {
				delete(cc.byID, k)
			}
			if len(cc.byID) < cc.max*3/4 {
				break
			}
		}
	}
	cc.byID[id] = cachedClient{c: c, expires: now.Add(cc.ttl)}
	cc.mu.Unlock()
	return c, nil
}

// ForgetClient drops a client from this provider's cache, for hosts that
// change clients in-process and want the change seen at once.
func (p *Provider) ForgetClient(id string) {
	p.clients.mu.Lock()
	delete(p.clients.byID, id)
	p.clients.mu.Unlock()
}
