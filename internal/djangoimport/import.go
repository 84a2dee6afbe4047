package djangoimport

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage"
)

// Target is the oidcd database an import writes to: sqlstore.Store, whose
// Atomically runs the whole import in one transaction.
type Target interface {
	Atomically(ctx context.Context, fn func(tx storage.Storage) error) error
}

// Options configure an import.
type Options struct {
	// From is the django-oidc-provider database: a SQLite file path (or
	// "sqlite:PATH") or a "postgres://" URL.
	From string
	// DryRun reads and checks everything and reports what would change,
	// writing nothing.
	DryRun bool
	// Sub is how imported users' "sub" is kept: "id" (django-oidc-provider's
	// default generator, the Django user id) or "username". Defaults to "id".
	Sub string
	// SubMap gives each Django user id its "sub", for sites whose
	// OIDC_IDTOKEN_SUB_GENERATOR computed something else (read with
	// ReadSubMap). Users it does not list are left out. It overrides Sub.
	SubMap map[int64]string
	// ClaimsSQL is a query run on the source database whose rows fill the
	// users' standard claims: a user_id column and columns named after
	// claims (see ClaimColumns).
	ClaimsSQL string
	// MediaDir is the site's MEDIA_ROOT: client logos are read from it and
	// kept in the client as a data: URL. Without it, logos are reported.
	MediaDir string
	// InsecureAllowHTTP keeps plain-http redirect URIs of non-loopback
	// hosts (SECURITY A4), as "clients create --insecure-allow-http" does.
	InsecureAllowHTTP bool
	// Sealer seals client secrets and private keys (the system key).
	Sealer keys.Sealer
	// Now is the time of the import. Defaults to time.Now.
	Now func() time.Time
	// RefreshTokenExpire and RefreshTokenIdleExpire bound imported refresh
	// tokens as the server bounds its own (django-oidc-provider's never
	// expire): counted from the import. Default 30 and 14 days.
	RefreshTokenExpire, RefreshTokenIdleExpire time.Duration
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("djangoimport: dry run")

// Run imports the django-oidc-provider database of opts.From into target
// in one transaction: everything or nothing. Objects that already exist
// (an earlier run) are updated when they differ and otherwise left alone,
// so Run may be repeated. The report lists counts and every row left out.
func Run(ctx context.Context, target Target, opts Options) (*Report, error) {
	if opts.Sealer == nil {
		return nil, errors.New("djangoimport: no sealer")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sub == "" {
		opts.Sub = "id"
	}
	if opts.Sub != "id" && opts.Sub != "username" {
		return nil, fmt.Errorf("djangoimport: --sub must be id or username, not %q", opts.Sub)
	}
	if opts.RefreshTokenExpire <= 0 {
		opts.RefreshTokenExpire = 30 * 24 * time.Hour
	}
	if opts.RefreshTokenIdleExpire <= 0 {
		opts.RefreshTokenIdleExpire = 14 * 24 * time.Hour
	}
	src, err := openSource(ctx, opts.From)
	if err != nil {
		return nil, err
	}
	defer src.close()
	d, err := readSite(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	var report *Report
	err = target.Atomically(ctx, func(tx storage.Storage) error {
		// A PostgreSQL transaction may run again: start from scratch.
		report = newReport()
		report.Source = redact(opts.From)
		report.Release, report.Migration, report.DryRun = src.release(), src.last, opts.DryRun
		im := &importer{tx: tx, opts: opts, now: opts.Now().UTC(), r: report,
			users: map[int64]string{}, clients: map[string]*storage.Client{}}
		if err := im.run(ctx, d); err != nil {
			return err
		}
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, fmt.Errorf("import failed, nothing was written: %w", err)
	}
	return report, nil
}

// importer writes one site's rows inside the import's transaction.
type importer struct {
	tx   storage.Storage
	opts Options
	now  time.Time
	r    *Report
	// users maps Django user ids to imported oidcd user ids (active users
	// only: tokens of others are left out).
	users map[int64]string
	// clients are the imported clients by id.
	clients map[string]*storage.Client
}

func (im *importer) run(ctx context.Context, d *site) error {
	if d.release != "" {
		im.r.Notes = append(im.r.Notes, d.release)
	}
	im.r.Notes = append(im.r.Notes, d.notes...)
	for _, c := range d.clients {
		if err := im.client(ctx, c); err != nil {
			return err
		}
	}
	if err := im.keys(ctx, d.keys); err != nil {
		return err
	}
	for _, u := range d.users {
		if err := im.user(ctx, u, d.claims[u.id]); err != nil {
			return err
		}
	}
	for _, c := range d.consents {
		if err := im.consent(ctx, c); err != nil {
			return err
		}
	}
	for _, t := range d.tokens {
		if err := im.token(ctx, t); err != nil {
			return err
		}
	}
	for _, c := range d.codes {
		if err := im.code(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) client(ctx context.Context, dc *djClient) error {
	cnt := im.r.Counts["clients"]
	cnt.Read++
	old, err := im.tx.Client(ctx, dc.clientID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		old = nil
	case err != nil:
		return fmt.Errorf("client %s: %w", dc.clientID, err)
	}
	// The import owns the properties django-oidc-provider has and sets
	// them below; those it does not have (registration metadata, logout
	// URIs, the registered logo_uri, the public password grant) stay as
	// they are in oidcd.
	c := &storage.Client{ID: dc.clientID}
	if old != nil {
		cp := *old
		c = &cp
	}
	c.Name = strings.TrimSpace(dc.name)
	c.Type = storage.ClientType(dc.clientType)
	c.ResponseTypes = dc.responseTypes
	c.JWTAlg = dc.jwtAlg
	c.RequireConsent, c.ReuseConsent = dc.requireConsent, dc.reuseConsent
	c.Scope = strings.Fields(dc.scope)
	c.Website, c.TermsURL, c.ContactEmail = dc.website, dc.terms, dc.contactEmail
	c.CreatedAt = dc.created
	c.LogoImage, c.LogoType = nil, ""
	// The secret is the source's, set below.
	c.SecretHash, c.SecretSealed, c.PreviousSecretHash, c.PreviousSecretExpiresAt = nil, nil, nil, time.Time{}
	if c.Name == "" {
		c.Name = c.ID // oidcd requires a name; the consent page shows it
		im.r.part("clients", dc.clientID, "no name: the client id is used as its name")
	}
	// Each redirect URI is checked as oidcd checks registrations
	// (SECURITY A4); one oidcd refuses is left out, not the client.
	keep := func(list []string, what string) []string {
		var out []string
		for _, u := range list {
			probe := &storage.Client{Name: "x", Type: storage.Public, JWTAlg: keys.RS256, RedirectURIs: []string{u}}
			if err := op.NormalizeClient(probe, im.clientOptions()); err != nil {
				_, why, _ := strings.Cut(err.Error(), ": ")
				im.r.part("clients", dc.clientID, "%s %q left out: %s", what, u, why)
				continue
			}
			out = append(out, u)
		}
		return out
	}
	c.RedirectURIs = keep(dc.redirectURIs, "redirect URI")
	c.PostLogoutRedirectURIs = keep(dc.postLogoutURIs, "post-logout redirect URI")
	if c.Type == storage.Confidential {
		if dc.secret == "" {
			im.r.skip("clients", dc.clientID, "a confidential client without a secret")
			return nil
		}
	}
	if err := op.NormalizeClient(c, im.clientOptions()); err != nil {
		im.r.skip("clients", dc.clientID, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		return nil
	}
	if c.JWTAlg == keys.HS256 && len(dc.secret) < 32 {
		// RFC 7518 §3.2: an HS256 key has at least 256 bits. Imported as it
		// is (the secret still authenticates the client), but oidcd cannot
		// sign its ID tokens until the secret or the algorithm changes.
		im.r.part("clients", dc.clientID, "jwt_alg HS256 with a %d-byte secret: ID tokens need at least 32 bytes (RFC 7518 §3.2); "+
			"give the client a new secret (oidcd clients rotate-secret) or move it to RS256", len(dc.secret))
	}
	if dc.logo != "" {
		c.LogoImage, c.LogoType = im.logo(dc)
	}
	switch {
	case old == nil:
		if c.Type == storage.Confidential {
			if err := op.SetClientSecretTo(c, dc.secret, im.opts.Sealer); err != nil {
				return fmt.Errorf("client %s: %w", c.ID, err)
			}
		}
		if err := im.tx.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("client %s: %w", c.ID, err)
		}
		cnt.Created++
	default:
		// The sealed copy differs on every sealing: keep the stored one when
		// the secret is the same.
		if c.Type == storage.Confidential {
			if bytes.Equal(old.SecretHash, op.SecretDigest(dc.secret)) {
				c.SecretHash, c.SecretSealed = old.SecretHash, old.SecretSealed
				c.PreviousSecretHash, c.PreviousSecretExpiresAt = old.PreviousSecretHash, old.PreviousSecretExpiresAt
			} else if err := op.SetClientSecretTo(c, dc.secret, im.opts.Sealer); err != nil {
				return fmt.Errorf("client %s: %w", c.ID, err)
			}
		}
		if sameClient(old, c) {
			cnt.Unchanged++
		} else {
			if err := im.tx.UpdateClient(ctx, c); err != nil {
				return fmt.Errorf("client %s: %w", c.ID, err)
			}
			cnt.Updated++
		}
	}
	im.clients[c.ID] = c
	return nil
}

// clientOptions are the checks imported clients pass.
func (im *importer) clientOptions() *op.ClientOptions {
	return &op.ClientOptions{InsecureAllowHTTP: im.opts.InsecureAllowHTTP}
}

// sameClient compares what the import sets: b starts as a copy of a, so
// the other properties are equal.
func sameClient(a, b *storage.Client) bool {
	return a.Name == b.Name && a.Type == b.Type && bytes.Equal(a.SecretHash, b.SecretHash) &&
		bytes.Equal(a.SecretSealed, b.SecretSealed) && slices.Equal(a.ResponseTypes, b.ResponseTypes) &&
		slices.Equal(a.RedirectURIs, b.RedirectURIs) && slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs) &&
		a.JWTAlg == b.JWTAlg && a.RequireConsent == b.RequireConsent && a.ReuseConsent == b.ReuseConsent &&
		slices.Equal(a.Scope, b.Scope) && a.Website == b.Website && a.TermsURL == b.TermsURL &&
		a.ContactEmail == b.ContactEmail && bytes.Equal(a.LogoImage, b.LogoImage) &&
		a.LogoType == b.LogoType && a.CreatedAt.Equal(b.CreatedAt)
}

// logo reads the client's logo from the media folder and checks it as
// oidcd checks uploaded logos (op.CheckLogo); it returns nil (reported)
// when it cannot be used.
func (im *importer) logo(dc *djClient) ([]byte, string) {
	if im.opts.MediaDir == "" {
		im.r.part("clients", dc.clientID, "logo %q left out: give the site's MEDIA_ROOT with --media", dc.logo)
		return nil, ""
	}
	rel := filepath.FromSlash(dc.logo)
	if !filepath.IsLocal(rel) {
		im.r.part("clients", dc.clientID, "logo %q left out: not a path inside the media folder", dc.logo)
		return nil, ""
	}
	b, err := os.ReadFile(filepath.Join(im.opts.MediaDir, rel))
	if err != nil {
		im.r.part("clients", dc.clientID, "logo %q left out: %v", dc.logo, err)
		return nil, ""
	}
	ct, err := op.CheckLogo(b)
	if err != nil {
		im.r.part("clients", dc.clientID, "logo %q left out: %v", dc.logo, err)
		return nil, ""
	}
	return b, ct
}

// keys imports RSAKey rows with their kid (django-oidc-provider's kid is
// the MD5 of the PEM text), so ID tokens relying parties hold still verify.
// The newest key (highest id) signs: it gets the import time as creation
// time, older keys one second less each; all stay active and published.
func (im *importer) keys(ctx context.Context, dks []*djKey) error {
	cnt := im.r.Counts["keys"]
	existing, err := im.tx.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	have := map[string]bool{}
	for _, k := range existing {
		have[k.ID] = true
	}
	for i, dk := range dks {
		cnt.Read++
		sum := md5.Sum([]byte(dk.pem))
		kid := hex.EncodeToString(sum[:])
		id := fmt.Sprintf("%d (kid %s)", dk.id, kid)
		signer, err := keys.ParsePEM([]byte(dk.pem))
		if err != nil {
			im.r.skip("keys", id, "%v", err)
			continue
		}
		if alg, _ := keys.AlgFor(signer); alg != keys.RS256 {
			im.r.skip("keys", id, "a %s key in RSAKey", alg)
			continue
		}
		if have[kid] {
			cnt.Unchanged++
			continue
		}
		created := im.now.Add(-time.Duration(len(dks)-1-i) * time.Second)
		sk, err := keys.NewSigningKeyWithKID(signer, kid, im.opts.Sealer, created)
		if err != nil {
			im.r.skip("keys", id, "%v", err)
			continue
		}
		if err := im.tx.CreateKey(ctx, sk); err != nil {
			return fmt.Errorf("key %s: %w", kid, err)
		}
		have[kid] = true
		cnt.Created++
	}
	if cnt.Read > 0 && cnt.Created+cnt.Unchanged == 0 {
		im.r.Notes = append(im.r.Notes, "no RSA key could be imported: ID tokens relying parties hold will not verify; "+
			"oidcd serve creates a new signing key on its first start if the database has none")
	}
	return nil
}

func (im *importer) user(ctx context.Context, du *djUser, claims map[string]any) error {
	cnt := im.r.Counts["users"]
	cnt.Read++
	id := fmt.Sprint(du.id)
	if im.opts.Sub == "username" {
		id = du.username
	}
	label := fmt.Sprintf("%d (%s)", du.id, du.username)
	if im.opts.SubMap != nil {
		sub, ok := im.opts.SubMap[du.id]
		if !ok {
			im.r.skip("users", label, "no sub for this user in the --sub-map file")
			return nil
		}
		id = sub
	}
	if err := server.ValidateUsername(du.username); err != nil {
		im.r.skip("users", label, "%v", err)
		return nil
	}
	u := &storage.User{
		ID:        id,
		Username:  du.username,
		Admin:     du.staff || du.superuser,
		CreatedAt: du.joined,
		Claims: storage.Claims{
			Name:       strings.TrimSpace(du.first + " " + du.last),
			GivenName:  du.first,
			FamilyName: du.last,
			Email:      du.email,
			UpdatedAt:  du.joined,
		},
	}
	if err := applyClaims(u, claims); err != nil {
		im.r.skip("users", label, "claims: %v", err)
		return nil
	}
	hasher := server.DjangoHasher(du.password)
	switch {
	case !du.active:
		// Django refuses inactive users; so does an account without a password.
		im.r.part("users", label, "inactive in Django: imported without a password, and its tokens and consents left out")
	case hasher == "" || hasher == "unusable":
		im.r.MustResetPassword = append(im.r.MustResetPassword, du.username)
	case !server.DjangoHasherSupported(hasher):
		im.r.part("users", label, "password hasher %s is not supported: the user must reset the password", hasher)
		im.r.MustResetPassword = append(im.r.MustResetPassword, du.username)
	default:
		u.PasswordHash = du.password
	}
	old, err := im.tx.User(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if other, err := im.tx.UserByUsername(ctx, u.Username); err == nil {
			im.r.skip("users", label, "username taken by the oidcd account %s", other.ID)
			return nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("user %s: %w", label, err)
		}
		if err := im.tx.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("user %s: %w", label, err)
		}
		cnt.Created++
	case err != nil:
		return fmt.Errorf("user %s: %w", label, err)
	default:
		if old.Username != u.Username {
			if other, err := im.tx.UserByUsername(ctx, u.Username); err == nil && other.ID != id {
				im.r.skip("users", label, "username taken by the oidcd account %s", other.ID)
				return nil
			}
		}
		// A hash already upgraded at login (argon2id) stays: the user proved
		// that password to oidcd.
		if du.active && old.PasswordHash != "" && !server.NeedsRehash(old.PasswordHash) && u.PasswordHash == du.password {
			u.PasswordHash = old.PasswordHash
		}
		u.CreatedAt = old.CreatedAt
		u.UpdatedAt = old.UpdatedAt
		if sameUser(old, u) {
			cnt.Unchanged++
		} else {
			u.UpdatedAt = im.now
			if err := im.tx.UpdateUser(ctx, u); err != nil {
				return fmt.Errorf("user %s: %w", label, err)
			}
			cnt.Updated++
		}
	}
	if du.active {
		im.users[du.id] = id
	}
	return nil
}

// sameUser compares every field of two accounts, times by instant.
func sameUser(a, b *storage.User) bool {
	x, y := *a, *b
	if !x.CreatedAt.Equal(y.CreatedAt) || !x.UpdatedAt.Equal(y.UpdatedAt) {
		return false
	}
	if !maps.Equal(x.Localized, y.Localized) {
		return false
	}
	x.CreatedAt, x.UpdatedAt, y.CreatedAt, y.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	x.Localized, y.Localized = nil, nil
	return reflect.DeepEqual(x, y)
}

func (im *importer) consent(ctx context.Context, dc *djConsent) error {
	cnt := im.r.Counts["consents"]
	cnt.Read++
	label := fmt.Sprintf("%d (user %d, client %s)", dc.id, dc.userID, dc.clientID)
	userID, ok, reason := im.owner(dc.userID, dc.clientID)
	switch {
	case !ok:
		im.r.skip("consents", label, "%s", reason)
		return nil
	case !dc.expires.After(im.now):
		im.r.skip("consents", label, "expired at %s", dc.expires.Format(time.RFC3339))
		return nil
	}
	c := &storage.Consent{UserID: userID, ClientID: dc.clientID, Scope: strings.Fields(dc.scope),
		GivenAt: dc.given, ExpiresAt: dc.expires}
	old, err := im.tx.Consent(ctx, userID, dc.clientID, im.now)
	switch {
	case err == nil && slices.Equal(old.Scope, c.Scope) && old.GivenAt.Equal(c.GivenAt) && old.ExpiresAt.Equal(c.ExpiresAt):
		cnt.Unchanged++
		return nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("consent %s: %w", label, err)
	}
	if err := im.tx.SaveConsent(ctx, c); err != nil {
		return fmt.Errorf("consent %s: %w", label, err)
	}
	if err == nil {
		cnt.Updated++
	} else {
		cnt.Created++
	}
	return nil
}

// owner maps a row's Django user and client to imported ones; reason says
// why the row is left out.
func (im *importer) owner(djUserID int64, clientID string) (userID string, ok bool, reason string) {
	if _, ok := im.clients[clientID]; !ok {
		return "", false, "its client was not imported"
	}
	userID, ok = im.users[djUserID]
	if !ok {
		return "", false, fmt.Sprintf("its user %d was not imported or is inactive", djUserID)
	}
	return userID, true, ""
}

// artefactID derives a stable grant id from a token or code, so that a
// second run finds the grant of the first.
func artefactID(kind, value string) string {
	h := sha256.Sum256([]byte("django-oidc-provider " + kind + ":" + value))
	return "dj" + hex.EncodeToString(h[:15])
}

// token imports a Token row as a grant: its access token while it lives,
// and its refresh token (which django-oidc-provider never expires) with
// oidcd's refresh-token limits counted from the import. Only digests are
// stored.
func (im *importer) token(ctx context.Context, dt *djToken) error {
	cnt := im.r.Counts["tokens"]
	cnt.Read++
	label := fmt.Sprintf("%d (client %s)", dt.id, dt.clientID)
	if _, ok := im.clients[dt.clientID]; !ok {
		im.r.skip("tokens", label, "its client was not imported")
		return nil
	}
	userID := ""
	if dt.userID != 0 {
		var ok bool
		if userID, ok = im.users[dt.userID]; !ok {
			im.r.skip("tokens", label, "its user %d was not imported or is inactive", dt.userID)
			return nil
		}
	}
	accessLive := dt.expires.After(im.now)
	// client_credentials tokens (no user) never carried a refresh token to
	// the client.
	withRefresh := userID != "" && dt.refreshToken != ""
	if !accessLive && !withRefresh {
		im.r.skip("tokens", label, "expired at %s", dt.expires.Format(time.RFC3339))
		return nil
	}
	if dt.accessToken == "" {
		im.r.skip("tokens", label, "no access token")
		return nil
	}
	g := &storage.Grant{
		ID:        artefactID("token", dt.accessToken),
		ClientID:  dt.clientID,
		UserID:    userID,
		Scope:     strings.Fields(dt.scope),
		Nonce:     dt.nonce,
		AuthTime:  dt.authTime,
		CreatedAt: im.now,
		ExpiresAt: im.now.Add(im.opts.RefreshTokenExpire),
	}
	if g.AuthTime.IsZero() {
		g.AuthTime = im.now
	}
	if !withRefresh {
		g.ExpiresAt = dt.expires
	}
	var toks []*storage.Token
	if accessLive {
		toks = append(toks, &storage.Token{Hash: op.TokenKey(dt.accessToken), Kind: storage.AccessToken,
			GrantID: g.ID, ClientID: g.ClientID, UserID: userID, Scope: g.Scope, CreatedAt: im.now, ExpiresAt: dt.expires})
	} else {
		im.r.part("tokens", label, "access token expired at %s: only the refresh token is imported", dt.expires.Format(time.RFC3339))
	}
	if withRefresh {
		exp := im.now.Add(im.opts.RefreshTokenIdleExpire)
		if g.ExpiresAt.Before(exp) {
			exp = g.ExpiresAt
		}
		toks = append(toks, &storage.Token{Hash: op.TokenKey(dt.refreshToken), Kind: storage.RefreshToken,
			GrantID: g.ID, ClientID: g.ClientID, UserID: userID, Scope: g.Scope, CreatedAt: im.now, ExpiresAt: exp})
	}
	err := im.tx.CreateGrant(ctx, g, toks...)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		// Imported by an earlier run (and perhaps used, rotated or revoked
		// since): left as it is.
		cnt.Unchanged++
	case err != nil:
		return fmt.Errorf("token %s: %w", label, err)
	default:
		cnt.Created++
	}
	return nil
}

// code imports a live authorization code. django-oidc-provider does not
// record the redirect URI a code was issued for, which oidcd checks at the
// token endpoint (RFC 6749 §4.1.3): codes of clients with one redirect URI
// are bound to it, others are left out (they expire within minutes anyway).
func (im *importer) code(ctx context.Context, dc *djCode) error {
	cnt := im.r.Counts["codes"]
	cnt.Read++
	label := fmt.Sprintf("%d (client %s)", dc.id, dc.clientID)
	userID, ok, reason := im.owner(dc.userID, dc.clientID)
	switch {
	case !ok:
		im.r.skip("codes", label, "%s", reason)
		return nil
	case !dc.expires.After(im.now):
		im.r.skip("codes", label, "expired at %s", dc.expires.Format(time.RFC3339))
		return nil
	}
	client := im.clients[dc.clientID]
	if len(client.RedirectURIs) != 1 {
		im.r.skip("codes", label, "django-oidc-provider does not record a code's redirect URI and the client has %d", len(client.RedirectURIs))
		return nil
	}
	hash := op.SecretDigest(dc.code)
	if _, err := im.tx.Code(ctx, hash, im.now); err == nil {
		cnt.Unchanged++
		return nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("code %s: %w", label, err)
	}
	// The release keeps no authentication time with a code: it is taken
	// as the code's issue time, the expiry less the default code lifetime.
	auth := dc.expires.Add(-10 * time.Minute)
	if auth.After(im.now) {
		auth = im.now
	}
	ac := &storage.AuthCode{
		Hash:                hash,
		GrantID:             artefactID("code", dc.code),
		ClientID:            dc.clientID,
		UserID:              userID,
		RedirectURI:         client.RedirectURIs[0],
		Scope:               strings.Fields(dc.scope),
		Nonce:               dc.nonce,
		CodeChallenge:       dc.challenge,
		CodeChallengeMethod: dc.challengeMethod,
		AuthTime:            auth,
		CreatedAt:           im.now,
		ExpiresAt:           dc.expires,
	}
	if err := im.tx.CreateCode(ctx, ac); err != nil {
		return fmt.Errorf("code %s: %w", label, err)
	}
	cnt.Created++
	return nil
}

// idTokenFields reads the nonce and auth_time django-oidc-provider kept
// with a token (the JSON of its ID token).
func idTokenFields(raw string) (nonce string, authTime time.Time) {
	var v struct {
		Nonce    string  `json:"nonce"`
		AuthTime float64 `json:"auth_time"`
	}
	if json.Unmarshal([]byte(raw), &v) != nil {
		return "", time.Time{}
	}
	if v.AuthTime > 0 {
		authTime = time.Unix(int64(v.AuthTime), 0).UTC()
	}
	return v.Nonce, authTime
}
