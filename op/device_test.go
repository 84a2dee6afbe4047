package op_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// formRequest posts form to an endpoint path, with client_secret_basic when
// secret is set, and returns the status and decoded JSON body.
func (env *testEnv) formRequest(path, id, secret string, form url.Values) (int, map[string]any, http.Header) {
	env.t.Helper()
	req, _ := http.NewRequestWithContext(env.t.Context(), http.MethodPost, env.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	} else if id != "" {
		form.Set("client_id", id)
		req, _ = http.NewRequestWithContext(env.t.Context(), http.MethodPost, env.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

func deviceEnv(t *testing.T, mutate func(*op.Config)) *testEnv {
	return newTestEnv(t, func(c *op.Config) {
		c.DeviceFlow = true
		c.DevicePollInterval = time.Second
		if mutate != nil {
			mutate(c)
		}
	})
}

// deviceClient registers a public client of the device grant only.
func (env *testEnv) deviceClient() string {
	id, _ := env.client(storage.Client{Name: "Living Room TV", Type: "public", RedirectURIs: []string{}, ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"device_code", "refresh_token"}}})
	return id
}

type deviceStart struct {
	DeviceCode, UserCode, URI, URIComplete string
	ExpiresIn, Interval                    int
}

func (env *testEnv) startDevice(clientID, scope string) deviceStart {
	env.t.Helper()
	st, body, hdr := env.formRequest(op.PathDeviceAuthorization, clientID, "", url.Values{"scope": {scope}})
	if st != http.StatusOK {
		env.t.Fatalf("device authorization: %d %v", st, body)
	}
	if hdr.Get("Cache-Control") != "no-store" {
		env.t.Errorf("device authorization response is cacheable: %q", hdr.Get("Cache-Control"))
	}
	d := deviceStart{}
	d.DeviceCode, _ = body["device_code"].(string)
	d.UserCode, _ = body["user_code"].(string)
	d.URI, _ = body["verification_uri"].(string)
	d.URIComplete, _ = body["verification_uri_complete"].(string)
	e, _ := body["expires_in"].(float64)
	i, _ := body["interval"].(float64)
	d.ExpiresIn, d.Interval = int(e), int(i)
	return d
}

func (env *testEnv) pollDevice(clientID, deviceCode string) (int, map[string]any) {
	env.t.Helper()
	st, body, _ := env.formRequest(op.PathToken, clientID, "", url.Values{
		"grant_type": {op.GrantTypeDeviceCode}, "device_code": {deviceCode},
	})
	return st, body
}

var deviceCSRF = regexp.MustCompile(`name="device_csrf" value="([^"]*)"`)

// enterCode submits the code form of the verification page pg.
func (b *browser) enterCode(pg *page, code string) *page {
	b.t.Helper()
	m := deviceCSRF.FindStringSubmatch(pg.body)
	if m == nil {
		b.t.Fatalf("not the device code form (status %d): %s", pg.status, pg.body)
	}
	return b.post(b.env.srv.URL+op.PathDevice, url.Values{"device_csrf": {html.UnescapeString(m[1])}, "user_code": {code}})
}

// deviceConsent answers the device consent page pg.
func (b *browser) deviceConsent(pg *page, allow bool) *page {
	b.t.Helper()
	if !strings.Contains(pg.body, `name="allow"`) || !strings.Contains(pg.body, "consent_csrf") {
		b.t.Fatalf("not the device consent page (status %d): %s", pg.status, pg.body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(pg.body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if allow {
		form.Set("allow", "Allow")
	}
	return b.post(b.env.srv.URL+op.PathDevice, form)
}

func TestDeviceFlowOffByDefault(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "device_code"}}})
	if st, _, _ := env.formRequest(op.PathDeviceAuthorization, id, secret, url.Values{}); st != http.StatusNotFound {
		t.Errorf("/device_authorization with the device flow off: %d, want 404", st)
	}
	if pg := env.browser().get(env.srv.URL + op.PathDevice); pg.status != http.StatusNotFound {
		t.Errorf("/device with the device flow off: %d, want 404", pg.status)
	}
	st, body, _ := env.formRequest(op.PathToken, id, secret, url.Values{"grant_type": {op.GrantTypeDeviceCode}, "device_code": {"x"}})
	if st != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
		t.Errorf("device grant with the device flow off: %d %v", st, body)
	}
	var doc map[string]any
	resp, _ := http.Get(env.srv.URL + op.PathDiscovery)
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if _, ok := doc["device_authorization_endpoint"]; ok {
		t.Error("discovery names a device_authorization_endpoint while the device flow is off")
	}

	on := deviceEnv(t, nil)
	resp, _ = http.Get(on.srv.URL + op.PathDiscovery)
	doc = nil
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["device_authorization_endpoint"] != on.srv.URL+op.PathDeviceAuthorization {
		t.Errorf("device_authorization_endpoint = %v", doc["device_authorization_endpoint"])
	}
	if !strings.Contains(jsonString(doc["grant_types_supported"]), op.GrantTypeDeviceCode) {
		t.Errorf("grant_types_supported lacks the device grant: %v", doc["grant_types_supported"])
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestDeviceAuthorizationErrors(t *testing.T) {
	env := deviceEnv(t, nil)
	webOnly, webSecret := env.client(storage.Client{})
	tv := env.deviceClient()
	confID, confSecret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "device_code"}}})
	tests := []struct {
		name, id, secret string
		form             url.Values
		status           int
		code             string
	}{
		{"client without the device grant", webOnly, webSecret, url.Values{}, 400, "unauthorized_client"},
		{"wrong secret", confID, "wrong", url.Values{}, 401, "invalid_client"},
		{"no client", "", "", url.Values{}, 401, "invalid_client"},
		{"unknown client", "nobody", "", url.Values{}, 401, "invalid_client"},
		{"scope not available", tv, "", url.Values{"scope": {"openid admin:all"}}, 400, "invalid_scope"},
		{"repeated parameter", tv, "", url.Values{"scope": {"openid", "email"}}, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := env.formRequest(op.PathDeviceAuthorization, tc.id, tc.secret, tc.form)
			if st != tc.status || body["error"] != tc.code {
				t.Errorf("got %d %v, want %d %s", st, body, tc.status, tc.code)
			}
		})
	}
	// The token endpoint refuses the grant to a client that does not list it.
	st, body, _ := env.formRequest(op.PathToken, webOnly, webSecret, url.Values{"grant_type": {op.GrantTypeDeviceCode}, "device_code": {"x"}})
	if st != 400 || body["error"] != "unauthorized_client" {
		t.Errorf("device grant by a client without it: %d %v", st, body)
	}
	// A confidential client with the grant gets codes.
	st, body, _ = env.formRequest(op.PathDeviceAuthorization, confID, confSecret, url.Values{"scope": {"openid"}})
	if st != 200 || body["device_code"] == nil {
		t.Errorf("confidential device client: %d %v", st, body)
	}
}

var userCodeShape = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

func TestDeviceAuthorizationResponse(t *testing.T) {
	env := deviceEnv(t, func(c *op.Config) { c.DeviceCodeExpire = 7 * time.Minute })
	tv := env.deviceClient()
	seen := map[string]bool{}
	for range 20 {
		d := env.startDevice(tv, "openid profile")
		if !userCodeShape.MatchString(d.UserCode) {
			t.Fatalf("user code %q is not XXXX-XXXX of RFC 8628 §6.1's alphabet", d.UserCode)
		}
		if seen[d.UserCode] || seen[d.DeviceCode] {
			t.Fatalf("code handed out twice: %q", d.UserCode)
		}
		seen[d.UserCode], seen[d.DeviceCode] = true, true
		if len(d.DeviceCode) < 43 {
			t.Errorf("device code %q is shorter than 256 bits", d.DeviceCode)
		}
		if d.URI != env.srv.URL+op.PathDevice || d.URIComplete != d.URI+"?user_code="+d.UserCode {
			t.Errorf("verification URIs %q %q", d.URI, d.URIComplete)
		}
		if d.ExpiresIn != 420 || d.Interval != 1 {
			t.Errorf("expires_in %d interval %d, want 420 1", d.ExpiresIn, d.Interval)
		}
	}
}

// approve runs the verification pages from verification_uri_complete:
// the pre-filled form, login, the consent page, and the answer.
func (b *browser) approve(uriComplete string, allow bool) *page {
	b.t.Helper()
	form := b.get(uriComplete)
	if form.status != http.StatusOK {
		b.t.Fatalf("verification page: %d %s", form.status, form.body)
	}
	m := regexp.MustCompile(`name="user_code" value="([^"]*)"`).FindStringSubmatch(form.body)
	if m == nil {
		b.t.Fatalf("the code is not filled in: %s", form.body)
	}
	consent := b.enterCode(form, html.UnescapeString(m[1]))
	return b.deviceConsent(consent, allow)
}

func TestDeviceWrongUserCodeRateLimited(t *testing.T) {
	env := deviceEnv(t, func(c *op.Config) { c.UserCodeMaxFailures = 3 })
	tv := env.deviceClient()
	d := env.startDevice(tv, "openid")
	b := env.browser()
	form := b.get(env.srv.URL + op.PathDevice)
	for i, guess := range []string{"BCDF-GHJK", "not a code", "BCDFGHJ"} {
		pg := b.enterCode(form, guess)
		if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "not valid") {
			t.Fatalf("wrong code %d: %d %s", i, pg.status, pg.body)
		}
	}
	// Over the limit even the right code is refused unchecked.
	pg := b.enterCode(form, d.UserCode)
	if pg.status != http.StatusTooManyRequests || pg.header.Get("Retry-After") == "" {
		t.Fatalf("fourth attempt: %d (Retry-After %q), want 429", pg.status, pg.header.Get("Retry-After"))
	}
	// The count lives in storage: another node on the same store refuses too.
	other := newTestEnvOn(t, env.store, func(c *op.Config) { c.DeviceFlow = true; c.UserCodeMaxFailures = 3 })
	ob := other.browser()
	if pg := ob.enterCode(ob.get(other.srv.URL+op.PathDevice), d.UserCode); pg.status != http.StatusTooManyRequests {
		t.Fatalf("other node after the limit: %d, want 429", pg.status)
	}
	// After the window the right code works again, typed in lower case
	// without the dash.
	env.clock.Add(5*time.Minute + time.Second)
	pg = b.enterCode(form, strings.ToLower(strings.ReplaceAll(d.UserCode, "-", "")))
	if !strings.Contains(pg.body, "consent_csrf") || !strings.Contains(pg.body, "Living Room TV") {
		t.Fatalf("right code after the window: %d %s", pg.status, pg.body)
	}
}

func TestDeviceVerificationCSRF(t *testing.T) {
	env := deviceEnv(t, nil)
	tv := env.deviceClient()
	d := env.startDevice(tv, "openid")
	b := env.browser()
	form := b.get(d.URIComplete)
	// No cookie: another site posting the form.
	other := env.browser()
	m := deviceCSRF.FindStringSubmatch(form.body)
	pg := other.post(env.srv.URL+op.PathDevice, url.Values{"device_csrf": {html.UnescapeString(m[1])}, "user_code": {d.UserCode}})
	if pg.status != http.StatusForbidden {
		t.Errorf("code form without the cookie: %d, want 403", pg.status)
	}
	pg = b.post(env.srv.URL+op.PathDevice, url.Values{"device_csrf": {"forged"}, "user_code": {d.UserCode}})
	if pg.status != http.StatusForbidden {
		t.Errorf("code form with a forged token: %d, want 403", pg.status)
	}
	// The consent answer is bound to the session: another browser's post fails.
	consent := b.enterCode(form, d.UserCode)
	if !strings.Contains(consent.body, "consent_csrf") {
		t.Fatalf("no consent page: %s", consent.body)
	}
	fields := url.Values{"allow": {"Allow"}}
	for _, m := range hiddenInput.FindAllStringSubmatch(consent.body, -1) {
		fields.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	mallory := env.browser()
	mallory.get(env.srv.URL + "/login?next=/") // logged in as alice, but another session
	if pg := mallory.post(env.srv.URL+op.PathDevice, fields); pg.status != http.StatusForbidden {
		t.Errorf("consent answer from another session: %d, want 403", pg.status)
	}
	if st, body := env.pollDevice(tv, d.DeviceCode); body["error"] != "authorization_pending" {
		t.Errorf("after forged answers: %d %v, want authorization_pending", st, body)
	}
	// The page is never framed and the cookie is HttpOnly.
	if form.header.Get("X-Frame-Options") != "DENY" {
		t.Error("verification page may be framed")
	}
	if c := form.header.Get("Set-Cookie"); !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
		t.Errorf("device cookie %q", c)
	}
}

func TestDevicePollingErrors(t *testing.T) {
	env := deviceEnv(t, nil)
	tv := env.deviceClient()
	otherTV := env.deviceClient()

	t.Run("unknown and missing device code", func(t *testing.T) {
		if _, body := env.pollDevice(tv, "no-such-code"); body["error"] != "invalid_grant" {
			t.Errorf("unknown: %v", body)
		}
		st, body, _ := env.formRequest(op.PathToken, tv, "", url.Values{"grant_type": {op.GrantTypeDeviceCode}})
		if st != 400 || body["error"] != "invalid_request" {
			t.Errorf("missing: %d %v", st, body)
		}
	})
	t.Run("pending, then slow_down", func(t *testing.T) {
		d := env.startDevice(tv, "openid")
		if _, body := env.pollDevice(tv, d.DeviceCode); body["error"] != "authorization_pending" {
			t.Fatalf("first poll: %v", body)
		}
		if _, body := env.pollDevice(tv, d.DeviceCode); body["error"] != "slow_down" {
			t.Fatalf("immediate second poll: %v", body)
		}
		// The interval is now 6 s: 2 s later is still too soon.
		env.clock.Add(2 * time.Second)
		if _, body := env.pollDevice(tv, d.DeviceCode); body["error"] != "slow_down" {
			t.Fatalf("poll 2 s later: %v", body)
		}
		env.clock.Add(12 * time.Second)
		if _, body := env.pollDevice(tv, d.DeviceCode); body["error"] != "authorization_pending" {
			t.Fatalf("poll after the longer interval: %v", body)
		}
	})
	t.Run("another client's device code", func(t *testing.T) {
		d := env.startDevice(tv, "openid")
		env.browser().approve(d.URIComplete, true)
		if _, body := env.pollDevice(otherTV, d.DeviceCode); body["error"] != "invalid_grant" {
			t.Fatalf("other client: %v", body)
		}
		env.clock.Add(2 * time.Second)
		if st, body := env.pollDevice(tv, d.DeviceCode); st != 200 {
			t.Fatalf("own client after the other's attempt: %d %v", st, body)
		}
	})
	t.Run("denied", func(t *testing.T) {
		d := env.startDevice(tv, "openid")
		pg := env.browser().approve(d.URIComplete, false)
		if !strings.Contains(pg.body, "Device not connected") {
			t.Fatalf("deny page: %s", pg.body)
		}
		env.clock.Add(2 * time.Second)
		if _, body := env.pollDevice(tv, d.DeviceCode); body["error"] != "access_denied" {
			t.Fatalf("after deny: %v", body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		d := env.startDevice(tv, "openid")
		env.clock.Add(10*time.Minute + time.Second)
		if _, body := env.pollDevice(tv, d.DeviceCode); body["error"] != "expired_token" {
			t.Fatalf("after expiry: %v", body)
		}
		b := env.browser()
		if pg := b.enterCode(b.get(d.URIComplete), d.UserCode); pg.status != 400 {
			t.Fatalf("expired user code accepted: %d", pg.status)
		}
	})
	t.Run("redeemed twice", func(t *testing.T) {
		d := env.startDevice(tv, "openid")
		env.browser().approve(d.URIComplete, true)
		if st, body := env.pollDevice(tv, d.DeviceCode); st != 200 || body["access_token"] == nil {
			t.Fatalf("redemption: %d %v", st, body)
		}
		env.clock.Add(2 * time.Second)
		if _, body := env.pollDevice(tv, d.DeviceCode); body["error"] != "invalid_grant" {
			t.Fatalf("second redemption: %v", body)
		}
		// A used code cannot be decided again either.
		b := env.browser()
		if pg := b.enterCode(b.get(d.URIComplete), d.UserCode); pg.status != 400 {
			t.Fatalf("used user code accepted: %d", pg.status)
		}
	})
}

// TestDeviceFlowXOAuth2 is the whole grant driven by golang.org/x/oauth2's
// device flow support (Config.DeviceAuth, Config.DeviceAccessToken), with a
// user approving on the verification page meanwhile; the tokens work at
// userinfo and refresh.
func TestDeviceFlowXOAuth2(t *testing.T) {
	env := deviceEnv(t, nil)
	tv := env.deviceClient()
	conf := &oauth2.Config{
		ClientID: tv,
		Scopes:   []string{"openid", "email", "offline_access"},
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: env.srv.URL + op.PathDeviceAuthorization,
			TokenURL:      env.srv.URL + op.PathToken,
			AuthStyle:     oauth2.AuthStyleInParams,
		},
	}
	// The real clock: x/oauth2 sleeps for the interval between polls.
	env.clock.Add(0)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !userCodeShape.MatchString(da.UserCode) || da.VerificationURIComplete == "" || da.Interval != 1 {
		t.Fatalf("device auth response %+v", da)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(1500 * time.Millisecond) // let the device poll while pending
		env.clock.Add(2 * time.Second)
		b := &browser{t: t, env: env, http: env.browser().http}
		pg := b.approve(da.VerificationURIComplete, true)
		if !strings.Contains(pg.body, "Device connected") {
			t.Errorf("done page: %s", pg.body)
		}
		for range 10 { // keep the test clock ahead of the polls
			env.clock.Add(2 * time.Second)
			time.Sleep(300 * time.Millisecond)
		}
	}()
	tok, err := conf.DeviceAccessToken(ctx, da)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("token %+v", tok)
	}
	if st := env.userinfoStatus(tok.AccessToken); st != 200 {
		t.Errorf("userinfo with the device's token: %d", st)
	}
	ts := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken})
	if nt, err := ts.Token(); err != nil || nt.AccessToken == tok.AccessToken {
		t.Errorf("refresh: %v", err)
	}
}

// TestDeviceCodeRedeemedOnceAcrossNodes: two providers on one PostgreSQL
// database, 20 redemptions of one approved device code spread over both,
// at once: exactly one gets tokens.
func TestDeviceCodeRedeemedOnceAcrossNodes(t *testing.T) {
	dsn := pgtest.NewDatabase(t, pgtest.URL())
	open := func() *sqlstore.Store {
		s, err := sqlstore.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return s
	}
	mut := func(c *op.Config) { c.DeviceFlow = true; c.DevicePollInterval = time.Second }
	n1 := newTestEnvOn(t, open(), mut)
	n2 := newTestEnvOn(t, open(), mut)
	tv := n1.deviceClient()
	d := n1.startDevice(tv, "openid")
	n2.browser().approve(strings.Replace(d.URIComplete, n1.srv.URL, n2.srv.URL, 1), true)
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, errs := 0, map[string]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := n1
			if i%2 == 1 {
				node = n2
			}
			form := url.Values{"grant_type": {op.GrantTypeDeviceCode}, "device_code": {d.DeviceCode}, "client_id": {tv}}
			resp, err := http.Post(node.srv.URL+op.PathToken, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode == 200 {
				wins++
			} else {
				errs[body["error"].(string)]++
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d of %d concurrent redemptions on two nodes succeeded (errors %v), want exactly 1", wins, n, errs)
	}
	for code := range errs {
		if code != "invalid_grant" && code != "slow_down" {
			t.Errorf("losing redemption answered %q", code)
		}
	}
}
