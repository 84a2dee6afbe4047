package djangoimport

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// site is an oidcd server on an imported database.
type importedSite struct {
	ts     *httptest.Server
	store  *sqlstore.Store
	m      *manifest
	now    time.Time
	issuer string
}

func serveImported(t *testing.T, release string) *importedSite {
	t.Helper()
	m := loadManifest(t, release)
	target, _ := newTarget(t)
	opts := options(t, m, fixtureDB(t, release))
	if _, err := Run(t.Context(), target, opts); err != nil {
		t.Fatal(err)
	}
	now := opts.Now()
	ts := httptest.NewUnstartedServer(nil)
	srv, err := server.New(t.Context(), server.Config{
		Store:  target,
		Sealer: testSealer(t),
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return now },
		// django-oidc-provider's usual mount point: the issuer has its path.
		Provider: op.Config{Issuer: "http://" + ts.Listener.Addr().String() + "/openid"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &importedSite{ts: ts, store: target, m: m, now: now, issuer: ts.URL + "/openid"}
}

// After the move, relying parties and users notice nothing: an ID token
// the release issued verifies against oidcd's JWKS, an old refresh token is
// redeemed, access tokens keep working, "sub" is the same, users sign in
// with their old passwords (then upgraded to argon2id) and a remembered
// consent is not asked again.
func TestImportedSiteWorks(t *testing.T) {
	s := serveImported(t, "v0.8.3")
	m := s.m
	ctx := oidc.ClientContext(t.Context(), s.ts.Client())
	clock := func() time.Time { return s.now }
	aliceSub := fmt.Sprint(m.Users["alice"].ID)
	web := m.Clients["web"]

	t.Run("ID token issued by django-oidc-provider verifies against oidcd's JWKS", func(t *testing.T) {
		keySet := oidc.NewRemoteKeySet(ctx, s.issuer+"/jwks")
		// The relying party still knows the old issuer; only the keys moved.
		v := oidc.NewVerifier(m.Issuer, keySet, &oidc.Config{ClientID: web.ClientID, Now: clock})
		idt, err := v.Verify(ctx, m.Tokens["alice_web"]["id_token"])
		if err != nil {
			t.Fatal(err)
		}
		if idt.Subject != aliceSub || idt.Nonce != "n-alice" {
			t.Fatalf("sub %q nonce %q", idt.Subject, idt.Nonce)
		}
		// A token signed by a key oidcd does not publish still fails.
		forged := m.Tokens["alice_web"]["id_token"]
		forged = forged[:strings.LastIndex(forged, ".")+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 256))
		if _, err := v.Verify(ctx, forged); err == nil {
			t.Fatal("a forged signature verified")
		}
	})

	t.Run("the release's URLs (under /openid/, with a trailing slash) answer", func(t *testing.T) {
		for _, path := range []string{"/.well-known/openid-configuration/", "/jwks/"} {
			if r := get(t, s.ts.Client(), s.issuer+path); r.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d", path, r.StatusCode)
			}
		}
		req, _ := http.NewRequest("GET", s.issuer+"/userinfo/", nil)
		req.Header.Set("Authorization", "Bearer "+m.Tokens["alice_web"]["access_token"])
		if r, err := s.ts.Client().Do(req); err != nil || r.StatusCode != http.StatusOK {
			t.Errorf("GET /openid/userinfo/: %v %v", r, err)
		}
	})

	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: web.ClientID, Now: clock})
	conf := &oauth2.Config{ClientID: web.ClientID, ClientSecret: web.ClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: "https://rp.example.com/callback", Scopes: []string{oidc.ScopeOpenID, "email"}}

	t.Run("an old refresh token is redeemed; sub unchanged; the newest key signs", func(t *testing.T) {
		for _, name := range []string{"alice_web_refreshed", "erin_web"} { // erin's access token has expired
			old := &oauth2.Token{RefreshToken: m.Tokens[name]["refresh_token"], Expiry: s.now.Add(-time.Hour)}
			tok, err := conf.TokenSource(ctx, old).Token()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if tok.RefreshToken == "" || tok.RefreshToken == old.RefreshToken {
				t.Fatalf("%s: refresh token not rotated", name)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantSub := fmt.Sprint(m.Users[strings.Split(name, "_")[0]].ID)
			if idt.Subject != wantSub {
				t.Fatalf("%s: sub %q, want %q", name, idt.Subject, wantSub)
			}
			if kid := jwtHeader(t, raw)["kid"]; kid != m.Kids[1] {
				t.Errorf("signed by %v, want the newest imported key %s", kid, m.Kids[1])
			}
			// The same refresh token a second time is a replay.
			if _, err := conf.TokenSource(ctx, old).Token(); err == nil {
				t.Fatalf("%s: a rotated refresh token was accepted again", name)
			}
		}
	})

	t.Run("imported access tokens work at userinfo with the old sub", func(t *testing.T) {
		for _, name := range []string{"alice_web", "carol_spa"} {
			ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: m.Tokens[name]["access_token"]}))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			user := strings.Split(name, "_")[0]
			if ui.Subject != fmt.Sprint(m.Users[user].ID) || ui.Email != user+"@example.com" {
				t.Fatalf("%s: userinfo %+v", name, ui)
			}
		}
		var claims struct {
			Phone string `json:"phone_number"`
		}
		ui, _ := provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: m.Tokens["alice_web"]["access_token"]}))
		if err := ui.Claims(&claims); err != nil || claims.Phone != "+1 555 0100" {
			t.Fatalf("claims from --claims-sql: %+v %v", claims, err)
		}
	})

	t.Run("an imported authorization code is redeemed", func(t *testing.T) {
		h := m.Clients["hybrid"]
		hc := &oauth2.Config{ClientID: h.ClientID, ClientSecret: h.ClientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: m.Tokens["alice_hybrid_code"]["redirect_uri"]}
		tok, err := hc.Exchange(ctx, m.Tokens["alice_hybrid_code"]["code"])
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := tok.Extra("id_token").(string); jwtHeader(t, raw)["alg"] != "HS256" {
			t.Fatalf("hybrid client's ID token: %v", jwtHeader(t, raw))
		}
	})

	t.Run("users sign in with their Django passwords; hashes are upgraded", func(t *testing.T) {
		for name, u := range m.Users {
			if u.Password == "" {
				continue
			}
			b := newBrowser(t)
			r := login(t, b, s.issuer, name, u.Password)
			wantOK := u.IsActive && u.Hasher != "unsalted_md5"
			if got := r.StatusCode == http.StatusSeeOther; got != wantOK {
				t.Errorf("%s (%s): login status %d", name, u.Hasher, r.StatusCode)
				continue
			}
			stored, err := s.store.User(t.Context(), fmt.Sprint(u.ID))
			if err != nil {
				t.Fatal(err)
			}
			if wantOK != strings.HasPrefix(stored.PasswordHash, "$argon2id$") {
				t.Errorf("%s (%s): stored hash %.20q after login", name, u.Hasher, stored.PasswordHash)
			}
		}
	})

	t.Run("a remembered consent is not asked again", func(t *testing.T) {
		b := newBrowser(t)
		if r := login(t, b, s.issuer, "alice", m.Users["alice"].Password); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", r.StatusCode)
		}
		r := get(t, b, conf.AuthCodeURL("st", oidc.Nonce("n")))
		loc, _ := url.Parse(r.Header.Get("Location"))
		code := loc.Query().Get("code")
		if r.StatusCode != http.StatusFound || code == "" || !strings.HasPrefix(loc.String(), "https://rp.example.com/callback") {
			t.Fatalf("authorize asked again: %d %s\n%.300s", r.StatusCode, loc, r.body)
		}
		tok, err := conf.Exchange(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		idt, err := verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil || idt.Subject != aliceSub {
			t.Fatalf("ID token: %v %v", idt, err)
		}
		// bob never consented to this client: he sees the consent page.
		b = newBrowser(t)
		if r := login(t, b, s.issuer, "bob", m.Users["bob"].Password); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", r.StatusCode)
		}
		r = get(t, b, conf.AuthCodeURL("st", oidc.Nonce("n")))
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `name="allow"`) {
			t.Fatalf("bob: %d, no consent page", r.StatusCode)
		}
		// The consent page shows the client's logo, imported with --media
		// and served by oidcd itself (docs/security.md "Browser pages").
		if iu, _ := url.Parse(s.issuer); !strings.Contains(r.body, `<img src="`+strings.TrimSuffix(iu.Path, "/")+`/logo/`) {
			t.Errorf("no imported logo on the consent page:\n%s", r.body)
		}
	})
}

func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatalf("not a JWT: %q", raw)
	}
	var h map[string]any
	json.Unmarshal(b, &h)
	return h
}

type page struct {
	*http.Response
	body string
}

func newBrowser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) page {
	t.Helper()
	r, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return page{r, string(b)}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login signs in through the server's login form.
func login(t *testing.T, c *http.Client, base, username, password string) page {
	t.Helper()
	p := get(t, c, base+"/login")
	mt := csrfRE.FindStringSubmatch(p.body)
	if mt == nil {
		t.Fatalf("no csrf token on the login page:\n%s", p.body)
	}
	r, err := c.PostForm(base+"/login", url.Values{"csrf_token": {mt[1]}, "username": {username},
		"password": {password}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return page{r, string(b)}
}
