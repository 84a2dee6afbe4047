package manage_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	svc     *manage.Service
	store   *sqlstore.Store
	clock   *clock
	changes []manage.Change
	events  []op.Event
}

const tokenLifetime = time.Hour

// backends runs fn on a SQLite file and on PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "oidcd.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, newFixture(t, pgtest.NewDatabase(t, pgtest.URL())))
	})
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	store, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, keys.MinSecretLen)
	rand.Read(secret)
	sealer, err := keys.NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	var mu sync.Mutex
	f.svc, err = manage.New(manage.Config{
		Store: store, Sealer: sealer, Rules: server.AccountRules{PasswordMinLength: 8},
		Now: f.clock.Now, KeyActivateAfter: 5 * time.Minute, TokenLifetime: tokenLifetime,
		AllowPrivateTargets: true,
		Emit:                func(_ context.Context, e op.Event) { mu.Lock(); f.events = append(f.events, e); mu.Unlock() },
		Changed:             func(_ context.Context, c manage.Change) { mu.Lock(); f.changes = append(f.changes, c); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var admin = manage.Actor{UserID: "admin-id", Username: "root", IP: "192.0.2.7"}

// lastAudit returns the newest audit record and checks who and where.
func (f *fixture) lastAudit(t *testing.T, action, target string) *storage.AuditRecord {
	t.Helper()
	recs, err := f.svc.Audit(t.Context(), storage.AuditQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("no audit record for %s", action)
	}
	r := recs[0]
	if r.Action != action || r.Target != target || r.ActorID != admin.UserID || r.Actor != admin.Username || r.IP != admin.IP || r.At.IsZero() {
		t.Fatalf("audit record %+v, want %s on %s by %+v", r, action, target, admin)
	}
	return r
}

func (f *fixture) auditCount(t *testing.T) int {
	t.Helper()
	recs, err := f.svc.Audit(t.Context(), storage.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func spec() storage.Client {
	return storage.Client{Name: "App", RedirectURIs: []string{"https://app.example/cb"}, RequireConsent: true, ReuseConsent: true,
		Scope: []string{"openid", "profile"}}
}

func TestClients(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		res, err := f.svc.CreateClient(ctx, admin, spec(), nil)
		if err != nil {
			t.Fatal(err)
		}
		id := res.Client.ID
		if res.Secret == "" || res.Client.Type != storage.Confidential {
			t.Fatalf("created %+v without a secret", res.Client)
		}
		f.lastAudit(t, manage.ActionClientCreated, "client:"+id)
		if len(f.changes) != 1 || f.changes[0].ClientID != id || len(f.events) != 1 || f.events[0].Kind != manage.ActionClientCreated {
			t.Errorf("changes %+v, events %+v", f.changes, f.events)
		}

		// Invalid input changes nothing and records nothing.
		bad := spec()
		bad.RedirectURIs = []string{"http://evil.example/cb", "https://x.example/#frag"}
		if _, err := f.svc.CreateClient(ctx, admin, bad, nil); !errors.Is(err, manage.ErrInvalid) || !strings.Contains(err.Error(), "fragment") {
			t.Errorf("bad redirect URIs: %v", err)
		}
		n := f.auditCount(t)

		// A partial update changes only what Edit sets.
		up, err := f.svc.UpdateClient(ctx, admin, id, manage.ClientUpdate{Edit: func(c *storage.Client) error {
			c.RedirectURIs = append(c.RedirectURIs, "https://app.example/cb2")
			c.Website = "https://app.example/"
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := f.svc.Client(ctx, id)
		if !slices.Equal(got.RedirectURIs, []string{"https://app.example/cb", "https://app.example/cb2"}) || got.Website != "https://app.example/" ||
			got.Name != "App" || !got.RequireConsent || !slices.Equal(got.Scope, []string{"openid", "profile"}) || up.Secret != "" {
			t.Errorf("after update: %+v", got)
		}
		r := f.lastAudit(t, manage.ActionClientUpdated, "client:"+id)
		if r.Detail != "changed client_uri, redirect_uris" {
			t.Errorf("detail %q", r.Detail)
		}
		// An edit that breaks the client is refused and stores nothing.
		_, err = f.svc.UpdateClient(ctx, admin, id, manage.ClientUpdate{Edit: func(c *storage.Client) error {
			c.RedirectURIs = []string{"javascript:alert(1)"}
			return nil
		}})
		if !errors.Is(err, manage.ErrInvalid) {
			t.Errorf("javascript redirect: %v", err)
		}
		// No change: no record.
		if _, err := f.svc.UpdateClient(ctx, admin, id, manage.ClientUpdate{Edit: func(c *storage.Client) error { return nil }}); err != nil {
			t.Fatal(err)
		}
		if f.auditCount(t) != n+1 {
			t.Errorf("audit records: %d, want %d", f.auditCount(t), n+1)
		}
		// Editing cannot touch the secret or the id.
		_, err = f.svc.UpdateClient(ctx, admin, id, manage.ClientUpdate{Edit: func(c *storage.Client) error {
			c.ID, c.SecretHash = "other", []byte("x")
			c.Name = "Renamed"
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		got2, _ := f.svc.Client(ctx, id)
		if string(got2.SecretHash) != string(got.SecretHash) || got2.Name != "Renamed" {
			t.Error("Edit changed the secret")
		}
		// Made public: the secret goes; made confidential again: a new one.
		_, err = f.svc.UpdateClient(ctx, admin, id, manage.ClientUpdate{Edit: func(c *storage.Client) error {
			c.Type, c.RedirectURIs = storage.Public, []string{"https://app.example/cb"}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := f.svc.Client(ctx, id); len(c.SecretHash) != 0 {
			t.Error("a public client kept its secret")
		}
		up, err = f.svc.UpdateClient(ctx, admin, id, manage.ClientUpdate{Edit: func(c *storage.Client) error {
			c.Type = storage.Confidential
			return nil
		}})
		if err != nil || up.Secret == "" {
			t.Fatalf("made confidential: %v, secret %q", err, up.Secret)
		}

		// Search.
		other := spec()
		other.Name = "Billing"
		other.RedirectURIs = []string{"https://billing.example/cb"}
		if _, err := f.svc.CreateClient(ctx, admin, other, nil); err != nil {
			t.Fatal(err)
		}
		found, err := f.svc.ListClients(ctx, manage.ClientQuery{Search: "BILLING.example"})
		if err != nil || len(found) != 1 || found[0].Name != "Billing" {
			t.Errorf("search: %v %v", found, err)
		}
		all, _ := f.svc.ListClients(ctx, manage.ClientQuery{})
		if len(all) != 2 {
			t.Errorf("list: %d clients", len(all))
		}

		// Delete, with what goes with it.
		now := f.clock.Now()
		g := &storage.Grant{ID: "g1", ClientID: id, UserID: "u1", SessionID: "s1", Scope: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := f.store.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := f.store.SaveConsent(ctx, &storage.Consent{UserID: "u2", ClientID: id, Scope: []string{"openid"}, GivenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		usage, err := f.svc.ClientUsage(ctx, id)
		if err != nil || usage.Grants != 1 || usage.Consents != 1 || usage.Users != 2 {
			t.Fatalf("usage %+v, %v", usage, err)
		}
		if _, err := f.svc.DeleteClient(ctx, admin, id); err != nil {
			t.Fatal(err)
		}
		r = f.lastAudit(t, manage.ActionClientDeleted, "client:"+id)
		if !strings.Contains(r.Detail, "1 live grants") {
			t.Errorf("delete detail %q", r.Detail)
		}
		if _, err := f.svc.Client(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("deleted client: %v", err)
		}
		if _, err := f.svc.DeleteClient(ctx, admin, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("delete again: %v", err)
		}
	})
}

func TestRotateClientSecretStorage(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		res, err := f.svc.CreateClient(ctx, admin, spec(), nil)
		if err != nil {
			t.Fatal(err)
		}
		old := res.Client.SecretHash
		rot, err := f.svc.RotateClientSecret(ctx, admin, res.Client.ID, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := f.svc.Client(ctx, res.Client.ID)
		if rot.Secret == "" || string(c.SecretHash) == string(old) || string(c.PreviousSecretHash) != string(old) ||
			!c.PreviousSecretExpiresAt.Equal(f.clock.Now().Add(10*time.Minute)) {
			t.Errorf("rotated: %+v", c)
		}
		r := f.lastAudit(t, manage.ActionClientSecretRotated, "client:"+c.ID)
		if strings.Contains(r.Detail, rot.Secret) || !strings.Contains(r.Detail, "works until") {
			t.Errorf("detail %q", r.Detail)
		}
		if _, err := f.svc.RotateClientSecret(ctx, admin, c.ID, 0); err != nil {
			t.Fatal(err)
		}
		c, _ = f.svc.Client(ctx, c.ID)
		if len(c.PreviousSecretHash) != 0 {
			t.Error("rotation without overlap kept the previous secret")
		}
		pub := spec()
		pub.Type = storage.Public
		p, _ := f.svc.CreateClient(ctx, admin, pub, nil)
		if _, err := f.svc.RotateClientSecret(ctx, admin, p.Client.ID, 0); !errors.Is(err, manage.ErrRefused) {
			t.Errorf("public client rotation: %v", err)
		}
	})
}

func TestUsers(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		u, err := f.svc.CreateUser(ctx, admin, manage.NewUser{Username: "alice", Password: "correct horse", Claims: storage.Claims{Email: "alice@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		f.lastAudit(t, manage.ActionUserCreated, "user:"+u.ID)
		for _, bad := range []manage.NewUser{
			{Username: "alice", Password: "correct horse"},
			{Username: "bob", Password: "short"},
			{Username: "b b", Password: "correct horse"},
			{Username: "bob", Password: "correct horse", Claims: storage.Claims{Email: "not an email"}},
		} {
			if _, err := f.svc.CreateUser(ctx, admin, bad); !errors.Is(err, manage.ErrInvalid) {
				t.Errorf("CreateUser(%+v): %v, want ErrInvalid", bad, err)
			}
		}
		u2, err := f.svc.UpdateUserClaims(ctx, admin, u.ID, func(c *storage.Claims) error {
			c.Name, c.EmailVerified = "Alice L", true
			return nil
		})
		if err != nil || u2.Name != "Alice L" || u2.Email != "alice@example.com" {
			t.Fatalf("update: %+v %v", u2, err)
		}
		if r := f.lastAudit(t, manage.ActionUserUpdated, "user:"+u.ID); r.Detail != `user "alice": changed name, email_verified` {
			t.Errorf("detail %q", r.Detail)
		}

		// A session and a grant end with a password change and with a lock.
		setup := func() {
			now := f.clock.Now()
			if err := f.store.CreateSession(ctx, &storage.Session{Hash: []byte(strings.Repeat("h", 32)), ID: "sid-1", UserID: u.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		setup()
		if err := f.svc.SetPassword(ctx, admin, u.ID, "another long one"); err != nil {
			t.Fatal(err)
		}
		if s, _ := f.svc.UserSessions(ctx, u.ID); len(s) != 0 {
			t.Errorf("sessions survived a password change: %d", len(s))
		}
		got, _ := f.svc.User(ctx, u.ID)
		if !(server.AccountRules{}).CheckPassword(got.PasswordHash, "another long one") {
			t.Error("password not set")
		}
		f.lastAudit(t, manage.ActionPasswordChanged, "user:"+u.ID)
		setup()
		if err := f.svc.SetLocked(ctx, admin, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if s, _ := f.svc.UserSessions(ctx, u.ID); len(s) != 0 {
			t.Error("sessions survived a lock")
		}
		f.lastAudit(t, manage.ActionUserLocked, "user:"+u.ID)
		got, _ = f.svc.User(ctx, u.ID)
		if !got.Locked {
			t.Error("not locked")
		}
		if err := f.svc.SetLocked(ctx, admin, u.ID, false); err != nil {
			t.Fatal(err)
		}
		f.lastAudit(t, manage.ActionUserUnlocked, "user:"+u.ID)

		// Own account: no self-lock, own password needs the current one.
		self := manage.Actor{UserID: u.ID, Username: "alice", IP: "198.51.100.1"}
		if err := f.svc.SetLocked(ctx, self, u.ID, true); !errors.Is(err, manage.ErrRefused) {
			t.Errorf("self lock: %v", err)
		}
		if err := f.svc.ChangeOwnPassword(ctx, self, "wrong", "a new password"); !errors.Is(err, manage.ErrWrongPassword) {
			t.Errorf("wrong current password: %v", err)
		}
		if err := f.svc.ChangeOwnPassword(ctx, self, "another long one", "a new password"); err != nil {
			t.Fatal(err)
		}
		recs, _ := f.svc.Audit(ctx, storage.AuditQuery{Limit: 1})
		if recs[0].Action != manage.ActionAccountPasswordChanged || recs[0].ActorID != u.ID || recs[0].IP != "198.51.100.1" {
			t.Errorf("own password record %+v", recs[0])
		}
		pw, err := f.svc.ResetPassword(ctx, admin, u.ID)
		if err != nil || len(pw) < 16 {
			t.Fatalf("reset: %q %v", pw, err)
		}

		// Admin flag: the console cannot remove the last admin.
		if err := f.svc.SetAdmin(ctx, admin, u.ID, true); err != nil {
			t.Fatal(err)
		}
		f.lastAudit(t, manage.ActionUserAdminGranted, "user:"+u.ID)
		if err := f.svc.SetAdmin(ctx, admin, u.ID, false); !errors.Is(err, manage.ErrRefused) {
			t.Errorf("removing the last admin from the console: %v", err)
		}
		if err := f.svc.SetAdmin(ctx, manage.CommandLine("ops"), u.ID, false); err != nil {
			t.Errorf("command line removing an admin: %v", err)
		}

		// Paging and search.
		for _, name := range []string{"carol", "dave", "erin"} {
			if _, err := f.svc.CreateUser(ctx, admin, manage.NewUser{Username: name, Password: "long enough"}); err != nil {
				t.Fatal(err)
			}
		}
		page, err := f.svc.ListUsers(ctx, storage.UserQuery{Offset: 1, Limit: 2})
		if err != nil || page.Total != 4 || len(page.Users) != 2 || page.Users[0].Username != "carol" {
			t.Errorf("page: %+v %v", page, err)
		}
		if err := f.svc.DeleteUser(ctx, admin, u.ID); err != nil {
			t.Fatal(err)
		}
		f.lastAudit(t, manage.ActionUserDeleted, "user:"+u.ID)
		if _, err := f.svc.User(ctx, u.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("deleted user: %v", err)
		}
	})
}

func TestConsentsAndSessions(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		res, err := f.svc.CreateClient(ctx, admin, spec(), nil)
		if err != nil {
			t.Fatal(err)
		}
		cid := res.Client.ID
		u, err := f.svc.CreateUser(ctx, admin, manage.NewUser{Username: "alice", Password: "correct horse"})
		if err != nil {
			t.Fatal(err)
		}
		now := f.clock.Now()
		for _, sid := range []string{"sid-1", "sid-2"} {
			h := []byte(strings.Repeat(sid, 8))
			if err := f.store.CreateSession(ctx, &storage.Session{Hash: h, ID: sid, UserID: u.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			g := &storage.Grant{ID: "g-" + sid, ClientID: cid, UserID: u.ID, SessionID: sid, Scope: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := f.store.CreateGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.store.SaveConsent(ctx, &storage.Consent{UserID: u.ID, ClientID: cid, Scope: []string{"openid"}, GivenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := f.store.AddSessionClient(ctx, &storage.SessionClient{SessionID: "sid-1", ClientID: cid, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if cs, _ := f.svc.ClientSessions(ctx, cid); len(cs) != 1 || cs[0].ID != "sid-1" {
			t.Errorf("client sessions %v", cs)
		}
		if err := f.svc.RevokeSession(ctx, admin, "sid-1"); err != nil {
			t.Fatal(err)
		}
		f.lastAudit(t, manage.ActionSessionRevoked, "session:sid-1")
		if gs, _ := f.svc.UserGrants(ctx, u.ID); len(gs) != 1 || gs[0].ID != "g-sid-2" {
			t.Errorf("grants after revoking sid-1: %v", gs)
		}
		if ss, _ := f.svc.UserSessions(ctx, u.ID); len(ss) != 1 || ss[0].ID != "sid-2" {
			t.Errorf("sessions after revoking sid-1: %v", ss)
		}
		if err := f.svc.RevokeSession(ctx, admin, "sid-1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("revoke again: %v", err)
		}
		if cs, _ := f.svc.ClientConsents(ctx, cid); len(cs) != 1 {
			t.Errorf("client consents %v", cs)
		}
		if err := f.svc.RevokeConsent(ctx, admin, u.ID, cid); err != nil {
			t.Fatal(err)
		}
		f.lastAudit(t, manage.ActionConsentRevoked, "user:"+u.ID)
		if gs, _ := f.svc.UserGrants(ctx, u.ID); len(gs) != 0 {
			t.Errorf("grants after revoking the consent: %v", gs)
		}
		if cs, _ := f.svc.UserConsents(ctx, u.ID); len(cs) != 0 {
			t.Errorf("consents after revoking: %v", cs)
		}
		if err := f.svc.RevokeConsent(ctx, admin, u.ID, cid); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("revoke consent again: %v", err)
		}
		n, err := f.svc.SignOutEverywhere(ctx, manage.Actor{UserID: u.ID, Username: "alice", IP: "::1"}, u.ID)
		if err != nil || n != 1 {
			t.Errorf("sign out everywhere: %d %v", n, err)
		}
		if ss, _ := f.svc.UserSessions(ctx, u.ID); len(ss) != 0 {
			t.Errorf("sessions after sign out everywhere: %v", ss)
		}
	})
}

func TestKeys(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		first, err := f.svc.CreateKey(ctx, admin, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if first.Key.State != keys.StateActive {
			t.Errorf("first ES256 key is %s", first.Key.State)
		}
		f.lastAudit(t, manage.ActionKeyCreated, "key:"+first.Key.KID)
		if _, err := f.svc.RetireKey(ctx, admin, first.Key.KID); !errors.Is(err, manage.ErrRefused) {
			t.Errorf("retiring the only ES256 key: %v", err)
		}
		if _, err := f.svc.CreateKey(ctx, admin, "HS256"); !errors.Is(err, manage.ErrInvalid) {
			t.Errorf("HS256 server key: %v", err)
		}
		rot, err := f.svc.RotateKey(ctx, admin, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Key.State != keys.StateNext || len(rot.Retired) != 1 || rot.Retired[0].KID != first.Key.KID ||
			!rot.Retired[0].RetiredAt.Equal(rot.Key.ActivatesAt) {
			t.Fatalf("rotation: %+v", rot)
		}
		f.lastAudit(t, manage.ActionKeyRotated, "key:"+rot.Key.KID)
		// The old key signs until the new one activates: not deletable.
		if err := f.svc.DeleteKey(ctx, admin, first.Key.KID); !errors.Is(err, manage.ErrRefused) {
			t.Errorf("delete before retirement: %v", err)
		}
		f.clock.Add(5*time.Minute + time.Second)
		if err := f.svc.DeleteKey(ctx, admin, first.Key.KID); !errors.Is(err, manage.ErrRefused) || !strings.Contains(err.Error(), "valid until") {
			t.Errorf("delete while its tokens can be valid: %v", err)
		}
		list, _ := f.svc.Keys(ctx)
		states := map[string]string{}
		for _, k := range list {
			states[k.KID] = k.State
		}
		if states[first.Key.KID] != keys.StateRetired || states[rot.Key.KID] != keys.StateActive {
			t.Errorf("states %v", states)
		}
		f.clock.Add(tokenLifetime)
		if err := f.svc.DeleteKey(ctx, admin, first.Key.KID); err != nil {
			t.Fatal(err)
		}
		f.lastAudit(t, manage.ActionKeyDeleted, "key:"+first.Key.KID)

		// Import: django-oidc-provider's creatersakey writes PKCS #1.
		rk, _ := rsa.GenerateKey(rand.Reader, 2048)
		pemRSA := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})
		imp, err := f.svc.ImportKey(ctx, admin, pemRSA)
		if err != nil || imp.Key.Alg != keys.RS256 || imp.Key.State != keys.StateActive {
			t.Fatalf("import: %+v %v", imp, err)
		}
		f.lastAudit(t, manage.ActionKeyImported, "key:"+imp.Key.KID)
		if _, err := f.svc.ImportKey(ctx, admin, pemRSA); !errors.Is(err, manage.ErrInvalid) {
			t.Errorf("import twice: %v", err)
		}
		if _, err := f.svc.ImportKey(ctx, admin, []byte("-----BEGIN NOTHING-----\n-----END NOTHING-----\n")); !errors.Is(err, manage.ErrInvalid) {
			t.Errorf("import garbage: %v", err)
		}
		ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(ek)
		// A second ES256 key next to an active one is "next"; retiring the
		// active one then waits for it.
		imp2, err := f.svc.ImportKey(ctx, admin, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		if err != nil || imp2.Key.State != keys.StateNext {
			t.Fatalf("import ES256: %+v %v", imp2, err)
		}
		ret, err := f.svc.RetireKey(ctx, admin, rot.Key.KID)
		if err != nil || !ret.RetiredAt.Equal(imp2.Key.ActivatesAt) {
			t.Fatalf("retire: %+v %v", ret, err)
		}
		f.lastAudit(t, manage.ActionKeyRetired, "key:"+rot.Key.KID)
	})
}

// A change that fails leaves no audit record, and an audit record that
// cannot be written undoes the change (one transaction).
func TestAuditAtomic(t *testing.T) {
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "oidcd.db"))
	ctx := t.Context()
	res, err := f.svc.CreateClient(ctx, admin, spec(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := f.auditCount(t)
	if _, err := f.svc.DeleteClient(ctx, admin, "no-such-client"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if f.auditCount(t) != n {
		t.Error("a failed change left an audit record")
	}
	if _, err := f.svc.CreateClient(ctx, manage.Actor{}, spec(), nil); err == nil {
		t.Error("a change without an actor was made")
	}
	// An audit record whose id is taken fails the insert: the client
	// update must roll back with it.
	recs, _ := f.svc.Audit(ctx, storage.AuditQuery{Limit: 1})
	if err := f.store.Atomically(ctx, func(tx storage.Storage) error {
		c, _ := tx.Client(ctx, res.Client.ID)
		c.Name = "Should not stay"
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		return tx.AddAuditRecord(ctx, recs[0])
	}); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("duplicate audit id: %v", err)
	}
	if c, _ := f.svc.Client(ctx, res.Client.ID); c.Name != "App" {
		t.Error("the change survived its failed audit record")
	}
}

// TestClientEncryptionKeys: a client whose ID tokens or userinfo are
// encrypted must publish a key for it at its jwks_uri, checked when it is
// created and when the alg or the URI changes (OIDC Registration §2); a
// private_key_jwt client that asks for HS256 userinfo gets a secret.
func TestClientEncryptionKeys(t *testing.T) {
	f := newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "oidcd.db"))
	ctx := t.Context()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var mu sync.Mutex
	use := "sig"
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ecKey.Public(), KeyID: "k1", Use: use}}})
		w.Write(b)
	}))
	t.Cleanup(js.Close)
	s := spec()
	s.JWKSURI = js.URL + "/jwks"
	s.IDTokenEncryptedResponseAlg = "ECDH-ES"
	if _, err := f.svc.CreateClient(ctx, admin, s, nil); !errors.Is(err, manage.ErrInvalid) || !strings.Contains(err.Error(), "jwks_uri has no key to encrypt to") {
		t.Fatalf("jwks_uri with a signing key only: %v", err)
	}
	n := f.auditCount(t)
	mu.Lock()
	use = "enc"
	mu.Unlock()
	res, err := f.svc.CreateClient(ctx, admin, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Client.IDTokenEncryptedResponseEnc != "A128CBC-HS256" {
		t.Errorf("enc %q, want the default A128CBC-HS256", res.Client.IDTokenEncryptedResponseEnc)
	}
	// An alg the published key does not fit is refused and stores nothing.
	_, err = f.svc.UpdateClient(ctx, admin, res.Client.ID, manage.ClientUpdate{Edit: func(c *storage.Client) error {
		c.UserinfoEncryptedResponseAlg = "RSA-OAEP-256"
		return nil
	}})
	if !errors.Is(err, manage.ErrInvalid) || !strings.Contains(err.Error(), "userinfo_encrypted_response_alg RSA-OAEP-256") {
		t.Fatalf("RSA-OAEP-256 with an EC key: %v", err)
	}
	if got := f.auditCount(t); got != n+1 {
		t.Errorf("%d audit records, want %d", got, n+1)
	}
	// A private_key_jwt client asking for HS256 userinfo needs a secret.
	pk := spec()
	pk.JWKS = string(must(json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ecKey.Public(), KeyID: "k1", Use: "sig"}}})))
	pk.TokenEndpointAuthMethod = op.AuthPrivateKeyJWT
	pkRes, err := f.svc.CreateClient(ctx, admin, pk, nil)
	if err != nil || pkRes.Secret != "" {
		t.Fatalf("private_key_jwt client: %v, secret %q", err, pkRes.Secret)
	}
	up, err := f.svc.UpdateClient(ctx, admin, pkRes.Client.ID, manage.ClientUpdate{Edit: func(c *storage.Client) error {
		c.UserinfoSignedResponseAlg = keys.HS256
		return nil
	}})
	if err != nil || up.Secret == "" {
		t.Fatalf("HS256 userinfo: %v, secret %q", err, up.Secret)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
