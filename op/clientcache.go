package op

import (
	"context"

	"github.com/oidcd/oidcd/storage"
)

// client returns the client with this id, reusing one read within
// Config.ClientCacheTTL, so hot paths (token, userinfo, introspection) do
// not read and decode the client row on every request. A change made through
// another node (or the CLI) is seen after at most the TTL. Only found clients
// are cached and the cache is bounded, so unknown ids cannot grow it. The
// returned value is shared: callers must not modify it.
func (p *Provider) client(ctx context.Context, id string) (*storage.Client, error) {
	if p.clients == nil {
		return p.store.Client(ctx, id)
	}
	now := p.now()
	if c, ok := p.clients.Get(id, now); ok {
		return c, nil
	}
	c, err := p.store.Client(ctx, id)
	if err != nil {
		return nil, err
	}
	p.clients.Put(id, c, now)
	return c, nil
}

// ForgetClient drops a client from this provider's cache, for hosts that
// change clients in-process and want the change seen at once.
func (p *Provider) ForgetClient(id string) {
	if p.clients != nil {
		p.clients.Delete(id)
	}
}
