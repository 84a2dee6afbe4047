package console

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/web"
)

// Config configures the console. Zero values take the defaults named in
// each field's comment.
type Config struct {
	// Server is the oidcd server whose sessions and login page the console
	// uses. Required.
	Server *server.Server
	// Service is the service layer every change goes through (the command
	// line's too). Required.
	Service *manage.Service
	// Store is the server's storage; the console uses it only for what the
	// service layer does not do: reading the signed-in account and making
	// CSRF tokens single use. Required.
	Store storage.Storage
	// Sealer keys the CSRF tokens and the admin idle cookie. Required.
	Sealer keys.Sealer
	// Logger receives errors. Defaults to a logger that discards.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// PasswordMinLength is the shortest password the service accepts
	// (OIDCD_PASSWORD_MIN_LENGTH), for the forms' hints. Defaults to
	// server.DefaultPasswordMinLength.
	PasswordMinLength int
	// DisableAdmin leaves the admin pages out (OIDCD_ADMIN_ENABLE=false):
	// /admin/ answers 404; /account stays.
	DisableAdmin bool
	// AdminIdleExpire is how long the admin pages accept a session with no
	// admin request; after it the admin signs in again. Defaults to 15m.
	AdminIdleExpire time.Duration
	// AdminSessionExpire is how long after signing in the admin pages
	// accept a session at all, however busy. Defaults to 8h.
	AdminSessionExpire time.Duration
	// StatelessClientCredentials says that the provider issues stateless
	// client_credentials tokens (op.Config.StatelessClientCredentials),
	// which are not grants: the grants list says so.
	StatelessClientCredentials bool
}

// Console serves the web console's pages.
type Console struct {
	cfg    Config
	srv    *server.Server
	svc    *manage.Service
	store  storage.Storage
	sealer keys.Sealer
	log    *slog.Logger
	now    func() time.Time
	pages  *web.Renderer
	prefix string
}

// New checks cfg.
func New(cfg Config) (*Console, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AdminIdleExpire == 0 {
		cfg.AdminIdleExpire = 15 * time.Minute
	}
	if cfg.AdminSessionExpire == 0 {
		cfg.AdminSessionExpire = 8 * time.Hour
	}
	var errs []error
	if cfg.Server == nil {
		errs = append(errs, errors.New("console: Server is required"))
	}
	if cfg.PasswordMinLength == 0 {
		cfg.PasswordMinLength = server.DefaultPasswordMinLength
	}
	if cfg.Service == nil {
		errs = append(errs, errors.New("console: Service is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("console: Store is required"))
	}
	if cfg.Sealer == nil {
		errs = append(errs, errors.New("console: Sealer is required"))
	}
	if cfg.AdminIdleExpire < 0 || cfg.AdminSessionExpire < 0 {
		errs = append(errs, errors.New("console: AdminIdleExpire and AdminSessionExpire must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The server's pages: the same templates (server.Config.Templates
	// overlays them), languages, stylesheet and branding.
	pages := cfg.Server.Provider().Pages()
	return &Console{
		cfg: cfg, srv: cfg.Server, svc: cfg.Service, store: cfg.Store, sealer: cfg.Sealer,
		log: cfg.Logger, now: cfg.Now, pages: pages,
	}, nil
}

var _ server.Pages = (*Console)(nil)

// Mount implements server.Pages: the console's routes under prefix. Every
// admin route, known or not, passes the admin gate first, so that a
// non-admin gets 403 on all of them, never a 404 or 405 that would map the
// console.
func (c *Console) Mount(mux *http.ServeMux, prefix string) {
	c.prefix = prefix
	account := http.NewServeMux()
	c.accountRoutes(account, prefix)
	mux.Handle(prefix+"/account", c.user(account))
	mux.Handle(prefix+"/account/", c.user(account))
	if c.cfg.DisableAdmin {
		return
	}
	admin := http.NewServeMux()
	c.adminRoutes(admin, prefix+"/admin")
	mux.Handle(prefix+"/admin", c.admin(admin))
	mux.Handle(prefix+"/admin/", c.admin(admin))
}
