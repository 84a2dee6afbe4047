package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/server/console"
)

// Settings is the server's configuration, from defaults, a config file,
// environment variables and flags (in rising precedence). The settings
// table writes each setting straight into the field it configures: the
// command's own below, the server's in Server and the protocol engine's in
// Server.Provider, so that serve hands Server to server.New as it is and no
// setting is copied by hand.
type Settings struct {
	Addr     string
	Database string

	Secret        string
	AdminPassword string
	LogLevel      string
	LogFormat     string
	// Templates is the directory serve opens as Server.Templates.
	Templates string

	// The pages' languages and branding: pageSettings reads them (and the
	// files they name) into op.Config's Translations, Languages,
	// DefaultLanguage and Branding.
	Translations    string
	Languages       string
	DefaultLanguage string
	ClaimsLocales   string
	SiteName        string
	SiteLogo        string
	PrimaryColor    string
	Stylesheet      string
	PrivacyURL      string
	TermsURL        string
	HelpURL         string

	PasswordMinLength int
	// AuditExpire is OIDCD_AUDIT_EXPIRE: serve's cleanup deletes audit
	// records older than this (sqlstore.Store.SetAuditExpire); zero keeps
	// them.
	AuditExpire time.Duration
	// Resources is OIDCD_RESOURCES, space-separated; serve turns it into
	// op.Config.Resources (op.New checks each URI).
	Resources string
	// JWTResources is OIDCD_JWT_RESOURCES: declared like Resources, with
	// JWT access tokens (RFC 9068).
	JWTResources string

	TLSCert     string
	TLSKey      string
	MetricsAddr string

	DBMaxOpenConns int
	DBMaxIdleConns int
	// TokenCacheTTL is OIDCD_TOKEN_CACHE_TTL (sqlstore.Store.SetTokenCache).
	TokenCacheTTL time.Duration

	// Server configures server.New; serve adds its collaborators (Store,
	// Sealer, Logger, Templates, Metrics).
	Server server.Config
	// Console configures the web console (console.New); serve adds its
	// collaborators (Server, Service, Store, Sealer, Logger, Templates).
	Console console.Config
}

// kind is how a setting's text is read.
type kind int

const (
	kString   kind = iota
	kChoice        // one of setting.choices
	kBool          // true or false
	kSeconds       // a plain number of seconds or a Go duration
	kDays          // a plain number of days or a Go duration
	kInt           // a positive integer
	kPrefixes      // IP prefixes or addresses, comma- or space-separated
)

var kindNames = map[kind]string{
	kString: "string", kChoice: "choice", kBool: "bool", kSeconds: "duration (s)",
	kDays: "duration (days)", kInt: "integer", kPrefixes: "CIDR list",
}

// setting is one row of the settings table. Its config-file key is name,
// its environment variable OIDCD_ + NAME, its flag (serve only) --name with
// dashes.
type setting struct {
	name    string
	kind    kind
	def     string // default, in the setting's own syntax ("" = empty/none)
	django  string // the django-oidc-provider setting it replaces, if any
	help    string
	target  func(*Settings) any
	choices []string
	// negate stores the opposite of a boolean setting: the field is an
	// Insecure… switch whose setting keeps django-oidc-provider's sense.
	negate bool
	// zeroOK lets a duration be 0 (the feature off).
	zeroOK bool
}

// settingsTable drives environment variables, the config file, serve's
// flags and the help text: adding a setting is one line here.
var settingsTable = []setting{
	{name: "addr", kind: kString, def: ":8000", help: "address to listen on", target: func(s *Settings) any { return &s.Addr }},
	{name: "site_url", kind: kString, django: "SITE_URL", help: "alias of issuer (issuer wins when both are set in one place)", target: func(s *Settings) any { return &s.Server.Provider.Issuer }},
	{name: "issuer", kind: kString, def: "http://localhost:8000", help: "issuer URL: the base of every endpoint (an https URL in production)", target: func(s *Settings) any { return &s.Server.Provider.Issuer }},
	{name: "database", kind: kString, def: "sqlite:oidcd.db", help: "sqlite:PATH, a bare PATH, or a postgres:// URL", target: func(s *Settings) any { return &s.Database }},
	{name: "secret", kind: kString, help: "system secret sealing keys and client secrets: >= 32 bytes, hex or raw; default for SQLite: a file <database>.secret created once", target: func(s *Settings) any { return &s.Secret }},
	{name: "admin_password", kind: kString, help: "password of the admin account created on an empty database (default: generated and printed once)", target: func(s *Settings) any { return &s.AdminPassword }},
	{name: "log_level", kind: kChoice, def: "info", choices: []string{"debug", "info", "warn", "error"}, help: "log level", target: func(s *Settings) any { return &s.LogLevel }},
	{name: "log_format", kind: kChoice, def: "text", choices: []string{"text", "json"}, help: "log format", target: func(s *Settings) any { return &s.LogFormat }},
	{name: "login_url", kind: kString, django: "OIDC_LOGIN_URL", help: "where the provider sends users to log in (default: the server's /login)", target: func(s *Settings) any { return &s.Server.Provider.LoginURL }},
	{name: "templates", kind: kString, django: "OIDC_TEMPLATES", help: "directory of templates overriding the built-in pages by file name", target: func(s *Settings) any { return &s.Templates }},
	{name: "translations", kind: kString, help: "directory of gettext catalogs named <language>.po (es.po, pt-BR.po) adding page languages or rewording built-in messages", target: func(s *Settings) any { return &s.Translations }},
	{name: "languages", kind: kString, help: "languages the pages are offered in, BCP 47 tags separated by commas or spaces (default: every catalog: en, es, fr, pl and those of OIDCD_TRANSLATIONS)", target: func(s *Settings) any { return &s.Languages }},
	{name: "default_language", kind: kString, def: "en", help: "language of the pages when neither ui_locales, the user's locale claim nor Accept-Language names an offered one", target: func(s *Settings) any { return &s.DefaultLanguage }},
	{name: "claims_locales", kind: kString, help: "languages users' localized claims may be in (discovery's claims_locales_supported), BCP 47 tags separated by commas or spaces (default: the pages' languages)", target: func(s *Settings) any { return &s.ClaimsLocales }},
	{name: "site_name", kind: kString, help: "site name shown in the header and title of every page", target: func(s *Settings) any { return &s.SiteName }},
	{name: "site_logo", kind: kString, help: "file of the site's logo (PNG, JPEG, GIF, WebP or SVG, at most 512 KiB), shown on every page and served by oidcd at /assets/logo", target: func(s *Settings) any { return &s.SiteLogo }},
	{name: "primary_color", kind: kString, def: "#0b57d0", help: "colour of buttons, links and focus outlines (#rrggbb); refused below WCAG 2.1 AA contrast (4.5:1) with white", target: func(s *Settings) any { return &s.PrimaryColor }},
	{name: "stylesheet", kind: kString, help: "file of extra CSS loaded after the built-in stylesheet on every page (served by oidcd at /assets/site.css)", target: func(s *Settings) any { return &s.Stylesheet }},
	{name: "privacy_url", kind: kString, help: "link to the site's privacy policy in every page's footer", target: func(s *Settings) any { return &s.PrivacyURL }},
	{name: "terms_url", kind: kString, help: "link to the site's terms of service in every page's footer", target: func(s *Settings) any { return &s.TermsURL }},
	{name: "help_url", kind: kString, help: "link to the site's help in every page's footer", target: func(s *Settings) any { return &s.HelpURL }},
	{name: "code_expire", kind: kSeconds, def: "600", django: "OIDC_CODE_EXPIRE", help: "authorization code lifetime", target: func(s *Settings) any { return &s.Server.Provider.CodeExpire }},
	{name: "idtoken_expire", kind: kSeconds, def: "600", django: "OIDC_IDTOKEN_EXPIRE", help: "ID token lifetime", target: func(s *Settings) any { return &s.Server.Provider.IDTokenExpire }},
	{name: "token_expire", kind: kSeconds, def: "3600", django: "OIDC_TOKEN_EXPIRE", help: "access token lifetime", target: func(s *Settings) any { return &s.Server.Provider.TokenExpire }},
	{name: "refresh_token_expire", kind: kSeconds, def: "2592000", help: "absolute refresh token lifetime (30 days)", target: func(s *Settings) any { return &s.Server.Provider.RefreshTokenExpire }},
	{name: "refresh_token_idle_expire", kind: kSeconds, def: "1209600", help: "refresh token idle lifetime (14 days)", target: func(s *Settings) any { return &s.Server.Provider.RefreshTokenIdleExpire }},
	{name: "skip_consent_expire", kind: kDays, def: "90", django: "OIDC_SKIP_CONSENT_EXPIRE", help: "how long a remembered consent lasts", target: func(s *Settings) any { return &s.Server.Provider.SkipConsentExpire }},
	{name: "idtoken_include_claims", kind: kBool, def: "false", django: "OIDC_IDTOKEN_INCLUDE_CLAIMS", help: "put the standard claims of the granted scopes in ID tokens", target: func(s *Settings) any { return &s.Server.Provider.IDTokenIncludeClaims }},
	{name: "grant_type_password_enable", kind: kBool, def: "false", django: "OIDC_GRANT_TYPE_PASSWORD_ENABLE", help: "allow the resource owner password grant (throttled like the login form)", target: func(s *Settings) any { return &s.Server.Provider.PasswordGrant }},
	{name: "session_management_enable", kind: kBool, def: "false", django: "OIDC_SESSION_MANAGEMENT_ENABLE", help: "OpenID Connect Session Management: /check-session-iframe, session_state in authorization responses, the browser-state cookie", target: func(s *Settings) any { return &s.Server.Provider.SessionManagement }},
	{name: "unauthenticated_session_management_key", kind: kString, django: "OIDC_UNAUTHENTICATED_SESSION_MANAGEMENT_KEY", help: "fixed browser-state key for unauthenticated users (default: derived from the system secret)", target: func(s *Settings) any { return &s.Server.Provider.UnauthenticatedSessionKey }},
	{name: "introspection_validate_audience_scope", kind: kBool, def: "true", django: "OIDC_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE", negate: true, help: "check a token's audience against the introspecting client's scope", target: func(s *Settings) any { return &s.Server.Provider.InsecureIntrospectionAnyAudience }},
	{name: "stateless_client_credentials", kind: kBool, def: "false", help: "client_credentials access tokens that are not stored: the token carries its client, scope and times under a MAC keyed by the system secret (no write per token); revocable, but not listed among the client's grants, and ended by a change of the system secret", target: func(s *Settings) any { return &s.Server.Provider.StatelessClientCredentials }},
	{name: "disable_query_token", kind: kBool, def: "false", help: "refuse access tokens in the URL query at userinfo", target: func(s *Settings) any { return &s.Server.Provider.DisableQueryToken }},
	{name: "device_flow_enable", kind: kBool, def: "false", help: "enable the device authorization grant (RFC 8628): /device_authorization and the /device page, for clients created with --grant-type device_code", target: func(s *Settings) any { return &s.Server.Provider.DeviceFlow }},
	{name: "dpop_enable", kind: kBool, def: "false", help: "DPoP (RFC 9449): token requests with a DPoP proof get tokens bound to its key, accepted at userinfo only with proofs by that key", target: func(s *Settings) any { return &s.Server.Provider.DPoP }},
	{name: "dpop_require_nonce", kind: kBool, def: "false", help: "make every DPoP proof carry a server nonce (DPoP-Nonce header; stateless, shared by all nodes)", target: func(s *Settings) any { return &s.Server.Provider.DPoPRequireNonce }},
	{name: "dpop_proof_window", kind: kSeconds, def: "60", help: "how far a DPoP proof's iat may lie from now; its jti is remembered twice as long", target: func(s *Settings) any { return &s.Server.Provider.DPoPProofWindow }},
	{name: "token_exchange_enable", kind: kBool, def: "false", help: "enable OAuth 2.0 Token Exchange (RFC 8693) for clients created with --grant-type token_exchange: a client may exchange its own access tokens for another audience or a narrower scope", target: func(s *Settings) any { return &s.Server.Provider.TokenExchange }},
	{name: "resources", kind: kString, help: "resource indicators (RFC 8707: absolute URIs, space-separated) every client may ask tokens for with the resource parameter; the tokens' audience names them (a client created with --resource may ask only for its own)", target: func(s *Settings) any { return &s.Resources }},
	{name: "jwt_resources", kind: kString, help: "like resources, but the access tokens for these are JWTs (RFC 9068, typ at+jwt, RS256) that the resource server can verify with the published keys; still revocable through introspection", target: func(s *Settings) any { return &s.JWTResources }},
	{name: "device_code_expire", kind: kSeconds, def: "600", help: "device code and user code lifetime", target: func(s *Settings) any { return &s.Server.Provider.DeviceCodeExpire }},
	{name: "device_poll_interval", kind: kSeconds, def: "5", help: "minimum seconds between a device's polls of the token endpoint", target: func(s *Settings) any { return &s.Server.Provider.DevicePollInterval }},
	{name: "user_code_max_failures", kind: kInt, def: "10", help: "wrong user codes per IP on the /device page before further codes are refused unchecked", target: func(s *Settings) any { return &s.Server.Provider.UserCodeMaxFailures }},
	{name: "user_code_failure_window", kind: kSeconds, def: "300", help: "sliding window of the user code throttle", target: func(s *Settings) any { return &s.Server.Provider.UserCodeFailureWindow }},
	{name: "insecure_allow_http_redirects", kind: kBool, def: "false", help: "allow http redirect URIs on non-loopback hosts when registering clients (development only)", target: func(s *Settings) any { return &s.Server.Provider.Registration.InsecureAllowHTTP }},
	{name: "registration_open", kind: kBool, def: "false", help: "let anyone register a client at /register (RFC 7591) without an initial access token", target: func(s *Settings) any { return &s.Server.Provider.Registration.Open }},
	{name: "require_pushed_authorization_requests", kind: kBool, def: "false", help: "refuse every authorization request not pushed to /par first (RFC 9126)", target: func(s *Settings) any { return &s.Server.Provider.RequirePAR }},
	{name: "par_expire", kind: kSeconds, def: "300", help: "lifetime of a request_uri from /par (it must outlast the user's login)", target: func(s *Settings) any { return &s.Server.Provider.PARExpire }},
	{name: "allow_private_targets", kind: kBool, def: "false", help: "let requests to URLs that clients supply (jwks_uri, back-channel logout) reach loopback, private and link-local addresses (tests, relying parties on an internal network)", target: func(s *Settings) any { return &s.Server.Provider.InsecureAllowPrivateTargets }},
	{name: "insecure_cookies", kind: kBool, def: "false", help: "omit the Secure cookie attribute even with an https issuer (development only)", target: func(s *Settings) any { return &s.Server.InsecureCookies }},
	{name: "session_expire", kind: kSeconds, def: "1209600", help: "login session lifetime (14 days)", target: func(s *Settings) any { return &s.Server.SessionExpire }},
	{name: "admin_enable", kind: kBool, def: "true", negate: true, help: "serve the web admin at /admin/ (accounts with the admin flag); false leaves only /account and the command line", target: func(s *Settings) any { return &s.Console.DisableAdmin }},
	{name: "admin_idle_expire", kind: kSeconds, def: "900", help: "the admin pages ask for the password again after this long without an admin request (15 minutes)", target: func(s *Settings) any { return &s.Console.AdminIdleExpire }},
	{name: "admin_session_expire", kind: kSeconds, def: "28800", help: "the admin pages ask for the password again this long after signing in, however busy (8 hours; user sessions last session_expire)", target: func(s *Settings) any { return &s.Console.AdminSessionExpire }},
	{name: "login_max_failures", kind: kInt, def: "10", help: "failed logins per username or IP before a lockout", target: func(s *Settings) any { return &s.Server.LoginMaxFailures }},
	{name: "password_min_length", kind: kInt, def: "8", help: "shortest password users create, set-password and OIDCD_ADMIN_PASSWORD accept (in characters)", target: func(s *Settings) any { return &s.PasswordMinLength }},
	{name: "login_failure_window", kind: kSeconds, def: "300", help: "sliding window of the login lockout", target: func(s *Settings) any { return &s.Server.LoginFailureWindow }},
	{name: "client_auth_max_failures", kind: kInt, def: "20", help: "failed client authentications per client and IP before further attempts are refused unchecked", target: func(s *Settings) any { return &s.Server.Provider.ClientAuthMaxFailures }},
	{name: "client_auth_failure_window", kind: kSeconds, def: "60", help: "sliding window of the client authentication throttle", target: func(s *Settings) any { return &s.Server.Provider.ClientAuthFailureWindow }},
	{name: "db_max_open_conns", kind: kInt, def: "20", help: "most connections a node opens to PostgreSQL (SQLite keeps its own pools)", target: func(s *Settings) any { return &s.DBMaxOpenConns }},
	{name: "db_max_idle_conns", kind: kInt, def: "20", help: "most idle connections a node keeps open to PostgreSQL (below db_max_open_conns, connections are closed and dialled again under load)", target: func(s *Settings) any { return &s.DBMaxIdleConns }},
	{name: "token_cache_ttl", kind: kSeconds, def: "1", zeroOK: true, help: "how long a node reuses a token it has read (introspection, userinfo, protected resources): a token revoked through this node is refused at once, one revoked through another node or the command line after at most this; 0 reads the database on every request", target: func(s *Settings) any { return &s.TokenCacheTTL }},
	{name: "backchannel_logout_poll_interval", kind: kSeconds, def: "2", help: "how often an idle node looks for back-channel logout tokens to deliver (its own logouts wake it at once)", target: func(s *Settings) any { return &s.Server.Provider.LogoutDeliveryInterval }},
	{name: "backchannel_logout_retry_backoff", kind: kSeconds, def: "10", help: "wait after a failed back-channel logout delivery; doubles with each failure, up to an hour", target: func(s *Settings) any { return &s.Server.Provider.LogoutRetryBackoff }},
	{name: "backchannel_logout_retry_for", kind: kSeconds, def: "86400", help: "how long a back-channel logout token is retried before it is given up", target: func(s *Settings) any { return &s.Server.Provider.LogoutRetryFor }},
	{name: "backchannel_logout_lease", kind: kSeconds, def: "30", help: "how long a node holds a back-channel logout message it delivers (one attempt takes at most a third of it); a node that dies leaves the message to another after this", target: func(s *Settings) any { return &s.Server.Provider.LogoutLease }},
	{name: "audit_expire", kind: kDays, help: "how long the audit log keeps a record (days or a Go duration); older ones are deleted with the other expired rows (default: kept until deleted by hand)", target: func(s *Settings) any { return &s.AuditExpire }},
	{name: "cleanup_interval", kind: kSeconds, def: "300", help: "how often a node deletes expired codes, tokens, grants, sessions and consents (safe on several nodes at once)", target: func(s *Settings) any { return &s.Server.Provider.CleanupInterval }},
	{name: "jwks_max_age", kind: kSeconds, def: "300", help: "JWKS cache lifetime sent to relying parties; a new signing key is published for key_refresh + jwks_max_age before it signs", target: func(s *Settings) any { return &s.Server.Provider.JWKSMaxAge }},
	{name: "key_refresh", kind: kSeconds, def: "30", help: "how often a node re-reads signing keys: a key created or rotated elsewhere is used within this", target: func(s *Settings) any { return &s.Server.Provider.KeyRefresh }},
	{name: "tls_cert", kind: kString, help: "PEM certificate chain: serve https (TLS 1.2 or later) with it and OIDCD_TLS_KEY; re-read on SIGHUP and when the files change", target: func(s *Settings) any { return &s.TLSCert }},
	{name: "tls_key", kind: kString, help: "PEM private key of OIDCD_TLS_CERT", target: func(s *Settings) any { return &s.TLSKey }},
	{name: "metrics_addr", kind: kString, help: "address of a separate listener serving Prometheus metrics at /metrics (e.g. 127.0.0.1:9090; default: off)", target: func(s *Settings) any { return &s.MetricsAddr }},
	{name: "healthz_version", kind: kBool, def: "false", help: "include the build's version in /healthz (off: the version tells attackers which advisories apply)", target: func(s *Settings) any { return &s.Server.HealthzVersion }},
	{name: "trusted_proxies", kind: kPrefixes, help: "proxies whose X-Forwarded-For is believed (CIDRs or IPs, comma-separated)", target: func(s *Settings) any { return &s.Server.TrustedProxies }},
}

func lookupSetting(name string) (setting, bool) {
	i := slices.IndexFunc(settingsTable, func(st setting) bool { return st.name == name })
	if i < 0 {
		return setting{}, false
	}
	return settingsTable[i], true
}

func (st setting) env() string  { return "OIDCD_" + strings.ToUpper(st.name) }
func (st setting) flag() string { return strings.ReplaceAll(st.name, "_", "-") }

var plainNumber = regexp.MustCompile(`^[0-9]+$`)

// set parses v into the setting's field of s.
func (st setting) set(s *Settings, v string) error {
	v = strings.TrimSpace(v)
	switch p := st.target(s).(type) {
	case *string:
		if st.kind == kChoice {
			v = strings.ToLower(v)
			if !slices.Contains(st.choices, v) {
				return fmt.Errorf("%q is not one of %s", v, strings.Join(st.choices, ", "))
			}
		}
		*p = v
	case *bool:
		// Exactly the two documented words: "yes", "1" or "on" would let a
		// typo such as "ture" pass for one of them in other programs.
		switch v {
		case "true":
			*p = !st.negate
		case "false":
			*p = st.negate
		default:
			return fmt.Errorf("invalid boolean %q: use true or false", v)
		}
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("invalid number %q: use a positive integer", v)
		}
		*p = n
	case *time.Duration:
		unit, unitName := time.Second, "seconds"
		if st.kind == kDays {
			unit, unitName = 24*time.Hour, "days"
		}
		var d time.Duration
		if plainNumber.MatchString(v) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n > int64(1<<62)/int64(unit) {
				return fmt.Errorf("invalid duration %q: too large", v)
			}
			d = time.Duration(n) * unit
		} else {
			var err error
			if d, err = time.ParseDuration(v); err != nil {
				return fmt.Errorf("invalid duration %q: use a number of %s or a Go duration such as 10m or 1h30m", v, unitName)
			}
		}
		switch {
		case d < 0 && st.zeroOK:
			return fmt.Errorf("invalid duration %q: must not be negative", v)
		case d <= 0 && !st.zeroOK:
			return fmt.Errorf("invalid duration %q: must be positive", v)
		}
		*p = d
	case *[]netip.Prefix:
		var out []netip.Prefix
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			pr, err := netip.ParsePrefix(f)
			if err != nil {
				a, err2 := netip.ParseAddr(f)
				if err2 != nil {
					return fmt.Errorf("invalid IP prefix %q", f)
				}
				pr = netip.PrefixFrom(a, a.BitLen())
			}
			out = append(out, pr.Masked())
		}
		*p = out
	default:
		panic("oidcd: setting " + st.name + " has an unsupported target")
	}
	return nil
}

// fromJSON turns a config-file value into the setting's text form.
func (st setting) fromJSON(raw json.RawMessage) (string, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		if st.kind == kBool {
			return strconv.FormatBool(v), nil
		}
	case json.Number:
		if st.kind == kSeconds || st.kind == kDays || st.kind == kInt {
			return v.String(), nil
		}
	case []any:
		if st.kind == kPrefixes {
			var parts []string
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return "", errors.New("want an array of strings")
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, ","), nil
		}
	}
	want := map[kind]string{
		kString: "a string", kChoice: "a string", kBool: "true or false",
		kSeconds: "a number of seconds or a duration string", kDays: "a number of days or a duration string",
		kInt: "a number", kPrefixes: "an array of strings or a string",
	}[st.kind]
	return "", fmt.Errorf("want %s", want)
}

// defaultSettings returns the settings before any source is applied.
func defaultSettings() *Settings {
	s := &Settings{}
	for _, st := range settingsTable {
		if st.def == "" {
			continue
		}
		if err := st.set(s, st.def); err != nil {
			panic("oidcd: bad default of " + st.name + ": " + err.Error())
		}
	}
	return s
}

// settingFlags records which settings were given as flags, in order.
type settingFlags struct {
	config string
	given  []flagValue
}

type flagValue struct {
	st    setting
	value string
}

// register adds --config and a flag for each named setting (all when names
// is empty) to fs.
func (sf *settingFlags) register(fs *flag.FlagSet, names ...string) {
	fs.StringVar(&sf.config, "config", "", "read settings from this JSON `file` (also OIDCD_CONFIG)")
	for _, st := range settingsTable {
		if len(names) > 0 && !slices.Contains(names, st.name) {
			continue
		}
		usage := st.help
		if st.def != "" {
			usage += " (default " + st.def + ")"
		}
		usage += " [" + st.env() + "]"
		add := func(v string) error {
			// Check the syntax now, so the error names the flag.
			if err := st.set(&Settings{}, v); err != nil {
				return err
			}
			sf.given = append(sf.given, flagValue{st, v})
			return nil
		}
		if st.kind == kBool {
			fs.BoolFunc(st.flag(), usage, add)
		} else {
			fs.Func(st.flag(), usage, add)
		}
	}
}

// loadSettings applies, over the defaults, the config file, then the
// environment, then the flags. It reports every problem at once.
func loadSettings(sf *settingFlags, lookupEnv func(string) (string, bool)) (*Settings, error) {
	s := defaultSettings()
	var errs []error
	path := sf.config
	if path == "" {
		path, _ = lookupEnv("OIDCD_CONFIG")
	}
	if path != "" {
		if err := applyFile(s, path); err != nil {
			errs = append(errs, err)
		}
	}
	// site_url before issuer, so that issuer wins within one source.
	for _, st := range settingsTable {
		v, ok := lookupEnv(st.env())
		if !ok || v == "" {
			continue
		}
		if err := st.set(s, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", st.env(), err))
		}
	}
	for _, f := range sf.given {
		if err := f.st.set(s, f.value); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", f.st.flag(), err))
		}
	}
	return s, errors.Join(errs...)
}

// applyFile reads a JSON object whose keys are setting names.
func applyFile(s *Settings, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config file %s: not a JSON object: %w", path, err)
	}
	var errs []error
	// Table order, so that aliases apply predictably.
	for _, st := range settingsTable {
		raw, ok := m[st.name]
		if !ok {
			continue
		}
		v, err := st.fromJSON(raw)
		if err == nil {
			err = st.set(s, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %q: %w", path, st.name, err))
		}
	}
	var unknown []string
	for k := range m {
		if _, ok := lookupSetting(k); !ok {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("config file %s: unknown setting %q", path, k))
	}
	return errors.Join(errs...)
}

// printSettings writes the settings table (help output and README).
func printSettings(w io.Writer) {
	fmt.Fprintln(w, "Settings (environment variable / config file key / serve flag; flag > env > file > default):")
	for _, st := range settingsTable {
		fmt.Fprintf(w, "  %s  (%s, --%s)  %s", st.env(), st.name, st.flag(), kindNames[st.kind])
		if st.kind == kChoice {
			fmt.Fprintf(w, ": %s", strings.Join(st.choices, "|"))
		}
		if st.def != "" {
			fmt.Fprintf(w, ", default %s", st.def)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "      %s", st.help)
		if st.django != "" {
			fmt.Fprintf(w, " [django-oidc-provider: %s]", st.django)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "  OIDCD_CONFIG  (--config)  path of a JSON config file whose keys are the names above")
	fmt.Fprintln(w, "Durations take a plain number in the unit shown or a Go duration (10m, 1h30m); booleans true or false.")
}

// databaseKind tells SQLite from PostgreSQL DSNs and returns the SQLite
// file path (the same rules as sqlstore.Open).
func databaseKind(dsn string) (postgres bool, sqlitePath string) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return true, ""
	case strings.HasPrefix(dsn, "sqlite:"):
		p := strings.TrimPrefix(dsn, "sqlite:")
		if strings.HasPrefix(p, "//") {
			p = p[2:]
		}
		return false, p
	}
	return false, dsn
}

// systemSecret returns the secret that seals keys and client secrets:
// OIDCD_SECRET when set (hex-decoded when it is hex of at least 32 bytes,
// else its raw bytes, at least 32), else, for SQLite, the hex contents of
// the file <database path>.secret, created once with mode 0600.
func systemSecret(s *Settings) ([]byte, error) {
	if s.Secret != "" {
		b, err := parseSecret(s.Secret)
		if err != nil {
			return nil, fmt.Errorf("OIDCD_SECRET %w", err)
		}
		return b, nil
	}
	pg, path := databaseKind(s.Database)
	if pg {
		return nil, errors.New("OIDCD_SECRET is required with PostgreSQL: every node must share one system secret (e.g. 'openssl rand -hex 32')")
	}
	if path == "" {
		return nil, errors.New("no database path to keep the system secret beside; set OIDCD_SECRET")
	}
	return secretFile(path + ".secret")
}

// secretFile reads the secret file, creating it atomically when missing.
func secretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw := make([]byte, 32)
		rand.Read(raw)
		tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
		if err := os.WriteFile(tmp, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("create secret file: %w", err)
		}
		// Link fails if another process created the file first; then its
		// secret wins and is read below.
		linkErr := os.Link(tmp, path)
		os.Remove(tmp)
		if linkErr != nil && !errors.Is(linkErr, fs.ErrExist) {
			return nil, fmt.Errorf("create secret file: %w", linkErr)
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(secret) < keys.MinSecretLen {
		return nil, fmt.Errorf("secret file %s must hold at least %d hex-encoded bytes", path, keys.MinSecretLen)
	}
	return secret, nil
}

// newLogger builds the structured logger the settings ask for.
func newLogger(s *Settings, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(s.LogLevel)) // validated by the table
	opts := &slog.HandlerOptions{Level: level}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// reservedEnvPrefixes name OIDCD_ variables that belong to test harnesses
// (OIDCD_TEST_POSTGRES for the PostgreSQL tests, OIDCD_E2E_BIN for the
// end-to-end runner), not to the server: they are never settings and never
// errors. Every other OIDCD_ variable must be a setting or OIDCD_CONFIG.
var reservedEnvPrefixes = []string{"OIDCD_TEST_", "OIDCD_E2E_"}

// checkEnviron reports, all at once and each with the nearest valid name,
// the OIDCD_ variables of environ ("NAME=value" pairs) that are no setting:
// a misspelled variable must not be silently ignored.
func checkEnviron(environ []string) error {
	known := []string{"OIDCD_CONFIG"}
	for _, st := range settingsTable {
		known = append(known, st.env())
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "OIDCD_") || slices.Contains(known, name) ||
			slices.ContainsFunc(reservedEnvPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		unknown = append(unknown, name)
	}
	slices.Sort(unknown)
	unknown = slices.Compact(unknown)
	var errs []error
	for _, name := range unknown {
		msg := "unknown environment variable " + name
		if near := nearest(name, known); near != "" {
			msg += " (did you mean " + near + "?)"
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// nearest returns the candidate closest to name by edit distance, or ""
// when none is close enough to be a plausible misspelling.
func nearest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(name, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	// The common OIDCD_ prefix is free: judge the rest.
	if bestD < 0 || bestD > max(2, (len(name)-len("OIDCD_"))/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes: the
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// databaseMissing returns an error when s names a SQLite file that does not
// exist: commands other than serve and migrate refuse to create one unless
// given --create, so that a typo in --database is not a new, empty
// database. (oidcd never creates PostgreSQL databases: connecting to a
// missing one fails anyway.)
func databaseMissing(s *Settings) error {
	pg, path := databaseKind(s.Database)
	if pg || path == "" {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("database %s does not exist (check --database or OIDCD_DATABASE; 'oidcd migrate' or --create creates it)", path)
	}
	return nil
}
