package op_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// push posts an authorization request to /par with client_secret_basic
// (when secret is set) and returns the status and body.
func (env *testEnv) push(id, secret string, params url.Values) (int, map[string]any) {
	env.t.Helper()
	hdr := map[string]string{}
	if secret != "" {
		hdr["Authorization"] = basic(id, secret)
	}
	return env.postForm("/par", params, hdr)
}

func parParams(extra ...string) url.Values {
	v := url.Values{"response_type": {"code"}, "scope": {"openid profile"}, "redirect_uri": {rpCallback}, "state": {"pushed-state"}, "nonce": {"n"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// TestPARRefusals: negative cases first.
func TestPARRefusals(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	other, otherSecret := env.client(storage.Client{})
	for _, c := range []struct {
		name   string
		id     string
		secret string
		params url.Values
		status int
		code   string
	}{
		{"no client authentication", "", "", parParams("client_id", id), 401, "invalid_client"},
		{"wrong secret", id, "wrong", parParams(), 401, "invalid_client"},
		{"request_uri pushed", id, secret, parParams("request_uri", "urn:ietf:params:oauth:request_uri:x"), 400, "invalid_request"},
		{"unregistered redirect_uri", id, secret, parParams("redirect_uri", "https://evil.example/cb"), 400, "invalid_request"},
		{"javascript: redirect_uri", id, secret, parParams("redirect_uri", "javascript:alert(1)"), 400, "invalid_request"},
		{"unsupported response_type", id, secret, parParams("response_type", "magic"), 400, "unsupported_response_type"},
		{"client_id of another client", id, secret, parParams("client_id", other), 400, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := env.push(c.id, c.secret, c.params)
			if status != c.status || body["error"] != c.code {
				t.Fatalf("got %d %v, want %d %s", status, body, c.status, c.code)
			}
		})
	}

	// A genuine push.
	status, body := env.push(id, secret, parParams())
	if status != 201 || !strings.HasPrefix(body["request_uri"].(string), "urn:ietf:params:oauth:request_uri:") || body["expires_in"] != float64(300) {
		t.Fatalf("push: %d %v", status, body)
	}
	uri := body["request_uri"].(string)
	b := env.browser()
	use := func(clientID, u string) *page {
		return b.get(authURL(env, map[string]string{"client_id": clientID, "request_uri": u}))
	}
	// Used by another client: refused on a page (nothing is trusted yet).
	if pg := use(other, uri); pg.status != 400 || !strings.Contains(pg.body, "invalid_request_uri") {
		t.Fatalf("another client's request_uri: %d %s", pg.status, pg.body)
	}
	// Unknown, truncated and extended request_uri values.
	for _, u := range []string{"urn:ietf:params:oauth:request_uri:nope", uri[:len(uri)-1], uri + "x"} {
		if pg := use(id, u); pg.status != 400 || !strings.Contains(pg.body, "invalid_request_uri") {
			t.Fatalf("request_uri %q: %d", u, pg.status)
		}
	}
	// Used once: a code; used again: refused.
	q := callback(t, use(id, uri))
	if q.Get("code") == "" || q.Get("state") != "pushed-state" {
		t.Fatalf("first use: %v", q)
	}
	if pg := use(id, uri); pg.status != 400 || !strings.Contains(pg.body, "invalid_request_uri") {
		t.Fatalf("second use: %d %s", pg.status, pg.body)
	}
	// Expired.
	_, body = env.push(other, otherSecret, parParams())
	env.clock.Add(6 * time.Minute)
	if pg := use(other, body["request_uri"].(string)); pg.status != 400 || !strings.Contains(pg.body, "invalid_request_uri") {
		t.Fatalf("expired request_uri: %d", pg.status)
	}
}

// TestPARFlow: the pushed parameters are the only ones that count, the
// request survives login and consent (a public client with PKCE), and the
// code is exchanged as usual.
func TestPARFlow(t *testing.T) {
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{Type: storage.Public, RedirectURIs: []string{rpCallback}})
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	status, body := env.postForm("/par", parParams("client_id", id, "code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]),
		"code_challenge_method", "S256", "prompt", "consent"), nil)
	if status != 201 {
		t.Fatalf("public client push: %d %v", status, body)
	}
	uri := body["request_uri"].(string)
	b := env.browser()
	// Front-channel parameters besides client_id and request_uri are
	// ignored: the pushed redirect_uri, scope and state are used.
	pg := b.get(authURL(env, map[string]string{"client_id": id, "request_uri": uri,
		"redirect_uri": "https://evil.example/cb", "scope": "openid phone", "state": "front"}))
	if !strings.Contains(pg.body, `name="allow"`) {
		t.Fatalf("no consent page: %d %s", pg.status, pg.body)
	}
	if strings.Contains(pg.body, "evil.example") || strings.Contains(pg.body, "Phone number") {
		t.Fatalf("front-channel parameters reached the consent page: %s", pg.body)
	}
	q := callback(t, b.consent(pg, true))
	if q.Get("state") != "pushed-state" || q.Get("code") == "" {
		t.Fatalf("callback: %v", q)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {id},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}}
	status, tok, _ := env.tokenRequest("", "", form)
	if status != 200 || tok["scope"] != "openid profile" {
		t.Fatalf("exchange: %d %v", status, tok)
	}
}

// TestPARRequired: per client and for every client.
func TestPARRequired(t *testing.T) {
	env := newTestEnv(t, nil)
	strict, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{RequirePushedAuthorizationRequests: true}})
	lax, _ := env.client(storage.Client{})
	front := func(id string) map[string]string {
		return map[string]string{"client_id": id, "response_type": "code", "scope": "openid", "redirect_uri": rpCallback, "state": "s"}
	}
	b := env.browser()
	if q := callback(t, b.get(authURL(env, front(strict)))); q.Get("error") != "invalid_request" || q.Get("state") != "s" {
		t.Fatalf("strict client without PAR: %v", q)
	}
	if q := callback(t, b.get(authURL(env, front(lax)))); q.Get("code") == "" {
		t.Fatalf("lax client: %v", q)
	}
	_, body := env.push(strict, secret, parParams())
	if q := callback(t, b.get(authURL(env, map[string]string{"client_id": strict, "request_uri": body["request_uri"].(string)}))); q.Get("code") == "" {
		t.Fatalf("strict client with PAR: %v", q)
	}

	global := newTestEnv(t, func(c *op.Config) { c.RequirePAR = true })
	any, _ := global.client(storage.Client{})
	if q := callback(t, global.browser().get(authURL(global, front(any)))); q.Get("error") != "invalid_request" {
		t.Fatalf("global switch: %v", q)
	}
	_, doc := doReq(t, "GET", global.srv.URL+"/.well-known/oauth-authorization-server", nil, nil)
	if doc["pushed_authorization_request_endpoint"] != global.srv.URL+"/par" || doc["require_pushed_authorization_requests"] != true {
		t.Fatalf("discovery: %v %v", doc["pushed_authorization_request_endpoint"], doc["require_pushed_authorization_requests"])
	}
}

// TestPARWithClientAssertion: a private_key_jwt client pushes with an
// assertion whose audience is the PAR endpoint (RFC 9126 §2).
func TestPARWithClientAssertion(t *testing.T) {
	env := newTestEnv(t, nil)
	key := newECKey(t, "k1")
	id, _ := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{TokenEndpointAuthMethod: op.AuthPrivateKeyJWT, JWKS: jwksJSON(key)}})
	claims := env.assertionClaims(id)
	claims["aud"] = env.srv.URL + "/par"
	form := parParams("client_assertion_type", assertionType, "client_assertion", sign(t, key.alg, key.priv, "k1", claims))
	status, body := env.postForm("/par", form, nil)
	if status != 201 {
		t.Fatalf("push with private_key_jwt: %d %v", status, body)
	}
	// The PAR endpoint's URL is not an audience elsewhere (token endpoint).
	claims = env.assertionClaims(id)
	claims["aud"] = env.srv.URL + "/par"
	if status, _ := env.postForm("/token", ccWithAssertion(sign(t, key.alg, key.priv, "k1", claims)), nil); status != 401 {
		t.Fatalf("PAR audience accepted at the token endpoint: %d", status)
	}
}
