package op

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oidcd/oidcd/internal/ttlcache"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/web"
)

// Provider is an OpenID Provider. It is an http.Handler serving the
// endpoints at the root of its mount point; mount it where the Issuer's path
// points (with http.StripPrefix when the Issuer has a path).
type Provider struct {
	cfg       Config
	store     storage.Provider
	log       *slog.Logger
	now       func() time.Time
	pages     *web.Renderer
	mux       *http.ServeMux
	issuerURL *url.URL

	clients *ttlcache.Cache[string, *storage.Client] // nil when disabled
	// authFailures remembers (client, IP) pairs this node saw fail.
	authFailures *ttlcache.Cache[string, struct{}]
	keys         atomic.Pointer[keySet]
	reloadMu     sync.Mutex
	reloading    atomic.Bool
	discovery    []byte
	grantTypes   map[string]grantFunc
}

type keySet struct {
	*keys.Set
	loaded time.Time
}

// New validates cfg, loads the signing keys (creating an RS256 key when the
// storage holds none) and returns a ready Provider.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pages, err := web.New(cfg.Templates)
	if err != nil {
		return nil, fmt.Errorf("op: templates: %w", err)
	}
	iu, _ := url.Parse(cfg.Issuer)
	p := &Provider{
		cfg:       cfg,
		store:     cfg.Storage,
		log:       cfg.Logger,
		now:       cfg.Now,
		pages:     pages,
		issuerURL: iu,
	}
	p.authFailures = ttlcache.New[string, struct{}](cfg.ClientAuthFailureWindow, 100000)
	if cfg.ClientCacheTTL > 0 {
		p.clients = ttlcache.New[string, *storage.Client](cfg.ClientCacheTTL, 10000)
	}
	if err := EnsureSigningKey(ctx, cfg.Storage, cfg.Sealer, cfg.Now()); err != nil {
		return nil, err
	}
	if err := p.ReloadKeys(ctx); err != nil {
		return nil, err
	}
	p.grantTypes = map[string]grantFunc{
		"authorization_code": p.grantAuthorizationCode,
		"refresh_token":      p.grantRefreshToken,
		"client_credentials": p.grantClientCredentials,
	}
	if _, ok := cfg.Users.(PasswordAuthenticator); ok && cfg.PasswordGrant {
		p.grantTypes["password"] = p.grantPassword
	}
	p.discovery, err = p.discoveryDocument()
	if err != nil {
		return nil, err
	}
	p.mux = p.routes()
	return p, nil
}

// EnsureSigningKey creates an RS256 signing key when the storage holds no
// key at all; of several nodes starting together exactly one creates it.
func EnsureSigningKey(ctx context.Context, store storage.Keys, sealer *keys.Sealer, now time.Time) error {
	existing, err := store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("op: list keys: %w", err)
	}
	if len(existing) > 0 {
		return nil
	}
	k, err := keys.Generate(keys.RS256)
	if err != nil {
		return err
	}
	sk, err := keys.NewSigningKey(k, sealer, now)
	if err != nil {
		return err
	}
	if _, err := store.CreateFirstKey(ctx, sk); err != nil {
		return fmt.Errorf("op: create first key: %w", err)
	}
	return nil
}

// ReloadKeys re-reads the signing keys from storage now. Keys are also
// re-read every Config.KeyRefresh on their own.
func (p *Provider) ReloadKeys(ctx context.Context) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	stored, err := p.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("op: list keys: %w", err)
	}
	// Retired keys stay published as long as a token they signed can live.
	publishFor := max(p.cfg.IDTokenExpire, p.cfg.TokenExpire)
	set, err := keys.NewSet(stored, p.cfg.Sealer, p.now(), publishFor)
	if err != nil {
		return err
	}
	if len(set.Algs()) == 0 {
		return errors.New("op: no active signing key (create one with 'oidcd keys create')")
	}
	p.keys.Store(&keySet{Set: set, loaded: p.now()})
	return nil
}

// keySet returns the current keys, starting a background reload when they
// are older than KeyRefresh. Requests never wait for a reload.
func (p *Provider) keySet() *keys.Set {
	ks := p.keys.Load()
	if p.now().Sub(ks.loaded) > p.cfg.KeyRefresh && p.reloading.CompareAndSwap(false, true) {
		go func() {
			defer p.reloading.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.ReloadKeys(ctx); err != nil {
				p.log.Error("reload signing keys", "err", err)
			}
		}()
	}
	return ks.Set
}

// ServeHTTP dispatches to the endpoints.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

// endpoint returns the absolute URL of an endpoint path such as "/token".
func (p *Provider) endpoint(path string) string { return p.cfg.Issuer + path }
