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

	"github.com/oidcd/oidcd/internal/safehttp"
	"github.com/oidcd/oidcd/internal/ttlcache"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op/internal/dpop"
	"github.com/oidcd/oidcd/op/internal/jwtauth"
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
	keysReady    chan struct{} // closed once keys holds a set
	keysOnce     sync.Once
	jwksCache    []string // Cache-Control of /jwks
	logoHTTP     *safehttp.Client
	reloadMu     sync.Mutex
	reloading    atomic.Bool
	discovery    []byte
	grantTypes   map[string]grantFunc
	dpop         *dpop.Checker // nil unless Config.DPoP
	// assertions verifies private_key_jwt and client_secret_jwt.
	assertions *jwtauth.Verifier
	// fetchHTTP fetches URLs clients supply (jwks_uri, request_uri)
	// under SECURITY K1.
	fetchHTTP *safehttp.Client

	// Background work (Run, on-demand key reloads) is tracked so that Close
	// can stop it and wait for it: no goroutine outlives the Provider.
	bgCtx    context.Context // cancelled by Close
	bgCancel context.CancelFunc
	bgMu     sync.Mutex // orders bg.Add after Close's closed = true
	bg       sync.WaitGroup
	closed   bool
	// logoutHTTP posts back-channel logout tokens (SECURITY K1).
	logoutHTTP *safehttp.Client
	// wake tells a delivery worker that logout messages were queued.
	wake chan struct{}
}

// ErrClosed is returned by Run on a Provider that was closed.
var ErrClosed = errors.New("op: provider closed")

// ErrStarting is wrapped by a Ready error that start-up work still under
// way explains (the first signing key being made): expected for a moment,
// unlike a storage that does not answer. A host's own readiness checks may
// wrap it too.
var ErrStarting = errors.New("starting")

type keySet struct {
	*keys.Set
	loaded time.Time
}

// New validates cfg, loads the signing keys (creating an RS256 key when the
// storage holds none, in the background with Config.FirstKeyInBackground)
// and returns a Provider.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	iu, _ := url.Parse(cfg.Issuer)
	pages, err := web.NewRenderer(web.Options{
		Templates: cfg.Templates, Translations: cfg.Translations,
		Languages: cfg.Languages, DefaultLanguage: cfg.DefaultLanguage,
		Branding: cfg.Branding, BasePath: iu.EscapedPath(), OnMissing: cfg.OnMissingTranslation,
	})
	if err != nil {
		return nil, fmt.Errorf("op: pages: %w", err)
	}
	p := &Provider{
		cfg:       cfg,
		store:     cfg.Storage,
		log:       cfg.Logger,
		now:       cfg.Now,
		pages:     pages,
		issuerURL: iu,
		wake:      make(chan struct{}, 1),
		logoutHTTP: safehttp.New(safehttp.Options{
			AllowPrivate: cfg.InsecureAllowPrivateTargets,
			Timeout:      10 * time.Second,
		}),
	}
	p.bgCtx, p.bgCancel = context.WithCancel(context.Background())
	p.authFailures = ttlcache.New[string, struct{}](cfg.ClientAuthFailureWindow, 100000)
	if cfg.ClientCacheTTL > 0 {
		p.clients = ttlcache.New[string, *storage.Client](cfg.ClientCacheTTL, 10000)
	}
	p.keysReady = make(chan struct{})
	existing, err := cfg.Storage.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("op: list keys: %w", err)
	}
	switch {
	case len(existing) > 0:
		if err := p.ReloadKeys(ctx); err != nil {
			return nil, err
		}
	case cfg.FirstKeyInBackground:
		p.goBackground(p.createFirstKey)
	default:
		if err := p.makeFirstKey(ctx); err != nil {
			return nil, err
		}
	}
	p.fetchHTTP = safehttp.New(safehttp.Options{AllowPrivate: cfg.InsecureAllowPrivateTargets})
	p.assertions = &jwtauth.Verifier{Replays: cfg.Storage, HTTP: p.fetchHTTP, Now: cfg.Now}
	p.grantTypes = map[string]grantFunc{
		"authorization_code": p.grantAuthorizationCode,
		"refresh_token":      p.grantRefreshToken,
		"client_credentials": p.grantClientCredentials,
	}
	if _, ok := cfg.Users.(PasswordAuthenticator); ok && cfg.PasswordGrant {
		p.grantTypes["password"] = p.grantPassword
	}
	if cfg.DeviceFlow {
		p.grantTypes[GrantTypeDeviceCode] = p.grantDeviceCode
	}
	p.logoHTTP = NewLogoClient(cfg.InsecureAllowPrivateTargets)
	p.jwksCache = []string{fmt.Sprintf("public, max-age=%d", int(p.cfg.JWKSMaxAge/time.Second))}
	p.dpop = newDPoPChecker(&p.cfg)
	if cfg.TokenExchange {
		p.grantTypes[GrantTypeTokenExchange] = p.grantTokenExchange
	}
	for gt, h := range cfg.GrantTypes {
		p.grantTypes[gt] = p.extensionGrant(gt, h)
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
func EnsureSigningKey(ctx context.Context, store storage.Keys, sealer keys.Sealer, now time.Time) error {
	_, err := ensureSigningKey(ctx, store, sealer, now)
	return err
}

// ensureSigningKey is EnsureSigningKey, returning the key when this call
// created it.
func ensureSigningKey(ctx context.Context, store storage.Keys, sealer keys.Sealer, now time.Time) (*storage.SigningKey, error) {
	existing, err := store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("op: list keys: %w", err)
	}
	if len(existing) > 0 {
		return nil, nil
	}
	k, err := keys.Generate(keys.RS256)
	if err != nil {
		return nil, err
	}
	sk, err := keys.NewSigningKey(k, sealer, now)
	if err != nil {
		return nil, err
	}
	created, err := store.CreateFirstKey(ctx, sk)
	if err != nil {
		return nil, fmt.Errorf("op: create first key: %w", err)
	}
	if !created {
		return nil, nil // another node's key won
	}
	return sk, nil
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
	p.keysOnce.Do(func() { close(p.keysReady) })
	return nil
}

// KeysLoaded is closed once the provider holds its signing keys: at once
// unless the first key is made in the background (FirstKeyInBackground).
func (p *Provider) KeysLoaded() <-chan struct{} { return p.keysReady }

// makeFirstKey makes and stores the first signing key (of several nodes
// starting together, one key wins) and loads the keys.
func (p *Provider) makeFirstKey(ctx context.Context) error {
	created, err := ensureSigningKey(ctx, p.store, p.cfg.Sealer, p.now())
	if err != nil {
		return err
	}
	if created != nil {
		p.Emit(ctx, Event{Kind: EventKeyCreated, KeyID: created.ID, Reason: created.Alg})
	}
	return p.ReloadKeys(ctx)
}

// createFirstKey is makeFirstKey in the background (FirstKeyInBackground),
// retried every second while storage fails, until it succeeds or the
// provider closes.
func (p *Provider) createFirstKey() {
	for {
		err := p.makeFirstKey(p.bgCtx)
		if err == nil || p.bgCtx.Err() != nil {
			return
		}
		p.log.Error("create the first signing key", "err", err)
		select {
		case <-p.bgCtx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// firstKeyWait bounds how long a request waits for the first signing key.
const firstKeyWait = 10 * time.Second

// noKeys is the empty set a request gets when the first key is not there in
// time: signing fails with an error, and JWKS lists no key.
var noKeys, _ = keys.NewSet(nil, nil, time.Time{}, 0)

// keySet returns the current keys, starting a background reload when they
// are older than KeyRefresh. Requests never wait for a reload.
func (p *Provider) keySet() *keys.Set {
	ks := p.keys.Load()
	if ks == nil { // a first start: the key is being made (createFirstKey)
		t := time.NewTimer(firstKeyWait)
		defer t.Stop()
		select {
		case <-p.keysReady:
			ks = p.keys.Load()
		case <-p.bgCtx.Done():
			return noKeys
		case <-t.C:
			return noKeys
		}
	}
	if p.now().Sub(ks.loaded) > p.cfg.KeyRefresh && p.reloading.CompareAndSwap(false, true) {
		started := p.goBackground(func() {
			defer p.reloading.Store(false)
			ctx, cancel := context.WithTimeout(p.bgCtx, 10*time.Second)
			defer cancel()
			if err := p.ReloadKeys(ctx); err != nil && p.bgCtx.Err() == nil {
				p.log.Error("reload signing keys", "err", err)
			}
		})
		if !started {
			p.reloading.Store(false)
		}
	}
	return ks.Set
}

// startBackground counts one more background task unless the Provider is
// closed; the caller calls p.bg.Done when the task ends.
func (p *Provider) startBackground() bool {
	p.bgMu.Lock()
	defer p.bgMu.Unlock()
	if p.closed {
		return false
	}
	p.bg.Add(1)
	return true
}

// goBackground runs fn in a goroutine that Close waits for; it reports false
// (and does nothing) once the Provider is closed.
func (p *Provider) goBackground(fn func()) bool {
	if !p.startBackground() {
		return false
	}
	go func() {
		defer p.bg.Done()
		fn()
	}()
	return true
}

// Run does the provider's background work until ctx is done or Close is
// called, then returns nil (ErrClosed if the Provider was already closed):
//
//   - every Config.CleanupInterval it deletes expired codes, tokens, grants,
//     consents and throttle counters (Storage.DeleteExpired; with the oidcd
//     server's storage, expired sessions too), so storage does not grow
//     forever;
//   - every Config.KeyRefresh it re-reads the signing keys, so a key created
//     or rotated through another node or the command line is published and
//     used here within one interval even when no request comes.
//   - it delivers queued back-channel logout tokens (Back-Channel Logout
//     1.0 §2.5), whichever node queued them: a message is leased by one node
//     at a time, and one a node held when it died is taken by another once
//     its lease lapses; failures are retried with exponential backoff
//     (Config.LogoutRetryBackoff, doubling, at most an hour apart) until
//     Config.LogoutRetryFor has passed; each outcome is logged.
//
// A host runs it for as long as it serves the provider, typically
// go p.Run(ctx) next to its http.Server, then Close on shutdown. Several
// nodes on one database may all run it. Failures (storage unreachable) are
// logged and retried at the next tick.
func (p *Provider) Run(ctx context.Context) error {
	if !p.startBackground() {
		return ErrClosed
	}
	defer p.bg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.bgCtx, cancel)()

	var cleanup <-chan time.Time
	if p.cfg.CleanupInterval > 0 {
		t := time.NewTicker(p.cfg.CleanupInterval)
		defer t.Stop()
		cleanup = t.C
	}
	reload := time.NewTicker(p.cfg.KeyRefresh)
	defer reload.Stop()
	// Back-channel logout tokens queued by any node.
	var delivery sync.WaitGroup
	defer delivery.Wait()
	defer cancel()
	for range logoutWorkers {
		delivery.Add(1)
		go func() {
			defer delivery.Done()
			p.deliveryLoop(ctx)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cleanup:
			p.deleteExpired(ctx)
		case <-reload.C:
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			err := p.ReloadKeys(rctx)
			rcancel()
			if err != nil && ctx.Err() == nil {
				p.log.Warn("reload signing keys", "err", err)
			}
		}
	}
}

// deleteExpired is one cleanup run of Run.
func (p *Provider) deleteExpired(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := p.store.DeleteExpired(dctx, p.now())
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("delete expired rows", "err", err)
		}
		return
	}
	p.log.Debug("deleted expired rows", "rows", n)
}

// Close stops Run and any key reload in progress and waits until every
// goroutine the Provider started has ended. It does not close the Storage
// (the host owns it; close it after Close returns). The handler keeps
// answering with the keys it holds, but nothing runs in the background any
// more. Close is safe to call more than once; it always returns nil.
func (p *Provider) Close() error {
	p.bgMu.Lock()
	p.closed = true
	p.bgMu.Unlock()
	p.bgCancel()
	p.bg.Wait()
	return nil
}

// ServeHTTP dispatches to the endpoints.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

// endpoint returns the absolute URL of an endpoint path such as "/token".
func (p *Provider) endpoint(path string) string { return p.cfg.Issuer + path }

// Ready reports whether the provider can serve: its storage answers and it
// holds an active signing key (for a readiness probe; a liveness probe
// needs neither).
func (p *Provider) Ready(ctx context.Context) error {
	if ks := p.keys.Load(); ks == nil || len(ks.Algs()) == 0 {
		if ks == nil && p.cfg.FirstKeyInBackground {
			return fmt.Errorf("op: the first signing key is still being made (%w)", ErrStarting)
		}
		return errors.New("op: no signing key loaded")
	}
	if err := p.store.Ping(ctx); err != nil {
		return fmt.Errorf("op: storage: %w", err)
	}
	return nil
}
