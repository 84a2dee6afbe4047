package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/oidcd/oidcd/internal/buildinfo"
	"github.com/oidcd/oidcd/internal/reqid"
	"github.com/oidcd/oidcd/internal/ttlcache"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/web"
)

// Config configures a Server. Zero values take the defaults named in each
// field's comment.
type Config struct {
	// Store keeps everything: the provider's data, users, sessions and
	// throttle counters. Required.
	Store storage.Storage
	// Sealer seals secrets at rest and keys the CSRF MACs. Required.
	Sealer keys.Sealer
	// Logger receives the access log and errors. Defaults to a logger that
	// discards.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time

	// Provider configures the protocol engine. Provider.Issuer is required.
	// The server fills Storage, Users, Sealer, Logger and Now (with the
	// values above; Users always with the server's accounts) and New refuses
	// a Provider that sets any of them; it fills Templates (with Templates
	// below) and LoginURL ("/login" under the issuer's path) when unset.
	Provider op.Config

	// Templates overlays the embedded page templates, for the provider's
	// pages and the login and logout pages alike (django-oidc-provider's OIDC_TEMPLATES).
	// Defaults to none.
	Templates fs.FS
	// InsecureCookies drops the Secure attribute of cookies even when the
	// issuer is https. Cookies are Secure exactly when the issuer is https
	// unless this is set (SECURITY F5).
	InsecureCookies bool
	// SessionExpire bounds a login session (named like op.Config's
	// CodeExpire, TokenExpire...). Defaults to 14 days.
	SessionExpire time.Duration
	// ClaimsCacheTTL is how long a user's claims are reused: an account
	// changed through another node or the CLI shows in userinfo and ID
	// tokens within it. Defaults to 5s; negative disables the cache (as
	// op.Config.ClientCacheTTL).
	ClaimsCacheTTL time.Duration
	// LoginMaxFailures is how many failed logins, per username and per client
	// IP, lock further attempts until the window has passed. Defaults to 10.
	LoginMaxFailures int
	// LoginFailureWindow is the sliding window in which failures count.
	// Defaults to 5m.
	LoginFailureWindow time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For header is believed
	// when finding a request's client IP (SECURITY G2). Defaults to none: the
	// client IP is always the TCP peer.
	TrustedProxies []netip.Prefix
	// Metrics, when set, counts requests and events (see NewMetrics); the
	// host serves Metrics.Handler on a listener of its own. Defaults to none.
	Metrics *Metrics
	// HealthzVersion adds the build's version to /healthz. Off by default:
	// the version tells an attacker which advisories apply.
	HealthzVersion bool
	// Ready, when set, is one more condition of /readyz beside the
	// database and the signing key: while it returns an error, /readyz
	// answers 503 and logs the error. oidcd serve uses it for the admin
	// account a first start creates while it already answers.
	Ready func(context.Context) error
}

// Server is the oidcd server: the provider plus accounts and pages.
type Server struct {
	cfg      Config
	store    storage.Storage
	sealer   keys.Sealer
	log      *slog.Logger
	now      func() time.Time
	provider *op.Provider
	pages    *web.Renderer
	throttle *LoginThrottle
	claims   *ttlcache.Cache[string, op.Claims]
	handler  http.Handler
	mux      *http.ServeMux
	// prefix is the issuer's path without a trailing slash ("" at the root).
	prefix string
	secure bool
}

// New builds the provider and the server's handler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Every line logged during a request carries its request id, the
	// provider's lines included.
	cfg.Logger = slog.New(reqid.Handler(cfg.Logger.Handler()))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionExpire == 0 {
		cfg.SessionExpire = 14 * 24 * time.Hour
	}
	if cfg.LoginMaxFailures == 0 {
		cfg.LoginMaxFailures = 10
	}
	if cfg.ClaimsCacheTTL == 0 {
		cfg.ClaimsCacheTTL = 5 * time.Second
	}
	if cfg.LoginFailureWindow == 0 {
		cfg.LoginFailureWindow = 5 * time.Minute
	}
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("server: Store is required"))
	}
	if cfg.Sealer == nil {
		errs = append(errs, errors.New("server: Sealer is required"))
	}
	if cfg.SessionExpire < 0 || cfg.LoginMaxFailures < 0 || cfg.LoginFailureWindow < 0 {
		errs = append(errs, errors.New("server: SessionExpire, LoginMaxFailures and LoginFailureWindow must not be negative"))
	}
	// The server supplies these to the provider from its own fields; a value
	// set here would be ignored, so it is refused instead.
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"Storage", cfg.Provider.Storage != nil}, {"Users", cfg.Provider.Users != nil},
		{"Sealer", cfg.Provider.Sealer != nil}, {"Logger", cfg.Provider.Logger != nil}, {"Now", cfg.Provider.Now != nil},
	} {
		if f.set {
			errs = append(errs, fmt.Errorf("server: Provider.%s is set by the server (from Store, its accounts, Sealer, Logger, Now); leave it unset", f.name))
		}
	}
	iss, err := url.Parse(strings.TrimSuffix(cfg.Provider.Issuer, "/"))
	if err != nil || cfg.Provider.Issuer == "" {
		errs = append(errs, fmt.Errorf("server: invalid issuer %q", cfg.Provider.Issuer))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	s := &Server{
		cfg:    cfg,
		store:  cfg.Store,
		sealer: cfg.Sealer,
		log:    cfg.Logger,
		now:    cfg.Now,
		prefix: strings.TrimSuffix(iss.EscapedPath(), "/"),
		secure: iss.Scheme == "https" && !cfg.InsecureCookies,
		throttle: &LoginThrottle{
			Store:       cfg.Store,
			Sealer:      cfg.Sealer,
			MaxFailures: cfg.LoginMaxFailures,
			Window:      cfg.LoginFailureWindow,
			Now:         cfg.Now,
		},
		claims: ttlcache.New[string, op.Claims](max(cfg.ClaimsCacheTTL, 0), 10000),
	}

	pc := cfg.Provider
	pc.Storage = cfg.Store
	pc.Users = (*users)(s)
	pc.Sealer = cfg.Sealer
	pc.Logger = cfg.Logger
	pc.Now = cfg.Now
	if pc.Templates == nil {
		pc.Templates = cfg.Templates
	}
	if pc.LoginURL == "" {
		pc.LoginURL = s.prefix + "/login"
	}
	if pc.ClientIP == nil {
		pc.ClientIP = s.clientIP // honours TrustedProxies
	}
	if m := cfg.Metrics; m != nil {
		next := pc.Hooks.Event
		pc.Hooks.Event = func(ctx context.Context, e op.Event) {
			m.Event(ctx, e)
			if next != nil {
				next(ctx, e)
			}
		}
		m.reg.MustRegister(newKeyAges(cfg.Store, cfg.Now))
	}
	if s.provider, err = op.New(ctx, pc); err != nil {
		return nil, err
	}
	// One renderer for the provider's pages and the server's: the same
	// templates, languages and branding.
	s.pages = s.provider.Pages()
	s.handler = s.routes()
	return s, nil
}

// Provider returns the protocol engine.
func (s *Server) Provider() *op.Provider { return s.provider }

// Run does the server's background work until ctx is done or Close is
// called: the provider's (op.Provider.Run: deleting expired rows, sessions
// included, and re-reading signing keys). Run it for as long as the handler
// serves.
func (s *Server) Run(ctx context.Context) error { return s.provider.Run(ctx) }

// Close stops Run and waits for every goroutine the server started. It does
// not close the Store: close it after Close returns.
func (s *Server) Close() error { return s.provider.Close() }

// Handler returns the server's HTTP handler: the provider's endpoints under
// the issuer's path, the server pages, all behind panic recovery and the
// access log.
func (s *Server) Handler() http.Handler { return s.handler }

// Throttle returns the login throttle, shared with the password grant.
func (s *Server) Throttle() *LoginThrottle { return s.throttle }

// routes is the table of contents of the server. Server pages live under
// the issuer's path, like the provider's endpoints, so that one reverse
// proxy rule covers both.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.mux = mux
	p := s.prefix
	s.provider.Mount(mux, p)
	if p != "" {
		// Probes at the root too, where orchestrators look by default.
		mux.HandleFunc("/healthz", s.healthz)
		mux.HandleFunc("/readyz", s.readyz)
	}
	mux.HandleFunc(p+"/{$}", s.home)
	mux.HandleFunc(p+"/login", s.login)
	mux.HandleFunc(p+"/login/{$}", s.login)
	mux.HandleFunc(p+"/logout", s.logout)
	mux.HandleFunc(p+"/logout/{$}", s.logout)
	mux.HandleFunc(p+"/healthz", s.healthz)
	mux.HandleFunc(p+"/readyz", s.readyz)
	// The web console (/admin/, /account) is added by AddPages.
	return s.requestID(s.accessLog(s.recover(mux)))
}

// home sends the browser to the login page, which shows who is signed in.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.prefix+"/login", http.StatusFound)
}

// healthz is the liveness probe: 200 while the process serves HTTP. It
// checks no dependency, so that a database outage does not make an
// orchestrator restart every node (Kubernetes restarts a container whose
// liveness probe fails; readiness is /readyz). The build's version is added
// only when HealthzVersion is set.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if s.cfg.HealthzVersion {
		b, _ := json.Marshal(struct {
			Status  string         `json:"status"`
			Version buildinfo.Info `json:"version"`
		}{"ok", buildinfo.Read()})
		w.Write(append(b, '\n'))
		return
	}
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// readyz is the readiness probe: 200 when the database answers, a
// signing key is loaded and Config.Ready (if set) passes, else 503 with a Retry-After (a load balancer or
// Kubernetes then sends no traffic here until it recovers).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	err := s.provider.Ready(ctx)
	if err == nil && s.cfg.Ready != nil {
		err = s.cfg.Ready(ctx)
	}
	if err != nil {
		// Start-up work (the first key, the admin account) makes every
		// probe of a first start fail for a moment; that is no fault.
		level := slog.LevelError
		if errors.Is(err, op.ErrStarting) {
			level = slog.LevelInfo
			if sw, ok := w.(*statusWriter); ok {
				sw.expected = true
			}
		}
		s.log.Log(ctx, level, "readiness check failed", "err", err)
		h.Set("Retry-After", retryAfterUnavailable)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable"}` + "\n"))
		return
	}
	w.Write([]byte(`{"status":"ready"}` + "\n"))
}

// allowMethods answers 405 unless r uses one of methods (GET implies HEAD).
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}
