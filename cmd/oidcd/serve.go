package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage"
)

// Server timeouts.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 15 * time.Second
)

// serveGCPercent is serve's garbage-collection target when GOGC is not set.
// A token request allocates about 14 KB that dies at once and the live heap
// is a few MB, so at Go's default (100, with a 4 MB floor) the collector ran
// every few hundred requests, and on two cores its mark phase took the
// writer's share too: 400 cut the CPU per client_credentials token by a
// tenth to a fifth on SQLite (issue 15). The idle process is unchanged:
// start-up garbage is given back once the server is ready.
const serveGCPercent = 400

// serve runs the provider until SIGINT or SIGTERM.
func (a *app) serve(ctx context.Context, args []string) error {
	c := &command{a: a, name: "serve", fs: flag.NewFlagSet("oidcd serve", flag.ContinueOnError)}
	c.fs.SetOutput(a.stdout)
	c.sf.register(c.fs) // every setting is a flag too
	c.fs.Usage = func() {
		w := c.fs.Output()
		fmt.Fprint(w, "Usage: oidcd serve [flags]\n\nStarts the OpenID Provider. Flags:\n")
		printFlags(w, c.fs)
		fmt.Fprintln(w)
		printSettings(w)
	}
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	log := newLogger(s, a.stderr)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}

	var templates fs.FS
	if s.Templates != "" {
		if fi, err := os.Stat(s.Templates); err != nil || !fi.IsDir() {
			return fmt.Errorf("OIDCD_TEMPLATES: %q is not a directory", s.Templates)
		}
		templates = os.DirFS(s.Templates)
	}
	pages, err := pageSettings(s)
	if err != nil {
		return err
	}
	if s.AdminPassword != "" {
		if err := server.CheckPasswordPolicy(s.AdminPassword, s.PasswordMinLength); err != nil {
			return fmt.Errorf("OIDCD_ADMIN_PASSWORD: %w", err)
		}
	}

	var certs *certReloader
	if s.TLSCert != "" || s.TLSKey != "" {
		if s.TLSCert == "" || s.TLSKey == "" {
			return errors.New("OIDCD_TLS_CERT and OIDCD_TLS_KEY go together: give both or neither")
		}
		if certs, err = newCertReloader(s.TLSCert, s.TLSKey, log); err != nil {
			return err
		}
	}

	// Settings are all checked before the bind, so that a wrong one is
	// reported as such whether or not the address is free.
	if err := checkSecretSetting(s); err != nil {
		return err
	}
	// Bind before any first-start work: when the address is taken, nothing
	// is created (no database, no secret file, no admin password printed
	// that would never be shown again).
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	warnIssuerPort(s.Server.Provider.Issuer, ln.Addr(), log)
	var metrics *server.Metrics
	var mln net.Listener
	if s.MetricsAddr != "" {
		// Metrics on a listener of their own, so that the public one never
		// exposes them.
		if mln, err = net.Listen("tcp", s.MetricsAddr); err != nil {
			return fmt.Errorf("OIDCD_METRICS_ADDR: %w", err)
		}
		defer mln.Close()
		metrics = server.NewMetrics()
	}

	store, seal, err := c.openSealed(ctx, s)
	if err != nil {
		return err
	}
	defer store.Close()
	if pg, _ := databaseKind(s.Database); pg {
		// SQLite keeps its own pools: one writer, readers per CPU.
		store.SetPool(s.DBMaxOpenConns, s.DBMaxIdleConns)
	}
	store.SetAuditExpire(s.AuditExpire)
	store.SetTokenCache(s.TokenCacheTTL)
	store.SetLogger(log)
	if metrics != nil {
		store.ObserveQueries(metrics.ObserveQuery)
		for name, db := range store.Pools() {
			metrics.RegisterDB(name, db)
		}
	}
	// On an empty database the admin password's argon2id hash and the first
	// RSA key are the slow parts of start-up: both are made while the
	// server already answers. /readyz says 503 until both are stored. The
	// key comes from FirstKeyInBackground; the account from createAdmin,
	// started once serving, decided here: an account created by someone
	// else meanwhile (oidcd users create) does not take its place.
	needAdmin, err := adminNeeded(ctx, store)
	if err != nil {
		return err
	}
	adminMade := make(chan struct{})
	if !needAdmin {
		close(adminMade)
	}

	cfg := s.serverConfig()
	cfg.Store, cfg.Sealer, cfg.Logger, cfg.Templates, cfg.Metrics = store, seal, log, templates, metrics
	cfg.Provider.Translations, cfg.Provider.Languages = pages.Translations, pages.Languages
	cfg.Provider.DefaultLanguage, cfg.Provider.Branding = pages.DefaultLanguage, pages.Branding
	cfg.Provider.ClaimsLocales = splitList(s.ClaimsLocales)
	cfg.Provider.FirstKeyInBackground = true
	cfg.Ready = func(context.Context) error {
		select {
		case <-adminMade:
			return nil
		default:
			return fmt.Errorf("the admin account is still being made (%w)", op.ErrStarting)
		}
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	// Every goroutine of the server ends before serve returns, and so before
	// the store (closed by the defer above) is closed.
	var bg sync.WaitGroup
	defer func() {
		srv.Close()
		bg.Wait()
	}()
	if err := addConsole(srv, store, seal, s, log); err != nil {
		return err
	}

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		// Request line and headers; the endpoints' own limits are smaller
		// (docs/security.md "Input limits").
		MaxHeaderBytes: 64 << 10,
		ReadTimeout:    readTimeout,
		WriteTimeout:   writeTimeout,
		IdleTimeout:    idleTimeout,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if certs != nil {
		hs.TLSConfig = tlsConfig(certs)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if certs != nil {
		// SIGHUP (systemctl reload) re-reads the certificate now; changed
		// files are also noticed on their own within a second.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		bg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					certs.reload()
				}
			}
		})
	}
	// Background work: expired-row cleanup every OIDCD_CLEANUP_INTERVAL, key
	// re-reads every OIDCD_KEY_REFRESH, delivery of back-channel logout
	// tokens queued by any node.
	bg.Go(func() { srv.Run(ctx) })

	errc := make(chan error, 3)
	go func() {
		if certs != nil {
			errc <- hs.ServeTLS(ln, "", "") // the certificate comes from TLSConfig
			return
		}
		errc <- hs.Serve(ln)
	}()
	if needAdmin {
		bg.Go(func() {
			if err := a.createAdmin(ctx, store, s, log); err != nil {
				errc <- err
				return
			}
			close(adminMade)
		})
	}
	// Start-up work (key generation, the admin password's argon2id hash,
	// migrations) leaves garbage the idle process need not keep; it is given
	// back once both are stored, beside serving rather than before it.
	bg.Go(func() {
		select {
		case <-srv.Provider().KeysLoaded():
		case <-ctx.Done():
			return
		}
		select {
		case <-adminMade:
			debug.FreeOSMemory()
		case <-ctx.Done():
		}
	})
	var ms *http.Server
	if metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		// Profiles of the live process (go tool pprof), on the private
		// listener only: what the benchmark's profiling reads.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
			WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, ErrorLog: hs.ErrorLog}
		go func() { errc <- ms.Serve(mln) }()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	log.Info("listening", "addr", ln.Addr().String(), "issuer", s.Server.Provider.Issuer, "tls", certs != nil)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if ms != nil {
		ms.Shutdown(sctx)
	}
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// adminNeeded reports whether the database has no user yet: a first start
// then creates the account "admin" (createAdmin).
func adminNeeded(ctx context.Context, store storage.Users) (bool, error) {
	existing, err := store.ListUsers(ctx)
	if err != nil {
		return false, err
	}
	return len(existing) == 0, nil
}

// createAdmin creates the account "admin", with OIDCD_ADMIN_PASSWORD or a
// generated password printed once. Another node having created it first is
// not an error.
func (a *app) createAdmin(ctx context.Context, store storage.Users, s *Settings, log *slog.Logger) error {
	pw, generated := s.AdminPassword, false
	if pw == "" {
		pw, generated = rand.Text(), true
	}
	u, err := server.NewUser("admin", pw, a.now())
	if err != nil {
		return fmt.Errorf("OIDCD_ADMIN_PASSWORD: %w", err)
	}
	u.Admin = true
	u.Name = "Administrator"
	if err := store.CreateUser(ctx, u); errors.Is(err, storage.ErrAlreadyExists) {
		return nil // another node created it first
	} else if err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(a.stdout, "created admin user %q with password: %s\n", u.Username, pw)
	} else {
		fmt.Fprintf(a.stdout, "created admin user %q with the password from OIDCD_ADMIN_PASSWORD\n", u.Username)
	}
	log.Info("created admin user", "username", u.Username)
	return nil
}

// warnIssuerPort warns when the issuer is on a loopback host with another
// port than the one listened on: discovery would then send every client to
// a port where nothing answers (e.g. "serve --addr :8012" with the default
// issuer http://localhost:8000). Behind a proxy the issuer is not loopback.
func warnIssuerPort(issuer string, addr net.Addr, log *slog.Logger) {
	u, err := url.Parse(issuer)
	ta, ok := addr.(*net.TCPAddr)
	if err != nil || !ok {
		return
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); !(host == "localhost" || err == nil && ip.IsLoopback()) {
		return
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if port != strconv.Itoa(ta.Port) {
		log.Warn("the issuer's port differs from the listen port: clients following discovery will miss this server; set --issuer (OIDCD_ISSUER) to the URL clients use",
			"issuer", issuer, "listen", addr.String())
	}
}

// serverConfig is the server's part of the settings: what serve runs
// with, and what the commands that act as the provider (sessions revoke
// queues back-channel logout tokens) use. The caller adds the
// collaborators (Store, Sealer, Logger, Templates, Metrics).
func (s *Settings) serverConfig() server.Config {
	cfg := s.Server
	// /register always answers; it needs an initial access token ('oidcd
	// registration-tokens create') unless OIDCD_REGISTRATION_OPEN.
	cfg.Provider.Registration.Enabled = true
	cfg.Provider.Resources = s.resources()
	return cfg
}

// resources are the declared resources of OIDCD_RESOURCES and
// OIDCD_JWT_RESOURCES (op.New checks each URI).
func (s *Settings) resources() []op.Resource {
	var out []op.Resource
	for _, u := range strings.Fields(s.Resources) {
		out = append(out, op.Resource{URI: u})
	}
	for _, u := range strings.Fields(s.JWTResources) {
		out = append(out, op.Resource{URI: u, JWTAccessTokens: true})
	}
	return out
}
