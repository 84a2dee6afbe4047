package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/op"
)

// signIn logs alice in through the login page and runs a code flow for
// conf; it returns the ID token.
func signIn(t *testing.T, e *testEnv, c *http.Client, conf *oauth2.Config) string {
	t.Helper()
	e.login(t, c, "alice", "pw", "/")
	r := do(t, c, "GET", conf.AuthCodeURL("s", oidc.Nonce("n")), nil)
	cb, _ := url.Parse(r.Header.Get("Location"))
	tok, err := conf.Exchange(oidc.ClientContext(t.Context(), e.ts.Client()), cb.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange after %d %s: %v", r.StatusCode, r.Header.Get("Location"), err)
	}
	return tok.Extra("id_token").(string)
}

// The end-session endpoint signs the browser out of the server: its login
// session row is deleted (so no node knows it any more) and the cookie
// cleared; the browser-state cookie changes (Session Management 1.0).
func TestEndSessionEndsServerSession(t *testing.T) {
	e := newTestServer(t, func(c *Config) { c.Provider.SessionManagement = true })
	alice := e.addUser(t, "alice", "pw")
	conf, _, _ := newRP(t, e, oidc.ScopeOpenID)
	c := e.browser(t)
	hint := signIn(t, e, c, conf)
	if e.currentUser(t, c) != alice.ID {
		t.Fatal("not signed in")
	}
	sess, err := e.srv.session(requestWithCookies(t, e, c))
	if err != nil || sess == nil {
		t.Fatal("no session", err)
	}
	r := do(t, c, "GET", e.ts.URL+op.PathEndSession+"?"+url.Values{"id_token_hint": {hint}}.Encode(), nil)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Signed out") {
		t.Fatalf("end session: %d\n%s", r.StatusCode, r.body)
	}
	if e.currentUser(t, c) != "" {
		t.Fatal("still signed in after end-session")
	}
	if _, err := e.store.Session(t.Context(), sess.Hash, e.clock.Now()); err == nil {
		t.Fatal("the session row survived end-session")
	}
	var bs *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == op.BrowserStateCookie {
			bs = ck
		}
	}
	if bs == nil || bs.HttpOnly {
		t.Fatalf("browser-state cookie after logout: %+v", bs)
	}
}

// The server's own /logout shares the provider's logout: the front-channel
// logout pages of the session's clients load in iframes that the page's
// CSP allows, and the browser state changes at login.
func TestServerLogoutFrontChannel(t *testing.T) {
	e := newTestServer(t, func(c *Config) { c.Provider.SessionManagement = true })
	e.addUser(t, "alice", "pw")
	conf, _, _ := newRP(t, e, oidc.ScopeOpenID)
	cl, err := e.store.Client(t.Context(), conf.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	cl.FrontchannelLogoutURI = "http://127.0.0.1:9/fc"
	cl.FrontchannelLogoutSessionRequired = true
	if err := e.store.UpdateClient(t.Context(), cl); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(10e9) // past the client cache
	c := e.browser(t)
	lr := e.login(t, c, "alice", "pw", "/")
	if ck := cookie(lr.Response, op.BrowserStateCookie); ck == nil || ck.Value == "" {
		t.Fatal("login did not set the browser state")
	}
	signIn(t, e, c, conf)
	sess, _ := e.srv.session(requestWithCookies(t, e, c))
	tok := e.csrf(t, c, "/logout")
	r := do(t, c, "POST", e.ts.URL+"/logout", url.Values{"csrf_token": {tok}})
	want := "http://127.0.0.1:9/fc?" + url.Values{"iss": {e.srv.cfg.Provider.Issuer}, "sid": {sess.ID}}.Encode()
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `src="`+strings.ReplaceAll(want, "&", "&amp;")+`"`) {
		t.Fatalf("logout page: %d\n%s", r.StatusCode, r.body)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src http://127.0.0.1:9;") {
		t.Fatalf("CSP %q", csp)
	}
}
