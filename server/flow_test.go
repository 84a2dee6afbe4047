package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// newRP registers a confidential client and returns its OAuth 2.0 config
// and an ID token verifier, as a real relying party would set them up.
func newRP(t *testing.T, e *testEnv, scopes ...string) (*oauth2.Config, *oidc.IDTokenVerifier, *oidc.Provider) {
	t.Helper()
	client, secret, err := op.NewClient(storage.Client{
		Name:           "RP",
		RedirectURIs:   []string{"http://127.0.0.1:9/cb"},
		ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "refresh_token", "password"}},
	}, e.srv.sealer, e.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateClient(t.Context(), client); err != nil {
		t.Fatal(err)
	}
	issuer := e.srv.cfg.Provider.Issuer
	ctx := oidc.ClientContext(t.Context(), e.ts.Client())
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{
		ClientID:     client.ID,
		ClientSecret: secret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  "http://127.0.0.1:9/cb",
		Scopes:       scopes,
	}
	return conf, provider.Verifier(&oidc.Config{ClientID: client.ID, Now: e.clock.Now}), provider
}

// TestCodeFlowThroughLoginPage drives a whole authorization: the provider
// sends the browser to the server's login page, the login sends it back,
// and go-oidc verifies the ID token of the server's user and session.
func TestCodeFlowThroughLoginPage(t *testing.T) {
	e := newTestServer(t, nil)
	alice := e.addUser(t, "alice", "pw")
	conf, verifier, provider := newRP(t, e, oidc.ScopeOpenID, "email", "profile")
	ctx := oidc.ClientContext(t.Context(), e.ts.Client())
	pkce := oauth2.GenerateVerifier()
	c := e.browser(t)

	r := do(t, c, "GET", conf.AuthCodeURL("st4te", oidc.Nonce("n0nce"), oauth2.S256ChallengeOption(pkce)), nil)
	if r.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d\n%s", r.StatusCode, r.body)
	}
	loginURL, _ := url.Parse(r.Header.Get("Location"))
	if loginURL.Path != "/login" {
		t.Fatalf("not sent to the login page: %s", loginURL)
	}
	next := loginURL.Query().Get("next")
	tok := e.csrf(t, c, loginURL.RequestURI())
	r = do(t, c, "POST", e.ts.URL+"/login", url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {"pw"}, "next": {next}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != next {
		t.Fatalf("login: %d %q, want %q", r.StatusCode, r.Header.Get("Location"), next)
	}
	r = do(t, c, "GET", e.ts.URL+next, nil)
	if r.StatusCode != http.StatusFound {
		t.Fatalf("authorize after login: %d\n%s", r.StatusCode, r.body)
	}
	cb, _ := url.Parse(r.Header.Get("Location"))
	if cb.Query().Get("state") != "st4te" || cb.Query().Get("code") == "" {
		t.Fatalf("callback %s", cb)
	}

	token, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := token.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if idt.Subject != alice.ID || idt.Nonce != "n0nce" {
		t.Fatalf("id token sub %q nonce %q", idt.Subject, idt.Nonce)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	idt.Claims(&claims)
	sess, err := e.srv.session(requestWithCookies(t, e, c))
	if err != nil || sess == nil || claims.SID != sess.ID {
		t.Fatalf("sid %q, session %+v, %v", claims.SID, sess, err)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(token))
	if err != nil {
		t.Fatal(err)
	}
	var uc struct {
		PreferredUsername string `json:"preferred_username"`
	}
	ui.Claims(&uc)
	if ui.Email != "alice@example.com" || uc.PreferredUsername != "alice" {
		t.Fatalf("userinfo %+v %+v", ui, uc)
	}

	// Logout ends the tokens issued in that browser session (SECURITY D8).
	logoutTok := e.csrf(t, c, "/logout")
	if r := do(t, c, "POST", e.ts.URL+"/logout", url.Values{"csrf_token": {logoutTok}}); r.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(token)); err == nil {
		t.Fatal("access token still works after logout")
	}
	token.Expiry = time.Unix(1, 0)
	if _, err := conf.TokenSource(ctx, token).Token(); err == nil {
		t.Fatal("refresh token still works after logout")
	}
}

func requestWithCookies(t *testing.T, e *testEnv, c *http.Client) *http.Request {
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL, nil)
	u, _ := url.Parse(e.ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	return req
}

// TestPasswordGrantSharesThrottle checks the password grant through the
// server's accounts: it works, and it is locked by the same counters as the
// login form (SECURITY I2, I3).
func TestPasswordGrantSharesThrottle(t *testing.T) {
	e := newTestServer(t, func(c *Config) { c.Provider.PasswordGrant = true })
	e.addUser(t, "alice", "pw")
	conf, _, _ := newRP(t, e)
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, e.ts.Client())

	if _, err := conf.PasswordCredentialsToken(ctx, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_, err := conf.PasswordCredentialsToken(ctx, "alice", "wrong")
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("wrong password: %v", err)
		}
	}
	_, err := conf.PasswordCredentialsToken(ctx, "alice", "pw")
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.Header.Get("Retry-After") != "" {
		t.Fatalf("locked account: %v", err)
	}
	// The login form is locked too.
	if r := e.login(t, e.browser(t), "alice", "pw", ""); r.StatusCode != http.StatusUnauthorized || cookie(r.Response, SessionCookie) != nil {
		t.Fatalf("login form after password-grant failures: %d", r.StatusCode)
	}
	if !strings.Contains(e.logs.String(), "password grant throttled") {
		t.Error("lockout not logged")
	}
}
