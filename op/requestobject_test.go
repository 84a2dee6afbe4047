package op_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// objectClaims are the claims of a request object of client id.
func (env *testEnv) objectClaims(id string, extra ...any) map[string]any {
	c := map[string]any{
		"iss": id, "aud": env.srv.URL, "client_id": id, "response_type": "code", "scope": "openid profile",
		"redirect_uri": rpCallback, "state": "from-object", "nonce": "n", "exp": env.clock.Now().Add(5 * time.Minute).Unix(),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(c, extra[i].(string))
		} else {
			c[extra[i].(string)] = extra[i+1]
		}
	}
	return c
}

func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	return strings.Join([]string{b64json(map[string]any{"alg": "none"}), b64json(claims), ""}, ".")
}

// TestRequestObjectRefusals: negative cases first. Errors go to the
// registered redirect URI of the query (with its state) as
// invalid_request_object, or on a page when there is none.
func TestRequestObjectRefusals(t *testing.T) {
	env := newTestEnv(t, nil)
	key, other := newECKey(t, "k1"), newECKey(t, "k1")
	id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{JWKS: jwksJSON(key)}})
	peer, _ := env.client(storage.Client{})
	b := env.browser()
	query := func(extra ...string) map[string]string {
		q := map[string]string{"client_id": id, "response_type": "code", "scope": "openid", "redirect_uri": rpCallback, "state": "from-query"}
		for i := 0; i+1 < len(extra); i += 2 {
			q[extra[i]] = extra[i+1]
		}
		return q
	}
	for _, c := range []struct {
		name string
		q    map[string]string
		code string
	}{
		{"signed by another key", query("request", sign(t, other.alg, other.priv, "k1", env.objectClaims(id))), "invalid_request_object"},
		{"alg none not registered", query("request", unsigned(t, env.objectClaims(id))), "invalid_request_object"},
		{"HMAC with a wrong secret", query("request", sign(t, jose.HS256, []byte("not the secret, not the secret!!"), "", env.objectClaims(id))), "invalid_request_object"},
		{"HMAC keyed with the client's public key", query("request", sign(t, jose.HS256, []byte(jwksJSON(key)), "", env.objectClaims(id))), "invalid_request_object"},
		{"another client's client_id inside", query("request", sign(t, key.alg, key.priv, "k1", env.objectClaims(id, "client_id", peer))), "invalid_request_object"},
		{"request_uri inside", query("request", sign(t, key.alg, key.priv, "k1", env.objectClaims(id, "request_uri", "https://x"))), "invalid_request_object"},
		{"wrong audience", query("request", sign(t, key.alg, key.priv, "k1", env.objectClaims(id, "aud", "https://other.example"))), "invalid_request_object"},
		{"wrong issuer", query("request", sign(t, key.alg, key.priv, "k1", env.objectClaims(id, "iss", peer))), "invalid_request_object"},
		{"expired", query("request", sign(t, key.alg, key.priv, "k1", env.objectClaims(id, "exp", env.clock.Now().Add(-time.Hour).Unix()))), "invalid_request_object"},
		{"encrypted", query("request", "a.b.c.d.e"), "invalid_request_object"},
		{"garbage", query("request", "not-a-jwt"), "invalid_request_object"},
		{"request and request_uri", query("request", sign(t, key.alg, key.priv, "k1", env.objectClaims(id)), "request_uri", "https://rp.example/r"), "invalid_request"},
		{"unregistered request_uri", query("request_uri", "https://rp.example/request.jwt"), "invalid_request_uri"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := callback(t, b.get(authURL(env, c.q)))
			if q.Get("error") != c.code || q.Get("state") != "from-query" || q.Get("code") != "" {
				t.Fatalf("got %v, want %s", q, c.code)
			}
		})
	}
	// Without a redirect URI in the query, an unusable object is a page.
	pg := b.get(authURL(env, map[string]string{"client_id": id, "request": sign(t, other.alg, other.priv, "k1", env.objectClaims(id))}))
	if pg.status != 400 || !strings.Contains(pg.body, "invalid_request_object") {
		t.Fatalf("no query redirect_uri: %d %s", pg.status, pg.body)
	}
	// The genuine object works; HS256 with the client's secret too.
	if q := callback(t, b.get(authURL(env, query("request", sign(t, key.alg, key.priv, "k1", env.objectClaims(id)))))); q.Get("code") == "" {
		t.Fatalf("genuine object: %v", q)
	}
	if q := callback(t, b.get(authURL(env, query("request", sign(t, jose.HS256, []byte(secret), "", env.objectClaims(id)))))); q.Get("code") == "" {
		t.Fatalf("HS256 object: %v", q)
	}
}

// TestRequestObjectPrecedence: the object's values win over the query's
// (OIDC Core §6.3.3); the redirect URI may come from the object alone; the
// request survives the login round trip; "none" works once registered.
func TestRequestObjectPrecedence(t *testing.T) {
	env := newTestEnv(t, nil)
	key := newECKey(t, "k1")
	id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{JWKS: jwksJSON(key)}})
	obj := sign(t, key.alg, key.priv, "k1", env.objectClaims(id, "max_age", 3600))
	b := env.browser() // not logged in: the request goes through /login and back
	q := callback(t, b.get(authURL(env, map[string]string{"client_id": id, "response_type": "code", "scope": "openid", "state": "from-query", "request": obj})))
	if q.Get("state") != "from-object" || q.Get("code") == "" {
		t.Fatalf("precedence: %v", q)
	}
	status, tok, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {rpCallback}})
	if status != 200 || tok["scope"] != "openid profile" {
		t.Fatalf("the object's scope was not used: %d %v", status, tok)
	}

	none, _ := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{RequestObjectSigningAlg: "none"}})
	if q := callback(t, b.get(authURL(env, map[string]string{"client_id": none, "request": unsigned(t, env.objectClaims(none))}))); q.Get("code") == "" {
		t.Fatalf("registered none: %v", q)
	}
	// A client that registered an alg gets only that alg.
	es, _ := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{JWKS: jwksJSON(key), RequestObjectSigningAlg: "RS256"}})
	if q := callback(t, b.get(authURL(env, map[string]string{"client_id": es, "redirect_uri": rpCallback, "request": sign(t, key.alg, key.priv, "k1", env.objectClaims(es))}))); q.Get("error") != "invalid_request_object" {
		t.Fatalf("alg other than the registered one: %v", q)
	}
}

// TestRequestObjectByReference: request_uri is fetched only when the
// client registered it, and never from a private address unless allowed.
func TestRequestObjectByReference(t *testing.T) {
	key := newECKey(t, "k1")
	var fetches atomic.Int32
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
		w.Write([]byte(body.Load().(string)))
	}))
	t.Cleanup(srv.Close)
	ref := srv.URL + "/request.jwt"

	env := newTestEnv(t, func(c *op.Config) { c.InsecureAllowPrivateTargets = true })
	id, _ := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{JWKS: jwksJSON(key), RequestURIs: []string{ref + "#v1"}}})
	body.Store(sign(t, key.alg, key.priv, "k1", env.objectClaims(id)))
	b := env.browser()
	if q := callback(t, b.get(authURL(env, map[string]string{"client_id": id, "request_uri": ref + "#v1"}))); q.Get("code") == "" || q.Get("state") != "from-object" {
		t.Fatalf("by reference: %v", q)
	}
	// A forged object at the registered URI is refused.
	body.Store(sign(t, jose.ES256, newECKey(t, "k1").priv, "k1", env.objectClaims(id)))
	if q := callback(t, b.get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "request_uri": ref}))); q.Get("error") != "invalid_request_object" {
		t.Fatalf("forged object by reference: %v", q)
	}

	// SSRF: the same registration without the switch never connects.
	strict := newTestEnv(t, nil)
	sid, _ := strict.client(storage.Client{ClientMetadata: storage.ClientMetadata{JWKS: jwksJSON(key), RequestURIs: []string{ref}}})
	before := fetches.Load()
	if q := callback(t, strict.browser().get(authURL(strict, map[string]string{"client_id": sid, "redirect_uri": rpCallback, "request_uri": ref}))); q.Get("error") != "invalid_request_uri" {
		t.Fatalf("private request_uri: %v", q)
	}
	if fetches.Load() != before {
		t.Fatal("a request_uri on loopback was fetched without the switch")
	}
}

// TestRequestObjectPushed: a request object pushed to /par (RFC 9126 §3).
func TestRequestObjectPushed(t *testing.T) {
	env := newTestEnv(t, nil)
	key := newECKey(t, "k1")
	id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{JWKS: jwksJSON(key)}})
	status, body := env.push(id, secret, url.Values{"request": {sign(t, key.alg, key.priv, "k1", env.objectClaims(id))}})
	if status != 201 {
		t.Fatalf("push: %d %v", status, body)
	}
	q := callback(t, env.browser().get(authURL(env, map[string]string{"client_id": id, "request_uri": body["request_uri"].(string)})))
	if q.Get("code") == "" || q.Get("state") != "from-object" {
		t.Fatalf("pushed object: %v", q)
	}
	other := newECKey(t, "k1")
	if status, body := env.push(id, secret, url.Values{"request": {sign(t, other.alg, other.priv, "k1", env.objectClaims(id))}}); status != 400 || body["error"] != "invalid_request_object" {
		t.Fatalf("forged pushed object: %d %v", status, body)
	}
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}
