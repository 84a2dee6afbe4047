package op_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clientKey is a relying party's signing key.
type clientKey struct {
	priv any
	alg  jose.SignatureAlgorithm
	kid  string
}

func newECKey(t testing.TB, kid string) clientKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{k, jose.ES256, kid}
}

func (k clientKey) public() jose.JSONWebKey {
	var pub any
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		pub = p.Public()
	case *rsa.PrivateKey:
		pub = p.Public()
	}
	return jose.JSONWebKey{Key: pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

func jwksJSON(keys ...clientKey) string {
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public())
	}
	b, _ := json.Marshal(set)
	return string(b)
}

// sign makes a JWT with claims, signed by key (or HMAC key bytes).
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var jtiCounter atomic.Int64

// assertionClaims are valid claims for client id at env's token endpoint.
func (env *testEnv) assertionClaims(id string) map[string]any {
	now := env.clock.Now()
	return map[string]any{
		"iss": id, "sub": id, "aud": env.srv.URL + "/token",
		"jti": "jti-" + time.Now().Format("150405.000000") + "-" + string(rune('a'+jtiCounter.Add(1)%26)) + strings.Repeat("x", int(jtiCounter.Load()%7)),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	}
}

// postForm posts a form to an endpoint with optional extra headers.
func (env *testEnv) postForm(path string, form url.Values, hdr map[string]string) (int, map[string]any) {
	env.t.Helper()
	req, _ := http.NewRequestWithContext(env.t.Context(), http.MethodPost, env.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func ccWithAssertion(a string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {a}}
}

// TestClientAssertionRefusals: negative cases first. Every refusal is 401
// invalid_client (400 for two methods at once), and no refusal spends the
// jti of the genuine assertion that follows.
func TestClientAssertionRefusals(t *testing.T) {
	env := newTestEnv(t, nil)
	key := newECKey(t, "k1")
	other := newECKey(t, "k1") // same kid, another key
	id, _ := env.client(storage.Client{Scope: []string{"svc"}, ClientMetadata: storage.ClientMetadata{
		TokenEndpointAuthMethod: op.AuthPrivateKeyJWT, JWKS: jwksJSON(key), GrantTypes: []string{"authorization_code", "client_credentials"},
	}})
	secretID, secret := env.client(storage.Client{Scope: []string{"svc"}, ClientMetadata: storage.ClientMetadata{TokenEndpointAuthMethod: op.AuthClientSecretJWT}})
	basicID, basicSecret := env.client(storage.Client{Scope: []string{"svc"}})

	pubDER, _ := x509.MarshalPKIXPublicKey(key.priv.(*ecdsa.PrivateKey).Public())
	with := func(k string, v any) map[string]any {
		c := env.assertionClaims(id)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	now := env.clock.Now()
	good := sign(t, key.alg, key.priv, key.kid, env.assertionClaims(id))
	for _, c := range []struct {
		name      string
		assertion string
		form      url.Values
		hdr       map[string]string
		status    int
	}{
		{"forged: signed by another key", sign(t, other.alg, other.priv, "k1", env.assertionClaims(id)), nil, nil, 401},
		{"forged: no kid, another key", sign(t, other.alg, other.priv, "", env.assertionClaims(id)), nil, nil, 401},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
			base64.RawURLEncoding.EncodeToString(func() []byte { b, _ := json.Marshal(env.assertionClaims(id)); return b }()) + ".", nil, nil, 401},
		{"HMAC keyed with the client's public key", sign(t, jose.HS256, pubDER, "k1", env.assertionClaims(id)), nil, nil, 401},
		{"wrong audience", sign(t, key.alg, key.priv, "k1", with("aud", "https://other.example/token")), nil, nil, 401},
		{"no audience", sign(t, key.alg, key.priv, "k1", with("aud", nil)), nil, nil, 401},
		{"expired beyond the skew", sign(t, key.alg, key.priv, "k1", with("exp", now.Add(-2*time.Minute).Unix())), nil, nil, 401},
		{"exp too far ahead", sign(t, key.alg, key.priv, "k1", with("exp", now.Add(2*time.Hour).Unix())), nil, nil, 401},
		{"no exp", sign(t, key.alg, key.priv, "k1", with("exp", nil)), nil, nil, 401},
		{"issued in the future", sign(t, key.alg, key.priv, "k1", with("iat", now.Add(10*time.Minute).Unix())), nil, nil, 401},
		{"not yet valid", sign(t, key.alg, key.priv, "k1", with("nbf", now.Add(10*time.Minute).Unix())), nil, nil, 401},
		{"no jti", sign(t, key.alg, key.priv, "k1", with("jti", nil)), nil, nil, 401},
		{"iss is not sub", sign(t, key.alg, key.priv, "k1", with("iss", "someone-else")), nil, nil, 401},
		{"sub is another client", sign(t, key.alg, key.priv, "k1", func() map[string]any {
			c := env.assertionClaims(basicID)
			return c
		}()), nil, nil, 401},
		{"unknown client", sign(t, key.alg, key.priv, "k1", env.assertionClaims("nobody")), nil, nil, 401},
		{"garbage", "a.b.c", nil, nil, 401},
		{"wrong assertion type", good, url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:x"}, "client_assertion": {good}}, nil, 401},
		{"assertion and Basic", good, nil, map[string]string{"Authorization": basic(id, "x")}, 400},
		{"assertion and client_secret", good, func() url.Values { f := ccWithAssertion(good); f.Set("client_secret", "x"); return f }(), nil, 400},
		{"client_id of another client", good, func() url.Values { f := ccWithAssertion(good); f.Set("client_id", basicID); return f }(), nil, 400},
		{"client_secret_jwt with a wrong secret", sign(t, jose.HS256, []byte("not-the-secret-not-the-secret-00"), "", env.assertionClaims(secretID)), nil, nil, 401},
		{"client_secret_jwt signed with RS/ES", sign(t, key.alg, key.priv, "", env.assertionClaims(secretID)), nil, nil, 401},
		{"secret client sending an assertion", sign(t, jose.HS256, []byte(basicSecret), "", env.assertionClaims(basicID)), nil, nil, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			form := c.form
			if form == nil {
				form = ccWithAssertion(c.assertion)
			}
			status, body := env.postForm("/token", form, c.hdr)
			want := "invalid_client"
			if c.status == 400 {
				want = "invalid_request"
			}
			if status != c.status || body["error"] != want {
				t.Fatalf("got %d %v, want %d %s", status, body, c.status, want)
			}
		})
	}
	// A private_key_jwt client cannot fall back to a secret or to nothing.
	if status, _ := env.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, nil); status != 401 {
		t.Fatalf("private_key_jwt client without assertion: %d", status)
	}
	// The genuine assertion works once; its replay is refused.
	if status, body := env.postForm("/token", ccWithAssertion(good), nil); status != 200 {
		t.Fatalf("genuine assertion: %d %v", status, body)
	}
	if status, body := env.postForm("/token", ccWithAssertion(good), nil); status != 401 || body["error"] != "invalid_client" {
		t.Fatalf("replayed assertion: %d %v", status, body)
	}
	// client_secret_jwt with the real secret, and the issuer as audience.
	cs := env.assertionClaims(secretID)
	cs["aud"] = env.srv.URL
	if status, body := env.postForm("/token", ccWithAssertion(sign(t, jose.HS256, []byte(secret), "", cs)), nil); status != 200 {
		t.Fatalf("client_secret_jwt: %d %v", status, body)
	}
	// Within the clock skew an assertion that just expired still passes.
	late := env.assertionClaims(id)
	late["exp"] = now.Add(-30 * time.Second).Unix()
	if status, body := env.postForm("/token", ccWithAssertion(sign(t, key.alg, key.priv, "k1", late)), nil); status != 200 {
		t.Fatalf("within the skew: %d %v", status, body)
	}
}

// TestClientAssertionEndpoints: the same assertion rules at introspection
// and revocation, with the endpoint's own URL as an accepted audience.
func TestClientAssertionEndpoints(t *testing.T) {
	env := newTestEnv(t, nil)
	key := newECKey(t, "rs")
	rsID, _ := env.client(storage.Client{Scope: []string{"token_introspection"}, ClientMetadata: storage.ClientMetadata{
		TokenEndpointAuthMethod: op.AuthPrivateKeyJWT, JWKS: jwksJSON(key),
	}})
	// The resource server introspects its own client-credentials token.
	tc := env.assertionClaims(rsID)
	status, tok := env.postForm("/token", ccWithAssertion(sign(t, key.alg, key.priv, "rs", tc)), nil)
	if status != 200 {
		t.Fatalf("token: %d %v", status, tok)
	}
	env.p.ForgetClient(rsID)
	c, _ := env.store.Client(t.Context(), rsID)
	c.Scope = []string{"token_introspection", rsID}
	env.store.UpdateClient(t.Context(), c)
	env.p.ForgetClient(rsID)
	ic := env.assertionClaims(rsID)
	ic["aud"] = env.srv.URL + "/introspect"
	form := url.Values{"token": {tok["access_token"].(string)}, "client_assertion_type": {assertionType}, "client_assertion": {sign(t, key.alg, key.priv, "rs", ic)}}
	if status, body := env.postForm("/introspect", form, nil); status != 200 || body["active"] != true {
		t.Fatalf("introspect: %d %v", status, body)
	}
	// The introspection endpoint's URL is not an audience of the revocation endpoint.
	form.Set("client_assertion", sign(t, key.alg, key.priv, "rs", func() map[string]any {
		c := env.assertionClaims(rsID)
		c["aud"] = env.srv.URL + "/introspect"
		return c
	}()))
	if status, _ := env.postForm("/revoke", form, nil); status != 401 {
		t.Fatalf("revoke with the introspection audience: %d", status)
	}
	rc := env.assertionClaims(rsID)
	rc["aud"] = env.srv.URL + "/revoke"
	form.Set("client_assertion", sign(t, key.alg, key.priv, "rs", rc))
	if status, _ := env.postForm("/revoke", form, nil); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
}

// jwksServer serves a client's key set and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []clientKey
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...clientKey) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body := jwksJSON(s.keys...)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...clientKey) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// TestClientAssertionJWKSURI: keys fetched from jwks_uri are cached; an
// unknown kid fetches again (a rotated key is found) but at most once per
// interval.
func TestClientAssertionJWKSURI(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.InsecureAllowPrivateTargets = true })
	k1, k2, k3 := newECKey(t, "k1"), newECKey(t, "k2"), newECKey(t, "k3")
	js := newJWKSServer(t, k1)
	id, _ := env.client(storage.Client{Scope: []string{"svc"}, ClientMetadata: storage.ClientMetadata{
		TokenEndpointAuthMethod: op.AuthPrivateKeyJWT, JWKSURI: js.URL + "/jwks.json",
	}})
	call := func(k clientKey) int {
		status, _ := env.postForm("/token", ccWithAssertion(sign(t, k.alg, k.priv, k.kid, env.assertionClaims(id))), nil)
		return status
	}
	for range 3 {
		if s := call(k1); s != 200 {
			t.Fatalf("k1: %d", s)
		}
	}
	if n := js.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for three assertions, want 1 (cached)", n)
	}
	js.set(k1, k2) // the client rotates in k2, a while later
	env.clock.Add(11 * time.Second)
	if s := call(k2); s != 200 {
		t.Fatalf("rotated key k2: %d", s)
	}
	if n := js.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after an unknown kid, want 2", n)
	}
	// k3 is unknown and the set was fetched moments ago: refused, no fetch.
	for range 5 {
		if s := call(k3); s != 401 {
			t.Fatalf("unpublished key k3: %d", s)
		}
	}
	if n := js.fetches.Load(); n != 2 {
		t.Fatalf("an attacker's unknown kids caused %d fetches, want none more", n-2)
	}
	// Later, once published, k3 is found.
	js.set(k2, k3)
	env.clock.Add(15 * time.Second)
	if s := call(k3); s != 200 {
		t.Fatalf("k3 after publication: %d", s)
	}
}

// TestClientAssertionJWKSURISSRF: without InsecureAllowPrivateTargets a
// jwks_uri on loopback, private or link-local addresses is never fetched.
func TestClientAssertionJWKSURISSRF(t *testing.T) {
	env := newTestEnv(t, nil)
	key := newECKey(t, "k1")
	js := newJWKSServer(t, key)
	for _, uri := range []string{
		js.URL + "/jwks.json",                           // loopback (127.0.0.1)
		"https://169.254.169.254/latest/meta-data/jwks", // link-local (cloud metadata)
		"https://10.1.2.3/jwks",                         // private
		"https://[::1]:1/jwks",                          // IPv6 loopback
		"https://localhost:1/jwks",                      // a name resolving to loopback
	} {
		id, _ := env.client(storage.Client{Scope: []string{"svc"}, ClientMetadata: storage.ClientMetadata{
			TokenEndpointAuthMethod: op.AuthPrivateKeyJWT, JWKSURI: uri,
		}})
		start := time.Now()
		status, body := env.postForm("/token", ccWithAssertion(sign(t, key.alg, key.priv, "k1", env.assertionClaims(id))), nil)
		if status != 401 || body["error"] != "invalid_client" {
			t.Fatalf("%s: %d %v", uri, status, body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s: refused only after %v (was a connection attempted?)", uri, d)
		}
	}
	if n := js.fetches.Load(); n != 0 {
		t.Fatalf("the loopback jwks_uri was fetched %d times", n)
	}
}

// TestClientAssertionReplayAcrossNodes: two providers on one database (two
// nodes): an assertion accepted by one is refused by the other.
func TestClientAssertionReplayAcrossNodes(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, "sqlite:"+t.TempDir()+"/shared.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	node1 := newTestEnvOn(t, store, nil)
	node2 := newTestEnvOn(t, store, nil)
	key := newECKey(t, "k1")
	id, _ := node1.client(storage.Client{Scope: []string{"svc"}, ClientMetadata: storage.ClientMetadata{
		TokenEndpointAuthMethod: op.AuthPrivateKeyJWT, JWKS: jwksJSON(key),
	}})
	claims := node1.assertionClaims(id)
	claims["aud"] = node1.srv.URL // node1's issuer; node2 has its own issuer in this test
	a := sign(t, key.alg, key.priv, "k1", claims)
	if status, body := node1.postForm("/token", ccWithAssertion(a), nil); status != 200 {
		t.Fatalf("node 1: %d %v", status, body)
	}
	// The same jti, re-signed for node 2's audience, is still the same jti of
	// the same client: refused.
	claims["aud"] = node2.srv.URL
	if status, body := node2.postForm("/token", ccWithAssertion(sign(t, key.alg, key.priv, "k1", claims)), nil); status != 401 {
		t.Fatalf("node 2 accepted a replayed jti: %d %v", status, body)
	}
}
