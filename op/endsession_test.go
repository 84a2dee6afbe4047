package op_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"golang.org/x/oauth2"
)

const rpLoggedOut = "https://rp.example/logged-out"

// signedIn runs a code flow in b and returns the token response.
func (env *testEnv) signedIn(b *browser, relying *rp) *oauth2.Token {
	env.t.Helper()
	tok, err := relying.oauth.Exchange(env.t.Context(), b.authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		env.t.Fatal(err)
	}
	return tok
}

// stillSignedIn asks for prompt=none in b: a code means the session lives.
func stillSignedIn(t *testing.T, b *browser, relying *rp) bool {
	t.Helper()
	got := callback(t, b.get(relying.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))))
	return got.Get("code") != ""
}

func endSessionURL(env *testEnv, path string, params map[string]string) string {
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	return env.srv.URL + path + "?" + q.Encode()
}

// RP-Initiated Logout 1.0 §2, §3: a verified hint of the current session is
// trusted: no confirmation, the session and its tokens end, the hook runs,
// and the browser goes to the registered post_logout_redirect_uri with
// state; on every path, GET and POST.
func TestEndSessionTrustedHint(t *testing.T) {
	for _, tc := range []struct{ name, method, path string }{
		{"GET", http.MethodGet, op.PathEndSession},
		{"GET slash", http.MethodGet, op.PathEndSession + "/"},
		{"POST", http.MethodPost, op.PathEndSession},
		{"POST slash", http.MethodPost, op.PathEndSession + "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var hooked []op.AfterEndSessionArgs
			env := newTestEnv(t, func(c *op.Config) {
				c.Hooks.AfterEndSession = func(ctx context.Context, a op.AfterEndSessionArgs) error {
					mu.Lock()
					hooked = append(hooked, a)
					mu.Unlock()
					return nil
				}
			})
			id, secret := env.client(storage.Client{PostLogoutRedirectURIs: []string{rpLoggedOut}})
			relying := env.rp(id, secret, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
			b := env.browser()
			tok := env.signedIn(b, relying)
			hint := tok.Extra("id_token").(string)
			idt, err := relying.verifier.Verify(t.Context(), hint)
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				Sid string `json:"sid"`
			}
			idt.Claims(&claims)
			if claims.Sid == "" {
				t.Fatal("the ID token has no sid")
			}
			if env.userinfoStatus(tok.AccessToken) != http.StatusOK {
				t.Fatal("access token does not work before logout")
			}
			params := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {rpLoggedOut},
				"state": {"st<1>"}, "ui_locales": {"fr en"}, "logout_hint": {"alice"}}
			var pg *page
			if tc.method == http.MethodGet {
				pg = b.get(env.srv.URL + tc.path + "?" + params.Encode())
			} else {
				pg = b.post(env.srv.URL+tc.path, params)
			}
			if pg.status != http.StatusFound && pg.status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", pg.status, pg.body)
			}
			if loc := pg.header.Get("Location"); loc != rpLoggedOut+"?state=st%3C1%3E" {
				t.Fatalf("redirected to %q", loc)
			}
			if stillSignedIn(t, b, relying) {
				t.Fatal("the session survived the logout")
			}
			// SECURITY D8: the session's access and refresh tokens are revoked.
			if env.userinfoStatus(tok.AccessToken) != http.StatusUnauthorized {
				t.Fatal("the access token still works after logout")
			}
			if st, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Fatalf("refresh after logout: %d %v", st, body)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(hooked) != 1 || hooked[0].User.ID != "alice" || hooked[0].Client.ID != id ||
				hooked[0].PostLogoutRedirectURI != rpLoggedOut || hooked[0].State != "st<1>" || hooked[0].IDToken["sid"] != claims.Sid {
				t.Fatalf("hook calls: %+v", hooked)
			}
		})
	}
}

// An expired hint is still a hint (RP-Initiated Logout 1.0 §4).
func TestEndSessionExpiredHint(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{PostLogoutRedirectURIs: []string{rpLoggedOut}})
	relying := env.rp(id, secret)
	b := env.browser()
	hint := env.signedIn(b, relying).Extra("id_token").(string)
	env.clock.Add(2 * time.Hour) // the ID token lives 10 minutes
	pg := b.get(endSessionURL(env, op.PathEndSession, map[string]string{"id_token_hint": hint, "post_logout_redirect_uri": rpLoggedOut}))
	if pg.status != http.StatusFound || pg.header.Get("Location") != rpLoggedOut {
		t.Fatalf("expired hint: %d %s", pg.status, pg.header.Get("Location"))
	}
}

// HS256 ID tokens are verified with the secret of the client they name.
func TestEndSessionHS256Hint(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{JWTAlg: keys.HS256, PostLogoutRedirectURIs: []string{rpLoggedOut}})
	relying := env.rp(id, secret)
	b := env.browser()
	hint := env.signedIn(b, relying).Extra("id_token").(string)
	pg := b.get(endSessionURL(env, op.PathEndSession, map[string]string{"id_token_hint": hint, "post_logout_redirect_uri": rpLoggedOut}))
	if pg.status != http.StatusFound || pg.header.Get("Location") != rpLoggedOut {
		t.Fatalf("HS256 hint: %d %s %s", pg.status, pg.header.Get("Location"), pg.body)
	}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SECURITY H4, M3, A7: hints that do not verify with our keys are not
// trusted: the request gets an error page, no redirect, and the session
// lives on.
func TestEndSessionForgedHints(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{PostLogoutRedirectURIs: []string{rpLoggedOut}})
	hsID, _ := env.client(storage.Client{JWTAlg: keys.HS256, PostLogoutRedirectURIs: []string{rpLoggedOut}})
	relying := env.rp(id, secret)
	b := env.browser()
	hint := env.signedIn(b, relying).Extra("id_token").(string)
	var real map[string]any
	parts := strings.Split(hint, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(raw, &real)
	var hdr map[string]any
	raw, _ = base64.RawURLEncoding.DecodeString(parts[0])
	json.Unmarshal(raw, &hdr)

	// Another RSA key claiming our kid.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: other},
		(&jose.SignerOptions{}).WithHeader("kid", hdr["kid"]))
	payload, _ := json.Marshal(real)
	otherJWS, _ := otherSigner.Sign(payload)
	otherKey, _ := otherJWS.CompactSerialize()

	// alg none.
	none := b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."

	// HS256 keyed with our public key (key confusion), both as PEM and as the
	// JWKS modulus, naming the RS256 client and the HS256 client.
	set, err := keys.NewSet(mustKeys(t, env), env.sealer, env.clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := set.Public(hdr["kid"].(string))
	der, _ := x509.MarshalPKIXPublicKey(pub.Key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hsWith := func(key []byte, claims map[string]any) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key}, nil)
		p, _ := json.Marshal(claims)
		j, _ := s.Sign(p)
		c, _ := j.CompactSerialize()
		return c
	}
	hsClaims := map[string]any{}
	for k, v := range real {
		hsClaims[k] = v
	}
	hsClaims["aud"] = hsID
	// Our own key, but another issuer.
	foreignPayload := map[string]any{}
	for k, v := range real {
		foreignPayload[k] = v
	}
	foreignPayload["iss"] = "https://evil.example"
	fp, _ := json.Marshal(foreignPayload)
	foreign, err := set.Sign(keys.RS256, fp)
	if err != nil {
		t.Fatal(err)
	}
	// A broken signature.
	tampered := parts[0] + "." + b64(map[string]any{"iss": env.srv.URL, "sub": "alice", "aud": id, "sid": real["sid"]}) + "." + parts[2]

	for name, forged := range map[string]string{
		"other key":          otherKey,
		"alg none":           none,
		"HS256 with PEM":     hsWith(pemKey, real),
		"HS256 with modulus": hsWith(pub.Key.(*rsa.PublicKey).N.Bytes(), real),
		"HS256 other client": hsWith(pemKey, hsClaims),
		"foreign issuer":     foreign,
		"tampered":           tampered,
		"garbage":            "not.a.jwt",
	} {
		t.Run(name, func(t *testing.T) {
			pg := b.get(endSessionURL(env, op.PathEndSession, map[string]string{"id_token_hint": forged, "post_logout_redirect_uri": rpLoggedOut, "state": "x"}))
			if pg.status != http.StatusBadRequest || pg.header.Get("Location") != "" || !strings.Contains(pg.body, "id_token_hint") {
				t.Fatalf("forged hint: %d %q %s", pg.status, pg.header.Get("Location"), pg.body)
			}
			if !stillSignedIn(t, b, relying) {
				t.Fatal("a forged hint ended the session")
			}
		})
	}
}

func mustKeys(t *testing.T, env *testEnv) []*storageSigningKey {
	t.Helper()
	ks, err := env.store.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// SECURITY A7: post_logout_redirect_uri is honoured only when registered
// (exactly) for a client identified by client_id or a verified hint;
// otherwise an error page and no redirect, and the session lives on.
func TestEndSessionRedirectRules(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{PostLogoutRedirectURIs: []string{rpLoggedOut}})
	otherID, _ := env.client(storage.Client{PostLogoutRedirectURIs: []string{"https://other.example/bye"}})
	relying := env.rp(id, secret)
	b := env.browser()
	hint := env.signedIn(b, relying).Extra("id_token").(string)
	for _, tc := range []struct {
		name   string
		params map[string]string
		status int
	}{
		{"unidentified client", map[string]string{"post_logout_redirect_uri": rpLoggedOut}, 400},
		{"unregistered", map[string]string{"client_id": id, "post_logout_redirect_uri": "https://evil.example/"}, 400},
		{"trailing slash", map[string]string{"client_id": id, "post_logout_redirect_uri": rpLoggedOut + "/"}, 400},
		{"other case", map[string]string{"client_id": id, "post_logout_redirect_uri": strings.ToUpper(rpLoggedOut)}, 400},
		{"extra query", map[string]string{"client_id": id, "post_logout_redirect_uri": rpLoggedOut + "?a=b"}, 400},
		{"another client's uri", map[string]string{"id_token_hint": hint, "post_logout_redirect_uri": "https://other.example/bye"}, 400},
		{"hint of another client_id", map[string]string{"id_token_hint": hint, "client_id": otherID, "post_logout_redirect_uri": "https://other.example/bye"}, 400},
		{"unknown client", map[string]string{"client_id": "nope", "post_logout_redirect_uri": rpLoggedOut}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg := b.get(endSessionURL(env, op.PathEndSession, tc.params))
			if pg.status != tc.status || pg.header.Get("Location") != "" {
				t.Fatalf("%d %q: %s", pg.status, pg.header.Get("Location"), pg.body)
			}
			if !stillSignedIn(t, b, relying) {
				t.Fatal("a refused request ended the session")
			}
		})
	}
	// A parameter twice is refused (SECURITY L2).
	pg := b.get(env.srv.URL + op.PathEndSession + "?state=a&state=b")
	if pg.status != http.StatusBadRequest {
		t.Fatalf("duplicate state: %d", pg.status)
	}
	pg = b.do(mustReq(t, http.MethodPut, env.srv.URL+op.PathEndSession))
	if pg.status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", pg.status)
	}
}

func mustReq(t *testing.T, method, u string) *http.Request {
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Without a verified hint of the current session the user confirms
// (SECURITY F7), on a form bound to the browser session and the request
// (SECURITY F1); identified by client_id, the redirect then carries state.
func TestEndSessionConfirmation(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{PostLogoutRedirectURIs: []string{rpLoggedOut}})
	relying := env.rp(id, secret)
	b := env.browser()
	oldHint := env.signedIn(b, relying).Extra("id_token").(string)
	// A new login: the old hint names a session that is not current.
	env.users.loginAs = "alice"
	b.get(env.srv.URL + "/login?next=/")
	env.signedIn(b, relying)

	for name, params := range map[string]map[string]string{
		"client_id":     {"client_id": id, "post_logout_redirect_uri": rpLoggedOut, "state": "s1", "logout_hint": "<alice>"},
		"stale hint":    {"id_token_hint": oldHint, "post_logout_redirect_uri": rpLoggedOut, "state": "s1", "logout_hint": "<alice>"},
		"no parameters": {},
	} {
		t.Run(name, func(t *testing.T) {
			pg := b.get(endSessionURL(env, op.PathEndSession, params))
			if pg.status != http.StatusOK || !strings.Contains(pg.body, `name="end_session_csrf"`) {
				t.Fatalf("want the confirmation page, got %d: %s", pg.status, pg.body)
			}
			if pg.header.Get("X-Frame-Options") != "DENY" || strings.Contains(pg.body, "<alice>") {
				t.Fatal("confirmation page framable or reflects unescaped input")
			}
			if !stillSignedIn(t, b, relying) {
				t.Fatal("showing the confirmation ended the session")
			}
			form := url.Values{}
			for _, m := range hiddenInput.FindAllStringSubmatch(pg.body, -1) {
				form.Set(unescape(m[1]), unescape(m[2]))
			}
			// Another browser, a wrong token, a changed request: refused.
			other := env.browser()
			other.get(env.srv.URL + "/login?next=/")
			if got := other.post(env.srv.URL+op.PathEndSession, form); got.status != http.StatusForbidden {
				t.Fatalf("confirmation from another browser: %d", got.status)
			}
			bad := url.Values{}
			for k, v := range form {
				bad[k] = v
			}
			bad.Set("end_session_csrf", "AAAA")
			if got := b.post(env.srv.URL+op.PathEndSession, bad); got.status != http.StatusForbidden {
				t.Fatalf("wrong token: %d", got.status)
			}
			bad.Set("end_session_csrf", form.Get("end_session_csrf"))
			bad.Set("state", "changed")
			if got := b.post(env.srv.URL+op.PathEndSession, bad); got.status != http.StatusForbidden {
				t.Fatalf("changed request: %d", got.status)
			}
			if !stillSignedIn(t, b, relying) {
				t.Fatal("a refused confirmation ended the session")
			}
			got := b.post(env.srv.URL+op.PathEndSession, form)
			if params["post_logout_redirect_uri"] != "" {
				if got.status != http.StatusSeeOther || got.header.Get("Location") != rpLoggedOut+"?state=s1" {
					t.Fatalf("after confirmation: %d %q", got.status, got.header.Get("Location"))
				}
			} else if got.status != http.StatusOK || !strings.Contains(got.body, "Signed out") {
				t.Fatalf("after confirmation: %d %s", got.status, got.body)
			}
			if stillSignedIn(t, b, relying) {
				t.Fatal("the session survived a confirmed logout")
			}
			b.get(env.srv.URL + "/login?next=/") // sign in again for the next case
		})
	}
}

// With nobody signed in there is nothing to end: the RP still gets its
// redirect, and without one the signed-out page shows.
func TestEndSessionWithoutSession(t *testing.T) {
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{PostLogoutRedirectURIs: []string{rpLoggedOut}})
	b := env.browser()
	pg := b.get(endSessionURL(env, op.PathEndSession, map[string]string{"client_id": id, "post_logout_redirect_uri": rpLoggedOut, "state": "z"}))
	if pg.status != http.StatusFound || pg.header.Get("Location") != rpLoggedOut+"?state=z" {
		t.Fatalf("%d %q", pg.status, pg.header.Get("Location"))
	}
	pg = b.get(env.srv.URL + op.PathEndSession)
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Signed out") {
		t.Fatalf("%d %s", pg.status, pg.body)
	}
}

// A hook error stops the logout.
func TestEndSessionHookError(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) {
		c.Hooks.AfterEndSession = func(context.Context, op.AfterEndSessionArgs) error { return errHook }
	})
	id, secret := env.client(storage.Client{PostLogoutRedirectURIs: []string{rpLoggedOut}})
	relying := env.rp(id, secret)
	b := env.browser()
	hint := env.signedIn(b, relying).Extra("id_token").(string)
	pg := b.get(endSessionURL(env, op.PathEndSession, map[string]string{"id_token_hint": hint, "post_logout_redirect_uri": rpLoggedOut}))
	if pg.status != http.StatusInternalServerError || pg.header.Get("Location") != "" {
		t.Fatalf("%d %q", pg.status, pg.header.Get("Location"))
	}
	if !stillSignedIn(t, b, relying) {
		t.Fatal("the session ended although the hook failed")
	}
}

var errHook = &hookError{}

type hookError struct{}

func (*hookError) Error() string { return "hook refused" }

type storageSigningKey = storage.SigningKey

func unescape(s string) string { return html.UnescapeString(s) }
