package op_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oidcd/oidcd/op"
)

// regRequest sends JSON to a registration URL with an optional Bearer token.
func regRequest(t *testing.T, method, u, bearer string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	if bearer != "" {
		hdr["Authorization"] = "Bearer " + bearer
	}
	return doReq(t, method, u, rd, hdr)
}

func (env *testEnv) registrationToken(uses int, ttl time.Duration) string {
	env.t.Helper()
	tok, err := op.NewRegistrationToken(env.t.Context(), env.store, uses, ttl, env.clock.Now())
	if err != nil {
		env.t.Fatal(err)
	}
	return tok
}

func webClient() map[string]any {
	return map[string]any{"client_name": "Registered App", "redirect_uris": []string{rpCallback}}
}

// TestRegistrationRefusals: negative cases first. Nothing is created and a
// single-use initial access token survives every refused request.
func TestRegistrationRefusals(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.Registration.Enabled = true })
	reg := env.srv.URL + "/register"
	tok := env.registrationToken(1, time.Hour)
	withMeta := func(k string, v any) map[string]any {
		m := webClient()
		m[k] = v
		return m
	}
	privJWK := func() string {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k, KeyID: "k1", Algorithm: "ES256"}}})
		return string(b)
	}()
	for _, c := range []struct {
		name   string
		bearer string
		body   any
		status int
		code   string
	}{
		{"no initial access token", "", webClient(), 401, ""},
		{"unknown initial access token", "not-a-token", webClient(), 401, "invalid_token"},
		{"truncated initial access token", tok[:len(tok)-1], webClient(), 401, "invalid_token"},
		{"javascript: redirect URI", tok, withMeta("redirect_uris", []string{"javascript:alert(1)"}), 400, "invalid_redirect_uri"},
		{"data: redirect URI", tok, withMeta("redirect_uris", []string{"data:text/html,hi"}), 400, "invalid_redirect_uri"},
		{"fragment in redirect URI", tok, withMeta("redirect_uris", []string{rpCallback + "#x"}), 400, "invalid_redirect_uri"},
		{"http redirect off loopback", tok, withMeta("redirect_uris", []string{"http://rp.example/cb"}), 400, "invalid_redirect_uri"},
		{"no redirect URI", tok, map[string]any{"client_name": "x"}, 400, "invalid_redirect_uri"},
		{"not JSON", tok, "client_name=x", 400, "invalid_client_metadata"},
		{"JSON array", tok, "[]", 400, "invalid_client_metadata"},
		{"wrong type", tok, withMeta("redirect_uris", "https://rp.example/cb"), 400, "invalid_client_metadata"},
		{"software statement not configured", tok, withMeta("software_statement", "eyJhbGciOiJub25lIn0.e30."), 400, "unapproved_software_statement"},
		{"introspection scope", tok, withMeta("scope", "openid token_introspection"), 400, "invalid_client_metadata"},
		{"unknown auth method", tok, withMeta("token_endpoint_auth_method", "tls_client_auth"), 400, "invalid_client_metadata"},
		{"private key in jwks", tok, withMeta("jwks", json.RawMessage(privJWK)), 400, "invalid_client_metadata"},
		{"jwks and jwks_uri", tok, func() map[string]any {
			m := withMeta("jwks", json.RawMessage(`{"keys":[]}`))
			m["jwks_uri"] = "https://rp.example/jwks"
			return m
		}(), 400, "invalid_client_metadata"},
		{"jwks_uri not https", tok, withMeta("jwks_uri", "http://rp.example/jwks"), 400, "invalid_client_metadata"},
		{"code without authorization_code grant", tok, withMeta("grant_types", []string{"implicit"}), 400, "invalid_client_metadata"},
		{"public client with client_credentials", tok, func() map[string]any {
			m := withMeta("token_endpoint_auth_method", "none")
			m["grant_types"] = []string{"authorization_code", "client_credentials"}
			return m
		}(), 400, "invalid_client_metadata"},
		{"unsupported subject type", tok, withMeta("subject_type", "magic"), 400, "invalid_client_metadata"},
		{"unknown grant type", tok, withMeta("grant_types", []string{"authorization_code", "urn:x"}), 400, "invalid_client_metadata"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := regRequest(t, "POST", reg, c.bearer, c.body)
			if resp.StatusCode != c.status || (c.code != "" && body["error"] != c.code) {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, c.status, c.code)
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 without a Bearer challenge: %v", resp.Header)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatal("registration responses must not be cached")
			}
		})
	}
	list, _ := env.store.ListClients(t.Context())
	if len(list) != 0 {
		t.Fatalf("refused registrations created %d clients", len(list))
	}
	// The single-use token was not spent by the refusals; it works once.
	if resp, body := regRequest(t, "POST", reg, tok, webClient()); resp.StatusCode != 201 {
		t.Fatalf("first use: %d %v", resp.StatusCode, body)
	}
	if resp, body := regRequest(t, "POST", reg, tok, webClient()); resp.StatusCode != 401 || body["error"] != "invalid_token" {
		t.Fatalf("second use of a single-use token: %d %v", resp.StatusCode, body)
	}
}

func TestRegistrationTokenLimits(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.Registration.Enabled = true })
	reg := env.srv.URL + "/register"
	two := env.registrationToken(2, time.Hour)
	short := env.registrationToken(0, time.Minute)
	for i := range 2 {
		if resp, body := regRequest(t, "POST", reg, two, webClient()); resp.StatusCode != 201 {
			t.Fatalf("use %d: %d %v", i+1, resp.StatusCode, body)
		}
	}
	if resp, _ := regRequest(t, "POST", reg, two, webClient()); resp.StatusCode != 401 {
		t.Fatalf("third use of a two-use token: %d", resp.StatusCode)
	}
	if resp, _ := regRequest(t, "POST", reg, short, webClient()); resp.StatusCode != 201 {
		t.Fatalf("unlimited token: %d", resp.StatusCode)
	}
	env.clock.Add(2 * time.Minute)
	if resp, body := regRequest(t, "POST", reg, short, webClient()); resp.StatusCode != 401 || body["error"] != "invalid_token" {
		t.Fatalf("expired token: %d %v", resp.StatusCode, body)
	}
	if _, err := op.NewRegistrationToken(t.Context(), env.store, 1, 0, env.clock.Now()); err == nil {
		t.Fatal("a token without lifetime was made")
	}
}

func TestRegistrationOffByDefault(t *testing.T) {
	env := newTestEnv(t, nil)
	if resp, _ := regRequest(t, "POST", env.srv.URL+"/register", "", webClient()); resp.StatusCode != 404 {
		t.Fatalf("/register while off: %d", resp.StatusCode)
	}
	_, doc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, nil)
	if _, ok := doc["registration_endpoint"]; ok {
		t.Fatal("registration_endpoint advertised while off")
	}
	on := newTestEnv(t, func(c *op.Config) { c.Registration.Open = true })
	_, doc = doReq(t, "GET", on.srv.URL+"/.well-known/oauth-authorization-server", nil, nil)
	if doc["registration_endpoint"] != on.srv.URL+"/register" {
		t.Fatalf("registration_endpoint: %v", doc["registration_endpoint"])
	}
}

// TestRegistrationAndManagement: a confidential client registers with an
// initial access token, signs a user in, then reads, updates and deletes
// itself (RFC 7592); stolen or foreign registration tokens do nothing.
func TestRegistrationAndManagement(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.Registration.Enabled = true })
	reg := env.srv.URL + "/register"
	tok := env.registrationToken(0, time.Hour)
	meta := map[string]any{
		"client_name": "Books", "redirect_uris": []string{rpCallback}, "grant_types": []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_method": "client_secret_post", "contacts": []string{"ops@rp.example"},
		"client_uri": "https://rp.example/", "logo_uri": "https://rp.example/logo.png", "tos_uri": "https://rp.example/tos",
		"scope": "openid profile", "software_id": "books", "software_version": "1.2", "unknown_field": "ignored",
		"client_id_issued_at": 1, "registration_access_token": "mine",
	}
	resp, got := regRequest(t, "POST", reg, tok, meta)
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %v", resp.StatusCode, got)
	}
	id, secret := got["client_id"].(string), got["client_secret"].(string)
	rat, rcu := got["registration_access_token"].(string), got["registration_client_uri"].(string)
	if id == "" || len(secret) < 40 || len(rat) < 40 || rat == "mine" || rcu != reg+"/"+id {
		t.Fatalf("response: %v", got)
	}
	if got["client_secret_expires_at"] != float64(0) || got["client_id_issued_at"] != float64(env.clock.Now().Unix()) ||
		got["token_endpoint_auth_method"] != "client_secret_post" || got["client_name"] != "Books" ||
		got["software_id"] != "books" || got["scope"] != "openid profile" || got["tos_uri"] != "https://rp.example/tos" ||
		got["id_token_signed_response_alg"] != "RS256" || got["subject_type"] != "public" {
		t.Fatalf("registered metadata: %v", got)
	}
	// Stored as digests only.
	stored, err := env.store.Client(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored.RegistrationTokenHash, []byte(rat)) || len(stored.RegistrationTokenHash) != sha256.Size {
		t.Fatal("registration access token not stored as a digest")
	}

	// The client works: code flow with client_secret_post; basic is refused
	// because the client registered _post (OIDC Core §9).
	q := callbackCode(t, env, id)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q}, "redirect_uri": {rpCallback}}
	if status, body, _ := env.tokenRequest(id, secret, form); status != 401 || body["error"] != "invalid_client" {
		t.Fatalf("basic for a _post client: %d %v", status, body)
	}
	form.Set("client_id", id)
	form.Set("client_secret", secret)
	status, body, _ := env.tokenRequest("", "", form)
	if status != 200 || body["refresh_token"] == nil && body["access_token"] == nil {
		t.Fatalf("code exchange: %d %v", status, body)
	}
	// client_credentials was not registered.
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if status, body, _ := env.tokenRequest("", "", cc); status != 400 || body["error"] != "unauthorized_client" {
		t.Fatalf("unregistered grant: %d %v", status, body)
	}

	// RFC 7592 §2.1: read.
	for name, bearer := range map[string]string{"none": "", "wrong": "x" + rat, "initial access token": tok} {
		if resp, _ := regRequest(t, "GET", rcu, bearer, nil); resp.StatusCode != 401 {
			t.Fatalf("read with %s token: %d", name, resp.StatusCode)
		}
	}
	other := regTestClient(t, env, tok)
	if resp, _ := regRequest(t, "GET", rcu, other.rat, nil); resp.StatusCode != 401 {
		t.Fatalf("another client's registration token reads this one: %d", resp.StatusCode)
	}
	if resp, _ := regRequest(t, "DELETE", rcu, other.rat, nil); resp.StatusCode != 401 {
		t.Fatalf("another client's registration token deletes this one: %d", resp.StatusCode)
	}
	if resp, _ := regRequest(t, "GET", reg+"/nonexistent", rat, nil); resp.StatusCode != 401 {
		t.Fatalf("unknown client: %d", resp.StatusCode)
	}
	resp, read := regRequest(t, "GET", rcu, rat, nil)
	if resp.StatusCode != 200 || read["client_id"] != id || read["client_name"] != "Books" || read["client_secret"] != nil || read["registration_client_uri"] != rcu {
		t.Fatalf("read: %d %v", resp.StatusCode, read)
	}

	// RFC 7592 §2.2: update. A bad update changes nothing.
	upd := map[string]any{"client_id": id, "client_name": "Books 2", "redirect_uris": []string{"https://rp.example/new"},
		"token_endpoint_auth_method": "client_secret_basic", "grant_types": []string{"authorization_code"}}
	bad := map[string]any{"client_id": id, "redirect_uris": []string{"javascript:alert(1)"}}
	if resp, body := regRequest(t, "PUT", rcu, rat, bad); resp.StatusCode != 400 || body["error"] != "invalid_redirect_uri" {
		t.Fatalf("bad update: %d %v", resp.StatusCode, body)
	}
	if resp, body := regRequest(t, "PUT", rcu, rat, map[string]any{"client_id": other.id, "redirect_uris": []string{rpCallback}}); resp.StatusCode != 400 {
		t.Fatalf("update naming another client: %d %v", resp.StatusCode, body)
	}
	resp, updated := regRequest(t, "PUT", rcu, rat, upd)
	if resp.StatusCode != 200 || updated["client_name"] != "Books 2" || updated["client_secret"] != nil {
		t.Fatalf("update: %d %v", resp.StatusCode, updated)
	}
	env.p.ForgetClient(id)
	after, _ := env.store.Client(t.Context(), id)
	if after.Name != "Books 2" || !slices.Equal(after.RedirectURIs, []string{"https://rp.example/new"}) ||
		!bytes.Equal(after.SecretHash, stored.SecretHash) || !after.CreatedAt.Equal(stored.CreatedAt) {
		t.Fatalf("after update: %+v", after)
	}

	// RFC 7592 §2.3: delete; the client and its registration are gone.
	if resp, _ := regRequest(t, "DELETE", rcu, rat, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := regRequest(t, "GET", rcu, rat, nil); resp.StatusCode != 401 {
		t.Fatalf("read after delete: %d", resp.StatusCode)
	}
	if _, err := env.store.Client(t.Context(), id); err == nil {
		t.Fatal("client still stored")
	}
}

type regClient struct{ id, secret, rat string }

func regTestClient(t *testing.T, env *testEnv, tok string) regClient {
	t.Helper()
	resp, got := regRequest(t, "POST", env.srv.URL+"/register", tok, webClient())
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %v", resp.StatusCode, got)
	}
	s, _ := got["client_secret"].(string)
	return regClient{got["client_id"].(string), s, got["registration_access_token"].(string)}
}

// callbackCode runs the browser through an authorization and returns the code.
func callbackCode(t *testing.T, env *testEnv, id string) string {
	t.Helper()
	q := env.browser().authorize(authURL(env, map[string]string{
		"client_id": id, "response_type": "code", "scope": "openid", "redirect_uri": rpCallback, "state": "st",
	}))
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	return q.Get("code")
}

// TestRegistrationOpenNativeClient: MCP-style open registration of a public
// native client (loopback redirect, PKCE, token_endpoint_auth_method none).
func TestRegistrationOpenNativeClient(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.Registration.Open = true })
	resp, got := regRequest(t, "POST", env.srv.URL+"/register", "", map[string]any{
		"client_name": "MCP Inspector", "redirect_uris": []string{"http://127.0.0.1/callback"},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "scope": "openid offline_access",
	})
	if resp.StatusCode != 201 || got["client_secret"] != nil || got["token_endpoint_auth_method"] != "none" {
		t.Fatalf("register: %d %v", resp.StatusCode, got)
	}
	id := got["client_id"].(string)
	verifier := "a-verifier-of-at-least-forty-three-characters-long-0123"
	sum := sha256.Sum256([]byte(verifier))
	params := map[string]string{
		"client_id": id, "response_type": "code", "scope": "openid offline_access", "state": "st", "prompt": "consent",
		"redirect_uri": "http://127.0.0.1:49152/callback", // any loopback port (RFC 8252 §7.3)
	}
	// Without PKCE a public client is refused.
	b := env.browser()
	if q := b.authorize(authURL(env, params)); q.Get("error") != "invalid_request" {
		t.Fatalf("public client without PKCE: %v", q)
	}
	params["code_challenge"] = base64.RawURLEncoding.EncodeToString(sum[:])
	params["code_challenge_method"] = "S256"
	q := b.authorize(authURL(env, params))
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {id},
		"redirect_uri": {"http://127.0.0.1:49152/callback"}, "code_verifier": {verifier}}
	status, body, _ := env.tokenRequest("", "", form)
	if status != 200 || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", status, body)
	}
	ref := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {id}}
	if status, body, _ := env.tokenRequest("", "", ref); status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	// A secret sent by a public client is refused.
	if status, _, _ := env.tokenRequest(id, "guess", url.Values{"grant_type": {"client_credentials"}}); status != 401 {
		t.Fatalf("secret for a public client: %d", status)
	}
}

// TestRegistrationHook: the policy hook changes and refuses registrations.
func TestRegistrationHook(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) {
		c.Registration.Open = true
		c.Hooks.Registration = func(ctx context.Context, a *op.RegistrationArgs) error {
			if strings.Contains(a.Metadata.ClientName, "evil") {
				return &op.Error{Code: "invalid_client_metadata", Description: "No evil clients."}
			}
			if a.Metadata.ClientName == "boom" {
				return errors.New("policy store down")
			}
			a.Metadata.RequireConsent = true
			a.Metadata.ClientName = "[registered] " + a.Metadata.ClientName
			return nil
		}
	})
	reg := env.srv.URL + "/register"
	resp, body := regRequest(t, "POST", reg, "", map[string]any{"client_name": "evil app", "redirect_uris": []string{rpCallback}})
	if resp.StatusCode != 400 || body["error_description"] != "No evil clients." {
		t.Fatalf("refused by hook: %d %v", resp.StatusCode, body)
	}
	resp, body = regRequest(t, "POST", reg, "", map[string]any{"client_name": "boom", "redirect_uris": []string{rpCallback}})
	if resp.StatusCode != 400 || body["error"] != "invalid_client_metadata" || strings.Contains(body["error_description"].(string), "policy store") {
		t.Fatalf("hook error: %d %v", resp.StatusCode, body)
	}
	resp, body = regRequest(t, "POST", reg, "", map[string]any{"client_name": "fine", "redirect_uris": []string{rpCallback}})
	if resp.StatusCode != 201 || body["client_name"] != "[registered] fine" || body["require_consent"] != true {
		t.Fatalf("changed by hook: %d %v", resp.StatusCode, body)
	}
}

// TestRegistrationSoftwareStatement: a statement signed by a trusted key
// overrides the request's metadata; one signed by another key is refused.
func TestRegistrationSoftwareStatement(t *testing.T) {
	trusted, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	env := newTestEnv(t, func(c *op.Config) {
		c.Registration.Open = true
		c.Registration.SoftwareStatementKeys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: trusted.Public(), KeyID: "pub1", Algorithm: "ES256"}}}
	})
	sign := func(k *ecdsa.PrivateKey, claims map[string]any) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", "pub1"))
		out, err := jwt.Signed(s).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	good := sign(trusted, map[string]any{"iss": "publisher", "software_id": "signed-app", "client_name": "Signed Name"})
	forged := sign(other, map[string]any{"iss": "publisher", "software_id": "signed-app"})
	expired := sign(trusted, map[string]any{"software_id": "x", "exp": env.clock.Now().Add(-time.Hour).Unix()})
	reg := env.srv.URL + "/register"
	for name, c := range map[string]struct {
		stmt string
		code string
	}{
		"forged":   {forged, "unapproved_software_statement"},
		"expired":  {expired, "invalid_software_statement"},
		"not JWT":  {"garbage", "invalid_software_statement"},
		"alg none": {"eyJhbGciOiJub25lIn0.eyJzb2Z0d2FyZV9pZCI6IngifQ.", "invalid_software_statement"},
	} {
		resp, body := regRequest(t, "POST", reg, "", map[string]any{"redirect_uris": []string{rpCallback}, "software_statement": c.stmt})
		if resp.StatusCode != 400 || body["error"] != c.code {
			t.Fatalf("%s: %d %v", name, resp.StatusCode, body)
		}
	}
	resp, body := regRequest(t, "POST", reg, "", map[string]any{"redirect_uris": []string{rpCallback}, "client_name": "Request Name", "software_statement": good})
	if resp.StatusCode != 201 || body["software_id"] != "signed-app" || body["client_name"] != "Signed Name" {
		t.Fatalf("statement: %d %v", resp.StatusCode, body)
	}
}
