package djangoimport

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// Every fixture release imports with every property of its clients, its
// keys (kids kept), users (hashes kept), consents, live tokens and codes.
func TestImportFixtures(t *testing.T) {
	for _, rel := range releases {
		t.Run(rel, func(t *testing.T) {
			m := loadManifest(t, rel)
			target, _ := newTarget(t)
			r, err := Run(t.Context(), target, options(t, m, fixtureDB(t, rel)))
			if err != nil {
				t.Fatal(err)
			}
			checkImported(t, target, m, r, options(t, m, "").Now())
		})
	}
}

func checkImported(t *testing.T, target storage.Storage, m *manifest, r *Report, now time.Time) {
	t.Helper()
	ctx := t.Context()
	want := map[string]Count{
		"clients": {Read: 6, Created: 5, Skipped: 1}, // legacy: plain http redirect URI only
		"keys":    {Read: 2, Created: 2},
		// (releases before 0.7 made 1024-bit keys, refused below)
		"users":    {Read: 8, Created: 8},
		"consents": {Read: 4, Created: 4},
		"tokens":   {Read: m.Counts["tokens"], Created: m.Counts["tokens"]},
		"codes":    {Read: 3, Created: 1, Skipped: 2}, // an expired one; one of a client with two redirect URIs
	}
	oldKeys := m.Release != "v0.8.3"
	if oldKeys {
		want["keys"] = Count{Read: 2, Skipped: 2}
	}
	for k, w := range want {
		if got := *r.Counts[k]; got != w {
			t.Errorf("%s: counts %+v, want %+v", k, got, w)
		}
	}
	wantRelease := map[string]string{"v0.8.3": "0.8", "v0.6.2": "0.6", "v0.5.3": "0.5"}[m.Release]
	if r.Release != wantRelease {
		t.Errorf("release %q, want %q", r.Release, wantRelease)
	}
	if !slices.Equal(r.MustResetPassword, []string{"frank", "grace"}) {
		t.Errorf("must reset: %v", r.MustResetPassword)
	}
	for _, reason := range []string{"unsalted_md5 is not supported", "inactive in Django", "http is only allowed",
		"does not record a code's redirect URI", "expired at"} {
		if !strings.Contains(fmt.Sprint(r.Skipped), reason) {
			t.Errorf("no skipped row says %q: %v", reason, r.Skipped)
		}
	}

	// Clients: ids, secrets (digest and sealed copy), every property.
	web, err := target.Client(ctx, m.Clients["web"].ClientID)
	if err != nil {
		t.Fatal(err)
	}
	secret := m.Clients["web"].ClientSecret
	if h := sha256.Sum256([]byte(secret)); !bytes.Equal(web.SecretHash, h[:]) {
		t.Error("web: secret digest differs")
	}
	if opened, err := testSealer(t).Open(web.SecretSealed, []byte("client-secret:"+web.ID)); err != nil || string(opened) != secret {
		t.Errorf("web: sealed secret %q, %v", opened, err)
	}
	if web.Name != "Confidential Web" || web.Type != storage.Confidential || web.JWTAlg != "RS256" ||
		!slices.Equal(web.ResponseTypes, []string{"code"}) ||
		!slices.Equal(web.RedirectURIs, []string{"https://rp.example.com/callback", "https://rp.example.com/other?x=1"}) ||
		!slices.Equal(web.PostLogoutRedirectURIs, []string{"https://rp.example.com/bye"}) ||
		!web.RequireConsent || !web.ReuseConsent || web.Website != "https://rp.example.com" ||
		web.TermsURL != "https://rp.example.com/terms" || web.ContactEmail != "ops@rp.example.com" ||
		web.LogoType != "image/png" || len(web.LogoImage) == 0 || web.CreatedAt.IsZero() {
		t.Errorf("web client: %+v", web)
	}
	hybrid, err := target.Client(ctx, m.Clients["hybrid"].ClientID)
	if err != nil {
		t.Fatal(err)
	}
	wantRT := []string{"code id_token"}
	if m.Release == "v0.8.3" {
		wantRT = []string{"code id_token", "code token", "code id_token token", "code"}
	}
	if hybrid.JWTAlg != "HS256" || hybrid.RequireConsent || hybrid.ReuseConsent || !slices.Equal(hybrid.ResponseTypes, wantRT) {
		t.Errorf("hybrid client: %+v", hybrid)
	}
	spa, err := target.Client(ctx, m.Clients["spa"].ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if spa.Type != storage.Public || spa.SecretHash != nil || len(spa.ResponseTypes) == 0 {
		t.Errorf("spa client: %+v", spa)
	}
	api, err := target.Client(ctx, m.Clients["api"].ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Release == "v0.5.3" {
		if len(api.Scope) != 0 {
			t.Errorf("0.5 has no client scope, got %v", api.Scope)
		}
	} else if !slices.Equal(api.Scope, []string{"token_introspection", m.Clients["web"].ClientID, "read_books"}) {
		t.Errorf("api scope %v", api.Scope)
	}
	if _, err := target.Client(ctx, m.Clients["legacy"].ClientID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("legacy client imported: %v", err)
	}

	// Keys: the release's kids, the newest signing.
	ks, err := target.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range ks {
		kids = append(kids, k.ID)
		if k.Alg != keys.RS256 || !k.RetiredAt.IsZero() {
			t.Errorf("key %s: %+v", k.ID, k)
		}
	}
	if oldKeys {
		// RSA keys under 2048 bits are refused on purpose (NIST SP 800-131A);
		// the report says so.
		if len(kids) != 0 || !strings.Contains(fmt.Sprint(r.Skipped), "1024 bits is too short") {
			t.Errorf("1024-bit keys: imported %v; skipped %v", kids, r.Skipped)
		}
	} else if !slices.Equal(kids, []string{m.Kids[1], m.Kids[0]}) { // newest first
		t.Errorf("kids %v, want newest first of %v", kids, m.Kids)
	}

	// Users: id = Django id, Django hashes kept, names, admin, claims.
	for name, mu := range m.Users {
		u, err := target.User(ctx, fmt.Sprint(mu.ID))
		if err != nil {
			t.Fatalf("user %s: %v", name, err)
		}
		wantHash := mu.Encoded
		if mu.Hasher == "unsalted_md5" || mu.Hasher == "" || !mu.IsActive {
			wantHash = ""
		}
		if u.Username != name || u.PasswordHash != wantHash || u.Email != name+"@example.com" {
			t.Errorf("user %s: %+v", name, u)
		}
	}
	alice, _ := target.User(ctx, fmt.Sprint(m.Users["alice"].ID))
	if !alice.Admin || alice.Name != "Alice Liddell" || alice.GivenName != "Alice" || alice.FamilyName != "Liddell" ||
		alice.PhoneNumber != "+1 555 0100" || alice.Locale != "en-GB" || !alice.EmailVerified {
		t.Errorf("alice: %+v", alice)
	}
	if bob, _ := target.User(ctx, fmt.Sprint(m.Users["bob"].ID)); bob.Admin || bob.Locale != "fr-FR" {
		t.Errorf("bob: %+v", bob)
	}

	// Consents, tokens and codes by digest only.
	if c, err := target.Consent(ctx, fmt.Sprint(m.Users["alice"].ID), web.ID, now); err != nil ||
		!slices.Equal(c.Scope, []string{"openid", "profile", "email", "phone"}) {
		t.Errorf("alice's consent: %+v, %v", c, err)
	}
	tok, g, err := target.Token(ctx, op.SecretDigest(m.Tokens["alice_web"]["access_token"]), now)
	if err != nil || tok.Kind != storage.AccessToken || g.UserID != fmt.Sprint(m.Users["alice"].ID) || g.Nonce != "n-alice" {
		t.Errorf("alice's access token: %+v %+v %v", tok, g, err)
	}
	if _, _, err := target.Token(ctx, op.SecretDigest(m.Tokens["erin_web"]["access_token"]), now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("erin's expired access token: %v", err)
	}
	if tok, _, err := target.Token(ctx, op.SecretDigest(m.Tokens["erin_web"]["refresh_token"]), now); err != nil || tok.Kind != storage.RefreshToken {
		t.Errorf("erin's refresh token: %+v %v", tok, err)
	}
	if c, err := target.Code(ctx, op.SecretDigest(m.Tokens["alice_hybrid_code"]["code"]), now); err != nil ||
		c.RedirectURI != "https://hybrid.example.com/cb" || c.Nonce != "n-alice-code" {
		t.Errorf("alice's code: %+v %v", c, err)
	}
}

// A second run (and a third) finds everything in place and writes nothing.
func TestImportTwiceChangesNothing(t *testing.T) {
	m := loadManifest(t, "v0.8.3")
	target, dsn := newTarget(t)
	opts := options(t, m, fixtureDB(t, "v0.8.3"))
	if _, err := Run(t.Context(), target, opts); err != nil {
		t.Fatal(err)
	}
	before := dump(t, dsn)
	for range 2 {
		r, err := Run(t.Context(), target, opts)
		if err != nil {
			t.Fatal(err)
		}
		if r.Changed() {
			t.Fatalf("second run changed something: %+v", r.Counts)
		}
		for _, k := range kinds {
			c := r.Counts[k]
			if c.Unchanged+c.Skipped != c.Read {
				t.Errorf("%s on a second run: %+v", k, *c)
			}
		}
	}
	if after := dump(t, dsn); !reflect.DeepEqual(before, after) {
		t.Fatal("the database changed on a second run")
	}
}

// A changed client or user in the source is updated, not duplicated; a
// password hash already upgraded at login is kept.
func TestImportUpdates(t *testing.T) {
	m := loadManifest(t, "v0.8.3")
	target, _ := newTarget(t)
	ctx := t.Context()
	opts := options(t, m, fixtureDB(t, "v0.8.3"))
	if _, err := Run(ctx, target, opts); err != nil {
		t.Fatal(err)
	}
	web, _ := target.Client(ctx, m.Clients["web"].ClientID)
	web.Name = "Renamed in oidcd"
	web.SoftwareID = "set-in-oidcd" // metadata django-oidc-provider does not have
	web.BackchannelLogoutURI = "https://rp.example/backchannel"
	if err := target.UpdateClient(ctx, web); err != nil {
		t.Fatal(err)
	}
	alice, _ := target.User(ctx, "1")
	alice.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
	alice.Email = "changed@example.com"
	if err := target.UpdateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	r, err := Run(ctx, target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts["clients"].Updated != 1 || r.Counts["users"].Updated != 1 || r.Counts["clients"].Created != 0 {
		t.Fatalf("counts %+v %+v", *r.Counts["clients"], *r.Counts["users"])
	}
	web, _ = target.Client(ctx, m.Clients["web"].ClientID)
	alice, _ = target.User(ctx, "1")
	if web.SoftwareID != "set-in-oidcd" {
		t.Error("a re-import wiped oidcd-only client metadata")
	}
	if web.BackchannelLogoutURI != "https://rp.example/backchannel" {
		t.Error("a re-import wiped the client's back-channel logout URI")
	}
	if web.Name != "Confidential Web" || alice.Email != "alice@example.com" || !strings.HasPrefix(alice.PasswordHash, "$argon2id$") {
		t.Fatalf("after update: %q %q %q", web.Name, alice.Email, alice.PasswordHash)
	}
	all, _ := target.ListClients(ctx)
	if len(all) != 5 {
		t.Fatalf("%d clients after two runs", len(all))
	}
}

// --dry-run reports what it would do and writes nothing.
func TestImportDryRun(t *testing.T) {
	m := loadManifest(t, "v0.8.3")
	target, dsn := newTarget(t)
	before := dump(t, dsn)
	opts := options(t, m, fixtureDB(t, "v0.8.3"))
	opts.DryRun = true
	r, err := Run(t.Context(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !r.DryRun || r.Counts["clients"].Created != 5 || r.Counts["users"].Created != 8 {
		t.Fatalf("dry run report: %+v", r.Counts)
	}
	if after := dump(t, dsn); !reflect.DeepEqual(before, after) {
		t.Fatal("a dry run wrote to the database")
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil || !strings.Contains(b.String(), "dry run: nothing written") {
		t.Fatalf("text report: %v\n%s", err, b.String())
	}
}

// A corrupt, foreign or missing source is refused with a message saying
// so, and the oidcd database stays as it was.
func TestImportRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(filepath.Join(fixtures, "v0.8.3.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(good)
	for i := 100; i < 8192; i++ { // the header's page size and the schema page
		corrupt[i] ^= 0x5a
	}
	_, oidcdDB := newTarget(t) // an oidcd database is not a Django one
	m := loadManifest(t, "v0.8.3")
	for _, tt := range []struct{ name, from, want string }{
		{"missing", filepath.Join(dir, "nope.sqlite3"), "no such file"},
		{"directory", dir, "is a directory"},
		{"text file", write("notes.txt", []byte(strings.Repeat("hello, world\n", 400))), "file is not a database"},
		{"corrupt", write("corrupt.sqlite3", corrupt), ""},
		{"truncated", write("truncated.sqlite3", good[:len(good)/3]), ""},
		{"foreign: oidcd's own database", strings.TrimPrefix(oidcdDB, "sqlite:"), "not a django-oidc-provider database: it has no django_migrations table"},
		{"unsupported url", "mysql://db/site", "unsupported source"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target, dsn := newTarget(t)
			seed := &storage.Client{ID: "existing", Name: "Existing", Type: storage.Public, JWTAlg: "RS256",
				ResponseTypes: []string{"code"}, RedirectURIs: []string{"https://e.example/cb"}}
			if err := target.CreateClient(t.Context(), seed); err != nil {
				t.Fatal(err)
			}
			before := dump(t, dsn)
			r, err := Run(t.Context(), target, options(t, m, tt.from))
			if err == nil {
				t.Fatalf("imported: %+v", r.Counts)
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
			t.Logf("%s: %v", tt.name, err)
			if after := dump(t, dsn); !reflect.DeepEqual(before, after) {
				t.Fatal("the oidcd database changed")
			}
		})
	}
	// An HS256 client whose secret is too short to sign with is imported
	// and reported.
	t.Run("short HS256 secret", func(t *testing.T) {
		p := write("short-secret.sqlite3", good)
		db := openRW(t, p)
		if _, err := db.Exec(`UPDATE oidc_provider_client SET client_secret = 'short' WHERE jwt_alg = 'HS256'`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		target, _ := newTarget(t)
		r, err := Run(t.Context(), target, options(t, m, p))
		if err != nil {
			t.Fatal(err)
		}
		if r.Counts["clients"].Created != 5 || !strings.Contains(fmt.Sprint(r.Skipped), "HS256 with a 5-byte secret") {
			t.Fatalf("%+v %v", *r.Counts["clients"], r.Skipped)
		}
	})
	// A Django database without django-oidc-provider's tables.
	t.Run("django without oidc_provider", func(t *testing.T) {
		p := write("plain-django.sqlite3", good)
		db := openRW(t, p)
		if _, err := db.Exec(`DELETE FROM django_migrations WHERE app = 'oidc_provider'`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		target, _ := newTarget(t)
		_, err := Run(t.Context(), target, options(t, m, p))
		if err == nil || !strings.Contains(err.Error(), "without the oidc_provider app") {
			t.Fatalf("err = %v", err)
		}
	})
	// A schema older than 0.5 is refused.
	t.Run("schema before 0.5", func(t *testing.T) {
		p := write("old.sqlite3", good)
		db := openRW(t, p)
		if _, err := db.Exec(`DELETE FROM django_migrations WHERE app = 'oidc_provider' AND name >= '0021'`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		target, _ := newTarget(t)
		_, err := Run(t.Context(), target, options(t, m, p))
		if err == nil || !strings.Contains(err.Error(), "release 0.5 or later") {
			t.Fatalf("err = %v", err)
		}
	})
	// A row the import cannot read refuses the whole import.
	t.Run("unreadable row", func(t *testing.T) {
		p := write("bad-token.sqlite3", good)
		db := openRW(t, p)
		if _, err := db.Exec(`UPDATE oidc_provider_token SET expires_at = 'not a time' WHERE id = (SELECT MAX(id) FROM oidc_provider_token)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		target, dsn := newTarget(t)
		before := dump(t, dsn)
		_, err := Run(t.Context(), target, options(t, m, p))
		if err == nil || !strings.Contains(err.Error(), "expires_at") {
			t.Fatalf("err = %v", err)
		}
		if after := dump(t, dsn); !reflect.DeepEqual(before, after) {
			t.Fatal("the oidcd database changed")
		}
	})
	// A write that fails after others succeeded (a client id that is not
	// UTF-8, refused by the store) rolls back everything written before it.
	t.Run("failure mid-way", func(t *testing.T) {
		p := write("bad-client.sqlite3", good)
		db := openRW(t, p)
		if _, err := db.Exec(`UPDATE oidc_provider_client SET client_id = CAST(X'ff41' AS TEXT) WHERE id = 5`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		target, dsn := newTarget(t)
		before := dump(t, dsn)
		_, err := Run(t.Context(), target, options(t, m, p))
		if err == nil || !strings.Contains(err.Error(), "nothing was written") {
			t.Fatalf("err = %v", err)
		}
		if after := dump(t, dsn); !reflect.DeepEqual(before, after) {
			t.Fatal("the oidcd database changed")
		}
	})
}

// openRW opens a SQLite file for the test to change it.
func openRW(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// dump reads every row of every table of the oidcd SQLite database at dsn.
func dump(t *testing.T, dsn string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string][]string{}
	for _, tb := range tables {
		rows, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			v := make([]any, len(cols))
			p := make([]any, len(cols))
			for i := range v {
				p[i] = &v[i]
			}
			if err := rows.Scan(p...); err != nil {
				t.Fatal(err)
			}
			out[tb] = append(out[tb], fmt.Sprintf("%q", v))
		}
		rows.Close()
		slices.Sort(out[tb])
	}
	return out
}

// --sub username keeps the subject of sites whose OIDC_IDTOKEN_SUB_GENERATOR
// returned the username: the account id is the username.
func TestImportSubUsername(t *testing.T) {
	m := loadManifest(t, "v0.8.3")
	target, _ := newTarget(t)
	opts := options(t, m, fixtureDB(t, "v0.8.3"))
	opts.Sub = "username"
	if _, err := Run(t.Context(), target, opts); err != nil {
		t.Fatal(err)
	}
	u, err := target.User(t.Context(), "alice")
	if err != nil || u.Username != "alice" {
		t.Fatalf("alice by id %q: %+v %v", "alice", u, err)
	}
	_, g, err := target.Token(t.Context(), op.SecretDigest(m.Tokens["alice_web"]["access_token"]), opts.Now())
	if err != nil || g.UserID != "alice" {
		t.Fatalf("alice's grant: %+v %v", g, err)
	}
	if _, err := Run(t.Context(), target, Options{From: opts.From, Sub: "email", Sealer: opts.Sealer}); err == nil {
		t.Fatal("--sub email accepted")
	}
}

// --sub-map keeps the subjects of a custom OIDC_IDTOKEN_SUB_GENERATOR.
func TestImportSubMap(t *testing.T) {
	m := loadManifest(t, "v0.8.3")
	sub, err := ReadSubMap(strings.NewReader("user_id,sub\n1,pairwise-a1\n2,pairwise-b2\n"))
	if err != nil {
		t.Fatal(err)
	}
	target, _ := newTarget(t)
	opts := options(t, m, fixtureDB(t, "v0.8.3"))
	opts.SubMap = sub
	r, err := Run(t.Context(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Counts["users"]; c.Created != 2 || c.Skipped != 6 {
		t.Fatalf("users %+v", *c)
	}
	if u, err := target.User(t.Context(), "pairwise-a1"); err != nil || u.Username != "alice" {
		t.Fatalf("alice: %+v %v", u, err)
	}
	_, g, err := target.Token(t.Context(), op.SecretDigest(m.Tokens["alice_web"]["access_token"]), opts.Now())
	if err != nil || g.UserID != "pairwise-a1" {
		t.Fatalf("alice's grant: %+v %v", g, err)
	}
	for _, bad := range []string{"1,a\n1,b\n", "1,a\n2,a\n", "x,a\ny,b\n", "1,has space\n", "", "1\n"} {
		if _, err := ReadSubMap(strings.NewReader(bad)); err == nil {
			t.Errorf("sub map %q accepted", bad)
		}
	}
}

// A schema with migrations newer than the importer knows is imported and
// reported as such.
func TestImportNewerSchema(t *testing.T) {
	m := loadManifest(t, "v0.8.3")
	p := fixtureDB(t, "v0.8.3")
	db := openRW(t, p)
	if _, err := db.Exec(`INSERT INTO django_migrations (app, name, applied) VALUES ('oidc_provider', '0028_future', '2030-01-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	target, _ := newTarget(t)
	r, err := Run(t.Context(), target, options(t, m, p))
	if err != nil {
		t.Fatal(err)
	}
	if r.Release != "0.8+" || r.Migration != "0028_future" || r.Counts["clients"].Created != 5 {
		t.Fatalf("release %q migration %q clients %+v", r.Release, r.Migration, *r.Counts["clients"])
	}
}
