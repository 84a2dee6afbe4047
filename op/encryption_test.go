package op_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
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
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// encKey is a relying party's decryption key and how it publishes it.
type encKey struct {
	priv     any // *rsa.PrivateKey or *ecdsa.PrivateKey
	kid, alg string
	use      string
}

func newRSAEncKey(t testing.TB, kid string, bits int) encKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return encKey{priv: k, kid: kid, use: "enc"}
}

func newECEncKey(t testing.TB, kid string) encKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return encKey{priv: k, kid: kid, use: "enc"}
}

func (k encKey) jwk() jose.JSONWebKey {
	var pub any
	switch p := k.priv.(type) {
	case *rsa.PrivateKey:
		pub = p.Public()
	case *ecdsa.PrivateKey:
		pub = p.Public()
	}
	return jose.JSONWebKey{Key: pub, KeyID: k.kid, Algorithm: k.alg, Use: k.use}
}

func encJWKS(keys ...encKey) string {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	b, _ := json.Marshal(set)
	return string(b)
}

// allKeyAlgs and allEncs are every algorithm a JWE may name, so that a test
// decrypts whatever the provider chose.
var (
	allKeyAlgs = []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.RSA_OAEP, jose.RSA1_5, jose.ECDH_ES,
		jose.ECDH_ES_A128KW, jose.ECDH_ES_A192KW, jose.ECDH_ES_A256KW, jose.DIRECT, jose.A128KW, jose.A256KW}
	allEncs = []jose.ContentEncryption{jose.A128CBC_HS256, jose.A192CBC_HS384, jose.A256CBC_HS512,
		jose.A128GCM, jose.A192GCM, jose.A256GCM}
)

// jweHeader is the protected header of a compact JWE, read as sent.
func jweHeader(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 5 {
		t.Fatalf("not a compact JWE (%d parts): %.60s", len(parts), token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// decrypt opens a compact JWE with k's private key (go-jose).
func decrypt(token string, k encKey) ([]byte, error) {
	obj, err := jose.ParseEncrypted(token, allKeyAlgs, allEncs)
	if err != nil {
		return nil, err
	}
	return obj.Decrypt(k.priv)
}

// openIDToken checks an encrypted ID token: a JWE with alg, enc, kid and
// cty JWT; another key cannot open it; the inner JWS is verified by go-oidc.
func openIDToken(t *testing.T, relying *rp, raw string, k, other encKey, alg, enc string) *oidc.IDToken {
	t.Helper()
	h := jweHeader(t, raw)
	if h["alg"] != alg || h["enc"] != enc || h["cty"] != "JWT" || h["kid"] != k.kid {
		t.Fatalf("JWE header %v, want alg %s enc %s cty JWT kid %s", h, alg, enc, k.kid)
	}
	if _, err := relying.verifier.Verify(t.Context(), raw); err == nil {
		t.Fatal("go-oidc accepted the encrypted token as a JWS")
	}
	if _, err := decrypt(raw, other); err == nil {
		t.Fatal("a key the token was not encrypted to decrypted it")
	}
	inner, err := decrypt(raw, k)
	if err != nil {
		t.Fatalf("decrypt with the client's key: %v", err)
	}
	idt, err := relying.verifier.Verify(t.Context(), string(inner))
	if err != nil {
		t.Fatalf("go-oidc on the inner JWS: %v", err)
	}
	return idt
}

// encRegistration registers metadata at /register (open registration).
func encRegistration(t *testing.T, env *testEnv, md map[string]any) (int, map[string]any) {
	t.Helper()
	resp, body := regRequest(t, "POST", env.srv.URL+"/register", "", md)
	return resp.StatusCode, body
}

// TestEncryptionRegistrationRefusals: negative cases first. Unsupported
// algorithms, enc without alg, a client without a usable encryption key,
// and a jwks_uri on a loopback target are refused, and nothing is created.
func TestEncryptionRegistrationRefusals(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.Registration.Open = true })
	rsaKey := newRSAEncKey(t, "r1", 2048)
	ecKey := newECEncKey(t, "e1")
	small := newRSAEncKey(t, "small", 1024)
	sigOnly := rsaKey
	sigOnly.use = "sig"
	otherAlg := ecKey
	otherAlg.alg = "ECDH-ES+A128KW"
	var fetches atomic.Int32
	loopback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		io.WriteString(w, encJWKS(rsaKey))
	}))
	t.Cleanup(loopback.Close)
	with := func(kv ...any) map[string]any {
		m := webClient()
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	jwks := func(keys ...encKey) json.RawMessage { return json.RawMessage(encJWKS(keys...)) }
	for _, c := range []struct {
		name string
		md   map[string]any
		want string // in the error description
	}{
		{"RSA1_5", with("id_token_encrypted_response_alg", "RSA1_5", "jwks", jwks(rsaKey)), "not supported"},
		{"RSA-OAEP with SHA-1", with("id_token_encrypted_response_alg", "RSA-OAEP", "jwks", jwks(rsaKey)), "not supported"},
		{"dir", with("id_token_encrypted_response_alg", "dir", "jwks", jwks(rsaKey)), "not supported"},
		{"unknown enc", with("id_token_encrypted_response_alg", "RSA-OAEP-256", "id_token_encrypted_response_enc", "A128CBC", "jwks", jwks(rsaKey)), "not supported"},
		{"enc without alg", with("id_token_encrypted_response_enc", "A256GCM", "jwks", jwks(rsaKey)), "needs id_token_encrypted_response_alg"},
		{"no keys at all", with("id_token_encrypted_response_alg", "RSA-OAEP-256"), "needs jwks or jwks_uri"},
		{"signing key only", with("id_token_encrypted_response_alg", "RSA-OAEP-256", "jwks", jwks(sigOnly)), "no key to encrypt to"},
		{"EC key for RSA-OAEP-256", with("id_token_encrypted_response_alg", "RSA-OAEP-256", "jwks", jwks(ecKey)), "no key to encrypt to"},
		{"RSA key for ECDH-ES", with("id_token_encrypted_response_alg", "ECDH-ES", "jwks", jwks(rsaKey)), "no key to encrypt to"},
		{"RSA key of 1024 bits", with("id_token_encrypted_response_alg", "RSA-OAEP-256", "jwks", jwks(small)), "no key to encrypt to"},
		{"key published for another alg", with("id_token_encrypted_response_alg", "ECDH-ES", "jwks", jwks(otherAlg)), "no key to encrypt to"},
		{"userinfo alg unsupported", with("userinfo_encrypted_response_alg", "RSA1_5", "jwks", jwks(rsaKey)), "not supported"},
		{"userinfo enc without alg", with("userinfo_encrypted_response_enc", "A128GCM", "jwks", jwks(rsaKey)), "needs userinfo_encrypted_response_alg"},
		{"userinfo without key", with("userinfo_encrypted_response_alg", "ECDH-ES"), "needs jwks or jwks_uri"},
		{"userinfo signed none", with("userinfo_signed_response_alg", "none"), "not supported"},
		{"userinfo signed PS256", with("userinfo_signed_response_alg", "PS256"), "not supported"},
		{"userinfo HS256 for a public client", with("userinfo_signed_response_alg", "HS256", "token_endpoint_auth_method", "none"), "HS256"},
		// SECURITY K1: a jwks_uri on loopback is never fetched.
		{"jwks_uri on loopback", with("id_token_encrypted_response_alg", "RSA-OAEP-256", "jwks_uri", loopback.URL+"/jwks"), "could not be fetched"},
		{"jwks_uri on a link-local address", with("userinfo_encrypted_response_alg", "RSA-OAEP-256", "jwks_uri", "https://169.254.169.254/jwks"), "could not be fetched"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := encRegistration(t, env, c.md)
			desc, _ := body["error_description"].(string)
			if status != 400 || body["error"] != "invalid_client_metadata" || !strings.Contains(desc, c.want) {
				t.Fatalf("got %d %v, want 400 invalid_client_metadata with %q", status, body, c.want)
			}
		})
	}
	if n := fetches.Load(); n != 0 {
		t.Fatalf("the loopback jwks_uri was fetched %d times", n)
	}
	if list, _ := env.store.ListClients(t.Context()); len(list) != 0 {
		t.Fatalf("refused registrations created %d clients", len(list))
	}

	// Accepted: enc defaults to A128CBC-HS256 (OIDC Registration §2), and
	// what is stored is what the response and a read (RFC 7592) say.
	status, body := encRegistration(t, env, with("id_token_encrypted_response_alg", "ECDH-ES", "userinfo_signed_response_alg", "ES256",
		"userinfo_encrypted_response_alg", "RSA-OAEP-256", "userinfo_encrypted_response_enc", "A256GCM", "jwks", jwks(ecKey, rsaKey)))
	if status != 201 {
		t.Fatalf("registration: %d %v", status, body)
	}
	for k, v := range map[string]string{"id_token_encrypted_response_alg": "ECDH-ES", "id_token_encrypted_response_enc": "A128CBC-HS256",
		"userinfo_signed_response_alg": "ES256", "userinfo_encrypted_response_alg": "RSA-OAEP-256", "userinfo_encrypted_response_enc": "A256GCM"} {
		if body[k] != v {
			t.Errorf("%s = %v, want %s", k, body[k], v)
		}
	}
	c, err := env.store.Client(t.Context(), body["client_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if c.IDTokenEncryptedResponseAlg != "ECDH-ES" || c.IDTokenEncryptedResponseEnc != "A128CBC-HS256" || c.UserinfoSignedResponseAlg != "ES256" ||
		c.UserinfoEncryptedResponseAlg != "RSA-OAEP-256" || c.UserinfoEncryptedResponseEnc != "A256GCM" {
		t.Fatalf("stored %+v", c.ClientMetadata)
	}
	resp, read := regRequest(t, "GET", body["registration_client_uri"].(string), body["registration_access_token"].(string), nil)
	if resp.StatusCode != 200 || read["id_token_encrypted_response_enc"] != "A128CBC-HS256" || read["userinfo_signed_response_alg"] != "ES256" {
		t.Fatalf("read: %d %v", resp.StatusCode, read)
	}
	// An update (RFC 7592 §2.2) is validated the same way: dropping the RSA
	// key that userinfo is encrypted to is refused, and nothing changes.
	read["jwks"] = jwks(ecKey)
	delete(read, "client_id_issued_at")
	resp, upd := regRequest(t, "PUT", body["registration_client_uri"].(string), body["registration_access_token"].(string), read)
	if desc, _ := upd["error_description"].(string); resp.StatusCode != 400 || upd["error"] != "invalid_client_metadata" || !strings.Contains(desc, "userinfo_encrypted_response_alg RSA-OAEP-256") {
		t.Fatalf("update without the RSA key: %d %v", resp.StatusCode, upd)
	}
	if c, _ := env.store.Client(t.Context(), body["client_id"].(string)); !strings.Contains(c.JWKS, `"RSA"`) {
		t.Fatal("a refused update changed the stored jwks")
	}
}

// TestEncryptionRegistrationJWKSURI: with private targets allowed (tests),
// a jwks_uri is fetched at registration and must hold an encryption key.
func TestEncryptionRegistrationJWKSURI(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.Registration.Open = true; c.InsecureAllowPrivateTargets = true })
	sig := newRSAEncKey(t, "s1", 2048)
	sig.use = "sig"
	enc := newECEncKey(t, "e1")
	var mu sync.Mutex
	published := []encKey{sig}
	var fetches atomic.Int32
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, encJWKS(published...))
	}))
	t.Cleanup(js.Close)
	md := webClient()
	md["jwks_uri"] = js.URL + "/jwks"
	md["id_token_encrypted_response_alg"] = "ECDH-ES+A256KW"
	status, body := encRegistration(t, env, md)
	if desc, _ := body["error_description"].(string); status != 400 || !strings.Contains(desc, "jwks_uri has no key to encrypt to") {
		t.Fatalf("jwks_uri with a signing key only: %d %v", status, body)
	}
	mu.Lock()
	published = []encKey{sig, enc}
	mu.Unlock()
	env.clock.Add(11 * time.Second) // past the refetch interval
	if status, body := encRegistration(t, env, md); status != 201 {
		t.Fatalf("jwks_uri with an encryption key: %d %v", status, body)
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

// TestEncryptedIDTokenCodeFlow: for each algorithm pair, the token
// endpoint's ID token (code and refresh) is a nested JWT encrypted to the
// client's key, which another key cannot open and whose inner JWS go-oidc
// verifies; a sig key in the same set is never used to encrypt.
func TestEncryptedIDTokenCodeFlow(t *testing.T) {
	for _, tc := range []struct{ alg, enc, wantEnc string }{
		{"RSA-OAEP-256", "", "A128CBC-HS256"},
		{"RSA-OAEP-256", "A256GCM", "A256GCM"},
		{"ECDH-ES", "A128CBC-HS256", "A128CBC-HS256"},
		{"ECDH-ES", "A256GCM", "A256GCM"},
		{"ECDH-ES+A128KW", "A128GCM", "A128GCM"},
		{"ECDH-ES+A192KW", "A192CBC-HS384", "A192CBC-HS384"},
		{"ECDH-ES+A256KW", "A256CBC-HS512", "A256CBC-HS512"},
	} {
		t.Run(tc.alg+"/"+tc.wantEnc, func(t *testing.T) {
			env := newTestEnv(t, nil)
			var k, other encKey
			if strings.HasPrefix(tc.alg, "RSA") {
				k, other = newRSAEncKey(t, "enc-1", 2048), newRSAEncKey(t, "enc-2", 2048)
			} else {
				k, other = newECEncKey(t, "enc-1"), newECEncKey(t, "enc-2")
			}
			decoy := other
			decoy.kid, decoy.use = "sig-1", "sig" // a signing key: never encrypted to
			id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{
				JWKS: encJWKS(decoy, k), IDTokenEncryptedResponseAlg: tc.alg, IDTokenEncryptedResponseEnc: tc.enc,
			}})
			relying := env.rp(id, secret, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
			ctx := t.Context()
			got := env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n-1")))
			tok, err := relying.oauth.Exchange(ctx, got.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			idt := openIDToken(t, relying, tok.Extra("id_token").(string), k, other, tc.alg, tc.wantEnc)
			if idt.Nonce != "n-1" || idt.Subject != "alice" {
				t.Fatalf("nonce %q sub %q", idt.Nonce, idt.Subject)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			// Userinfo is plain JSON: the client registered nothing for it.
			ui, err := relying.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || ui.Subject != "alice" {
				t.Fatalf("userinfo: %v %v", ui, err)
			}
			tok.Expiry = time.Now().Add(-time.Minute)
			fresh, err := relying.oauth.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatal(err)
			}
			if again := openIDToken(t, relying, fresh.Extra("id_token").(string), k, other, tc.alg, tc.wantEnc); again.Subject != "alice" {
				t.Fatalf("refreshed sub %q", again.Subject)
			}
		})
	}
}

// TestEncryptedIDTokenFrontChannel: implicit and hybrid ID tokens in the
// fragment and in form_post, and the device grant's, are encrypted too.
func TestEncryptedIDTokenFrontChannel(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.DeviceFlow = true; c.DevicePollInterval = time.Second })
	k, other := newRSAEncKey(t, "enc-1", 2048), newRSAEncKey(t, "enc-2", 2048)
	id, secret := env.client(storage.Client{ResponseTypes: []string{"code", "id_token", "id_token token", "code id_token"},
		ClientMetadata: storage.ClientMetadata{JWKS: encJWKS(k), IDTokenEncryptedResponseAlg: "RSA-OAEP-256",
			GrantTypes: []string{"authorization_code", "implicit"}}})
	relying := env.rp(id, secret)
	b := env.browser()
	for _, rt := range []string{"id_token", "id_token token", "code id_token"} {
		t.Run(rt, func(t *testing.T) {
			got := b.authorize(relying.oauth.AuthCodeURL("st", oidc.Nonce("n-"+rt), oauth2.SetAuthURLParam("response_type", rt)))
			idt := openIDToken(t, relying, got.Get("id_token"), k, other, "RSA-OAEP-256", "A128CBC-HS256")
			if idt.Nonce != "n-"+rt {
				t.Fatalf("nonce %q", idt.Nonce)
			}
			if at := got.Get("access_token"); at != "" {
				if err := idt.VerifyAccessToken(at); err != nil {
					t.Fatalf("at_hash: %v", err)
				}
			}
			var h struct {
				CHash string `json:"c_hash"`
			}
			idt.Claims(&h)
			if c := got.Get("code"); c != "" && h.CHash != halfSHA256(c) {
				t.Fatalf("c_hash %q", h.CHash)
			}
		})
	}
	t.Run("form_post", func(t *testing.T) {
		pg := b.get(relying.oauth.AuthCodeURL("st", oidc.Nonce("n-fp"), oauth2.SetAuthURLParam("response_mode", "form_post"), oauth2.SetAuthURLParam("response_type", "code id_token")))
		fields := url.Values{}
		for _, m := range formInput.FindAllStringSubmatch(pg.body, -1) {
			fields.Set(m[1], html.UnescapeString(m[2]))
		}
		if idt := openIDToken(t, relying, fields.Get("id_token"), k, other, "RSA-OAEP-256", "A128CBC-HS256"); idt.Nonce != "n-fp" {
			t.Fatalf("nonce %q", idt.Nonce)
		}
	})
	t.Run("device", func(t *testing.T) {
		tv, _ := env.client(storage.Client{Name: "TV", Type: "public", RedirectURIs: []string{}, ClientMetadata: storage.ClientMetadata{
			GrantTypes: []string{"device_code"}, JWKS: encJWKS(k), IDTokenEncryptedResponseAlg: "RSA-OAEP-256"}})
		relying := env.rp(tv, "")
		d := env.startDevice(tv, "openid email")
		if pg := b.approve(d.URIComplete, true); !strings.Contains(pg.body, "Device connected") {
			t.Fatalf("approval: %s", pg.body)
		}
		env.clock.Add(2 * time.Second)
		st, body := env.pollDevice(tv, d.DeviceCode)
		if st != 200 {
			t.Fatalf("device token: %d %v", st, body)
		}
		if idt := openIDToken(t, relying, body["id_token"].(string), k, other, "RSA-OAEP-256", "A128CBC-HS256"); idt.Subject != "alice" {
			t.Fatalf("sub %q", idt.Subject)
		}
	})
}

// TestEncryptedIDTokenJWKSURI: keys come from the client's jwks_uri
// through the cache; a set without an encryption key is fetched again
// (at most once per interval), and until one appears no token is issued
// unencrypted; a key rotated in is used once the cached set expires.
func TestEncryptedIDTokenJWKSURI(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.InsecureAllowPrivateTargets = true })
	sig := newECEncKey(t, "s1")
	sig.use = "sig"
	k1, k2 := newECEncKey(t, "e1"), newECEncKey(t, "e2")
	var mu sync.Mutex
	published := []encKey{sig}
	var fetches atomic.Int32
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, encJWKS(published...))
	}))
	t.Cleanup(js.Close)
	publish := func(keys ...encKey) { mu.Lock(); published = keys; mu.Unlock() }
	// Made without the registration-time check (NewClient does not fetch).
	id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{JWKSURI: js.URL + "/jwks", IDTokenEncryptedResponseAlg: "ECDH-ES"}})
	relying := env.rp(id, secret)
	b := env.browser()
	code := func() url.Values { return b.authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))) }
	st, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {code().Get("code")}, "redirect_uri": {rpCallback}})
	if st != 500 || body["error"] != "server_error" || body["id_token"] != nil || body["access_token"] != nil {
		t.Fatalf("no encryption key: %d %v", st, body)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (the refetch on a miss waits for the interval)", n)
	}
	publish(sig, k1)
	env.clock.Add(11 * time.Second)
	tok, err := relying.oauth.Exchange(t.Context(), code().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	openIDToken(t, relying, tok.Extra("id_token").(string), k1, k2, "ECDH-ES", "A128CBC-HS256")
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (the cached set has no key: one refetch)", n)
	}
	// Cached: the next token needs no fetch.
	tok, err = relying.oauth.Exchange(t.Context(), code().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	openIDToken(t, relying, tok.Extra("id_token").(string), k1, k2, "ECDH-ES", "A128CBC-HS256")
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (cached)", n)
	}
	// The client rotates to k2; once the cached set expires k2 is used.
	publish(sig, k2)
	env.clock.Add(6 * time.Minute)
	tok, err = relying.oauth.Exchange(t.Context(), code().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	openIDToken(t, relying, tok.Extra("id_token").(string), k2, k1, "ECDH-ES", "A128CBC-HS256")
	if n := fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}

// userinfoRaw fetches /userinfo with a bearer token.
func (env *testEnv) userinfoRaw(token string) (int, string, string) {
	env.t.Helper()
	req, _ := http.NewRequestWithContext(env.t.Context(), http.MethodGet, env.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestUserinfoJWT: signed, encrypted, and signed-then-encrypted userinfo
// responses (OIDC Core §5.3.2): application/jwt, iss and aud present, the
// signature verified with the provider's published keys (go-oidc's key
// set) or the client secret (HS256), decryption only with the client's key.
func TestUserinfoJWT(t *testing.T) {
	env := newTestEnv(t, nil)
	env.addKey("ES256")
	k, other := newRSAEncKey(t, "enc-1", 2048), newRSAEncKey(t, "enc-2", 2048)
	remote := oidc.NewRemoteKeySet(t.Context(), env.srv.URL+"/jwks")
	for _, tc := range []struct {
		name          string
		signed        string
		alg, enc, cty string
	}{
		{name: "signed RS256", signed: "RS256"},
		{name: "signed ES256", signed: "ES256"},
		{name: "signed HS256", signed: "HS256"},
		{name: "encrypted", alg: "RSA-OAEP-256", enc: "A256GCM"},
		{name: "signed and encrypted", signed: "RS256", alg: "RSA-OAEP-256", enc: "A128CBC-HS256", cty: "JWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{JWKS: encJWKS(k),
				UserinfoSignedResponseAlg: tc.signed, UserinfoEncryptedResponseAlg: tc.alg, UserinfoEncryptedResponseEnc: tc.enc}})
			relying := env.rp(id, secret)
			tok, err := relying.oauth.Exchange(t.Context(), env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			// The ID token is not encrypted: the client did not ask.
			if _, err := relying.verifier.Verify(t.Context(), tok.Extra("id_token").(string)); err != nil {
				t.Fatalf("plain ID token: %v", err)
			}
			st, ct, body := env.userinfoRaw(tok.AccessToken)
			if st != 200 || ct != "application/jwt" {
				t.Fatalf("userinfo: %d %q %.80s", st, ct, body)
			}
			payload := []byte(body)
			if tc.alg != "" {
				h := jweHeader(t, body)
				if h["alg"] != tc.alg || h["enc"] != tc.enc || h["kid"] != "enc-1" || (h["cty"] != nil) != (tc.cty != "") || (tc.cty != "" && h["cty"] != tc.cty) {
					t.Fatalf("JWE header %v", h)
				}
				if _, err := decrypt(body, other); err == nil {
					t.Fatal("another key decrypted the userinfo response")
				}
				if payload, err = decrypt(body, k); err != nil {
					t.Fatal(err)
				}
			}
			if tc.signed != "" {
				jws, err := jose.ParseSigned(string(payload), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tc.signed)})
				if err != nil {
					t.Fatalf("not a JWS signed with %s: %v", tc.signed, err)
				}
				if tc.signed == "HS256" {
					payload, err = jws.Verify([]byte(secret))
				} else {
					payload, err = remote.VerifySignature(t.Context(), string(payload))
				}
				if err != nil {
					t.Fatalf("signature: %v", err)
				}
			}
			var claims map[string]any
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatalf("claims: %v (%.80s)", err, payload)
			}
			if claims["sub"] != "alice" || claims["email"] != "alice@example.com" || claims["iss"] != env.srv.URL || claims["aud"] != id {
				t.Fatalf("claims %v", claims)
			}
		})
	}
}

// TestEncryptedIDTokenHint: an encrypted ID token is refused as
// id_token_hint, at /authorize and at the end-session endpoint, with a
// message saying why (this provider holds no key of the client's to open
// it); the signed ID token inside it is accepted.
func TestEncryptedIDTokenHint(t *testing.T) {
	env := newTestEnv(t, nil)
	k := newECEncKey(t, "enc-1")
	id, secret := env.client(storage.Client{PostLogoutRedirectURIs: []string{rpLoggedOut},
		ClientMetadata: storage.ClientMetadata{JWKS: encJWKS(k), IDTokenEncryptedResponseAlg: "ECDH-ES"}})
	relying := env.rp(id, secret)
	b := env.browser()
	tok := env.signedIn(b, relying)
	encrypted := tok.Extra("id_token").(string)
	inner, err := decrypt(encrypted, k)
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(h string) url.Values {
		return callback(t, b.get(relying.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", h))))
	}
	if got := authorize(encrypted); got.Get("error") != "invalid_request" || !strings.Contains(got.Get("error_description"), "encrypted") {
		t.Fatalf("encrypted hint at /authorize: %v", got)
	}
	if got := authorize(string(inner)); got.Get("code") == "" {
		t.Fatalf("inner signed hint at /authorize: %v", got)
	}
	pg := b.get(endSessionURL(env, op.PathEndSession, map[string]string{"id_token_hint": encrypted, "post_logout_redirect_uri": rpLoggedOut}))
	if pg.status != 400 || !strings.Contains(unescape(pg.body), "encrypted") || pg.header.Get("Location") != "" {
		t.Fatalf("encrypted hint at end_session: %d %s", pg.status, pg.body)
	}
	if !stillSignedIn(t, b, relying) {
		t.Fatal("a refused logout request ended the session")
	}
	pg = b.get(endSessionURL(env, op.PathEndSession, map[string]string{"id_token_hint": string(inner), "post_logout_redirect_uri": rpLoggedOut}))
	if loc := pg.header.Get("Location"); !strings.HasPrefix(loc, rpLoggedOut) {
		t.Fatalf("inner signed hint at end_session: %d %q %s", pg.status, loc, pg.body)
	}
	if stillSignedIn(t, b, relying) {
		t.Fatal("the session survived the logout")
	}
}

// TestEncryptionDiscovery: discovery advertises exactly what is
// implemented.
func TestEncryptionDiscovery(t *testing.T) {
	env := newTestEnv(t, nil)
	_, doc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, nil)
	keyAlgs := []any{"RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"}
	encs := []any{"A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM"}
	for k, want := range map[string][]any{
		"id_token_encryption_alg_values_supported": keyAlgs,
		"id_token_encryption_enc_values_supported": encs,
		"userinfo_encryption_alg_values_supported": keyAlgs,
		"userinfo_encryption_enc_values_supported": encs,
		"userinfo_signing_alg_values_supported":    {"RS256", "ES256", "EdDSA", "HS256"},
	} {
		got, _ := json.Marshal(doc[k])
		w, _ := json.Marshal(want)
		if string(got) != string(w) {
			t.Errorf("%s = %s, want %s", k, got, w)
		}
	}
	for _, k := range []string{"request_object_encryption_alg_values_supported", "authorization_encryption_alg_values_supported"} {
		if _, ok := doc[k]; ok {
			t.Errorf("%s advertised, but not implemented", k)
		}
	}
}
