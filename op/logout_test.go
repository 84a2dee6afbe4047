package op_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// receiver is a relying party's back-channel logout endpoint: it verifies
// each logout token with go-oidc against the provider's JWKS and records
// its claims (Back-Channel Logout 1.0 §2.6).
type receiver struct {
	t        *testing.T
	verifier *oidc.IDTokenVerifier
	mu       sync.Mutex
	got      []map[string]any
	typs     []string
	status   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("logout_token")
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA, jose.HS256})
	if err != nil {
		rc.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	idt, err := rc.verifier.Verify(r.Context(), token)
	if err != nil {
		rc.t.Errorf("receiver: logout token does not verify: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var claims map[string]any
	idt.Claims(&claims)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, claims)
	rc.typs = append(rc.typs, jws.Signatures[0].Header.ExtraHeaders["typ"].(string))
	if rc.status != 0 {
		w.WriteHeader(rc.status)
	}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// fastDelivery retries within milliseconds, on the real clock (retries
// wait for time to pass).
func fastDelivery(c *op.Config) {
	c.Now = time.Now
	c.InsecureAllowPrivateTargets = true
	c.LogoutDeliveryInterval = 20 * time.Millisecond
	c.LogoutRetryBackoff = 50 * time.Millisecond
}

func (env *testEnv) deliver() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { env.p.Run(ctx); close(done) }()
	env.t.Cleanup(func() { cancel(); <-done })
}

// Back-Channel Logout 1.0 §2.4, §2.5: ending a session POSTs a signed
// logout+jwt with iss, aud, iat, exp, jti, events, sub and sid and no
// nonce to every client of the session that registered a
// backchannel_logout_uri, once.
func TestBackChannelLogout(t *testing.T) {
	env := newTestEnv(t, fastDelivery)
	rc := &receiver{t: t}
	rsrv := httptest.NewServer(rc)
	defer rsrv.Close()
	id, secret := env.client(storage.Client{BackchannelLogoutURI: rsrv.URL + "/bc?x=1", BackchannelLogoutSessionRequired: true,
		PostLogoutRedirectURIs: []string{rpLoggedOut}})
	plain, plainSecret := env.client(storage.Client{}) // no logout URI: not notified
	relying := env.rp(id, secret)
	rc.verifier = relying.provider.Verifier(&oidc.Config{ClientID: id})
	b := env.browser()
	hint := env.signedIn(b, relying).Extra("id_token").(string)
	env.signedIn(b, env.rp(plain, plainSecret))
	idt, _ := relying.verifier.Verify(t.Context(), hint)
	var idc struct{ Sid, Sub string }
	idt.Claims(&idc)

	env.deliver()
	pg := b.get(endSessionURL(env, op.PathEndSession, map[string]string{"id_token_hint": hint, "post_logout_redirect_uri": rpLoggedOut}))
	if pg.status != http.StatusFound {
		t.Fatalf("end session: %d", pg.status)
	}
	waitFor(t, "the logout token", func() bool { return rc.count() == 1 })
	time.Sleep(100 * time.Millisecond)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 1 {
		t.Fatalf("%d logout tokens, want exactly 1", len(rc.got))
	}
	c := rc.got[0]
	events, _ := c["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok || rc.typs[0] != "logout+jwt" {
		t.Fatalf("events %v typ %q", c["events"], rc.typs[0])
	}
	if c["sid"] != idc.Sid || c["sub"] != idc.Sub || c["iss"] != env.srv.URL || c["aud"] != id ||
		c["jti"] == "" || c["iat"] == nil || c["exp"] == nil {
		t.Fatalf("logout token claims: %v", c)
	}
	if _, has := c["nonce"]; has {
		t.Fatal("a logout token carries a nonce")
	}
	msgs, _ := env.store.LogoutMessages(t.Context())
	if len(msgs) != 0 {
		t.Fatalf("%d messages left in the queue", len(msgs))
	}
}

// A receiver that is down gets the token once it is back: the message
// stays queued and is retried with backoff.
func TestBackChannelReceiverDown(t *testing.T) {
	var mu sync.Mutex
	events := map[op.EventKind]int{}
	env := newTestEnv(t, func(c *op.Config) {
		fastDelivery(c)
		c.Hooks.Event = func(_ context.Context, e op.Event) {
			mu.Lock()
			events[e.Kind]++
			mu.Unlock()
		}
	})
	eventCount := func(k op.EventKind) int {
		mu.Lock()
		defer mu.Unlock()
		return events[k]
	}
	// The receiver's address stays bound for the whole test (no port is
	// closed and reopened); while it is down it drops every connection
	// before answering, as a crashed or restarting server does.
	var rc atomic.Pointer[receiver]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if up := rc.Load(); up != nil {
			up.ServeHTTP(w, r)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	id, secret := env.client(storage.Client{BackchannelLogoutURI: srv.URL + "/bc"})
	relying := env.rp(id, secret)
	b := env.browser()
	env.signedIn(b, relying)
	env.deliver()
	logoutAll(t, env, b)
	waitFor(t, "a failed attempt", func() bool {
		msgs, _ := env.store.LogoutMessages(t.Context())
		return len(msgs) == 1 && msgs[0].Attempts >= 2 && msgs[0].LastError != ""
	})
	if eventCount(op.EventBackchannelFailed) == 0 || eventCount(op.EventBackchannelDelivered) != 0 {
		t.Fatalf("events while the receiver is down: %v", events)
	}
	up := &receiver{t: t, verifier: relying.provider.Verifier(&oidc.Config{ClientID: id})}
	rc.Store(up) // back up
	waitFor(t, "the logout token after the receiver came back", func() bool { return up.count() == 1 })
	waitFor(t, "an empty queue", func() bool {
		msgs, _ := env.store.LogoutMessages(t.Context())
		return len(msgs) == 0
	})
	waitFor(t, "one delivered event", func() bool { return eventCount(op.EventBackchannelDelivered) == 1 })
}

// logoutAll ends b's session through the end-session confirmation.
func logoutAll(t *testing.T, env *testEnv, b *browser) {
	t.Helper()
	pg := b.get(env.srv.URL + op.PathEndSession)
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(pg.body, -1) {
		form.Set(unescape(m[1]), unescape(m[2]))
	}
	if got := b.post(env.srv.URL+op.PathEndSession, form); got.status != http.StatusOK {
		t.Fatalf("logout: %d %s", got.status, got.body)
	}
}

// SECURITY K1: a redirect from the receiver is not followed (the message
// stays queued and is retried), and without InsecureAllowPrivateTargets a
// loopback receiver is never dialled.
func TestBackChannelNoRedirectNoPrivate(t *testing.T) {
	t.Run("redirect", func(t *testing.T) {
		env := newTestEnv(t, fastDelivery)
		var mu sync.Mutex
		hits := map[string]int{}
		target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits["target"]++
			mu.Unlock()
		}))
		defer target.Close()
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits["redirector"]++
			mu.Unlock()
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		}))
		defer redirector.Close()
		id, secret := env.client(storage.Client{BackchannelLogoutURI: redirector.URL})
		b := env.browser()
		env.signedIn(b, env.rp(id, secret))
		env.deliver()
		logoutAll(t, env, b)
		waitFor(t, "two attempts", func() bool { mu.Lock(); defer mu.Unlock(); return hits["redirector"] >= 2 })
		mu.Lock()
		defer mu.Unlock()
		if hits["target"] != 0 {
			t.Fatal("the redirect was followed")
		}
		msgs, _ := env.store.LogoutMessages(t.Context())
		if len(msgs) != 1 || !strings.Contains(msgs[0].LastError, "307") {
			t.Fatalf("queue after redirects: %+v", msgs)
		}
	})
	t.Run("private", func(t *testing.T) {
		env := newTestEnv(t, func(c *op.Config) {
			fastDelivery(c)
			c.InsecureAllowPrivateTargets = false
		})
		var hits int
		var mu sync.Mutex
		rsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mu.Lock(); hits++; mu.Unlock() }))
		defer rsrv.Close()
		id, secret := env.client(storage.Client{BackchannelLogoutURI: rsrv.URL})
		b := env.browser()
		env.signedIn(b, env.rp(id, secret))
		env.deliver()
		logoutAll(t, env, b)
		waitFor(t, "a refused attempt", func() bool {
			msgs, _ := env.store.LogoutMessages(t.Context())
			return len(msgs) == 1 && strings.Contains(msgs[0].LastError, "forbidden target")
		})
		mu.Lock()
		defer mu.Unlock()
		if hits != 0 {
			t.Fatal("a loopback receiver was dialled")
		}
	})
}

// Front-Channel Logout 1.0 §3: the signed-out page frames each client's
// frontchannel_logout_uri, with iss and sid when required, its CSP allows
// framing exactly those origins, and it goes on to the post-logout redirect.
func TestFrontChannelLogout(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{FrontchannelLogoutURI: "https://rp.example/fc?a=1", FrontchannelLogoutSessionRequired: true,
		PostLogoutRedirectURIs: []string{rpLoggedOut}})
	id2, secret2 := env.client(storage.Client{RedirectURIs: []string{"https://rp2.example/cb"}, FrontchannelLogoutURI: "https://rp2.example/fc"})
	relying := env.rp(id, secret)
	b := env.browser()
	hint := env.signedIn(b, relying).Extra("id_token").(string)
	r2 := env.rp(id2, secret2)
	r2.oauth.RedirectURL = "https://rp2.example/cb"
	pg := b.get(r2.oauth.AuthCodeURL("s", oidc.Nonce("n")))
	if loc := pg.header.Get("Location"); !strings.HasPrefix(loc, "https://rp2.example/cb?code=") {
		t.Fatalf("second client: %d %s", pg.status, loc)
	}
	idt, _ := relying.verifier.Verify(t.Context(), hint)
	var idc struct{ Sid string }
	idt.Claims(&idc)

	pg = b.get(endSessionURL(env, op.PathEndSession, map[string]string{"id_token_hint": hint, "post_logout_redirect_uri": rpLoggedOut, "state": "q"}))
	if pg.status != http.StatusOK {
		t.Fatalf("signed-out page: %d", pg.status)
	}
	want1 := "https://rp.example/fc?" + url.Values{"a": {"1"}, "iss": {env.srv.URL}, "sid": {idc.Sid}}.Encode()
	for _, src := range []string{want1, "https://rp2.example/fc"} {
		if !strings.Contains(pg.body, `<iframe class="frontchannel-logout" src="`+htmlEscape(src)+`"`) {
			t.Fatalf("no iframe for %s:\n%s", src, pg.body)
		}
	}
	csp := pg.header.Get("Content-Security-Policy")
	if (!strings.Contains(csp, "frame-src https://rp.example https://rp2.example;") && !strings.Contains(csp, "frame-src https://rp2.example https://rp.example;")) ||
		!strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	if !strings.Contains(pg.body, `href="`+htmlEscape(rpLoggedOut+"?state=q")+`"`) {
		t.Fatalf("no continuation to the post-logout redirect:\n%s", pg.body)
	}
	// The iframes are shown once: a second logout of the same session
	// notifies nobody.
	out, err := env.p.EndSession(t.Context(), op.Logout{UserID: "alice", SessionID: idc.Sid})
	if err != nil || len(out.FrontChannelURIs) != 0 {
		t.Fatalf("second EndSession: %v %v", out, err)
	}
}

func htmlEscape(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

// Library path: a host whose own logout page signs users out calls
// Provider.EndSession: the session's tokens are revoked, back-channel
// tokens are queued and front-channel URIs returned.
func TestEndSessionLibrary(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{BackchannelLogoutURI: "https://rp.example/bc", FrontchannelLogoutURI: "https://rp.example/fc"})
	relying := env.rp(id, secret, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	b := env.browser()
	tok := env.signedIn(b, relying)
	idt, _ := relying.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
	var idc struct{ Sid string }
	idt.Claims(&idc)
	if _, err := env.p.EndSession(t.Context(), op.Logout{UserID: "alice"}); err == nil {
		t.Fatal("EndSession without a session id succeeded")
	}
	out, err := env.p.EndSession(t.Context(), op.Logout{UserID: "alice", SessionID: idc.Sid})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.FrontChannelURIs) != 1 || out.FrontChannelURIs[0] != "https://rp.example/fc" {
		t.Fatalf("front channel: %v", out.FrontChannelURIs)
	}
	msgs, _ := env.store.LogoutMessages(t.Context())
	if len(msgs) != 1 || msgs[0].ClientID != id || msgs[0].SessionID != idc.Sid || msgs[0].Subject != "alice" {
		t.Fatalf("queued: %+v", msgs)
	}
	if env.userinfoStatus(tok.AccessToken) != http.StatusUnauthorized {
		t.Fatal("access token survived EndSession")
	}
	if st, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != http.StatusBadRequest {
		t.Fatalf("refresh after EndSession: %d %v", st, body)
	}
}
