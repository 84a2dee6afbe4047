package op_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// dpopKey is a client's DPoP key pair.
type dpopKey struct {
	t   *testing.T
	key *ecdsa.PrivateKey
	now func() time.Time
}

func newDPoPKey(t *testing.T, now func() time.Time) *dpopKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{t: t, key: k, now: now}
}

// jkt is the key's RFC 7638 thumbprint.
func (k *dpopKey) jkt() string {
	tp, _ := (&jose.JSONWebKey{Key: k.key.Public()}).Thumbprint(crypto.SHA256)
	return base64.RawURLEncoding.EncodeToString(tp)
}

// proof is a DPoP proof for method and htu; token, when set, is hashed into
// ath; nonce, when set, is included.
func (k *dpopKey) proof(method, htu, token, nonce string) string {
	k.t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithHeader("typ", "dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.key}, opts)
	if err != nil {
		k.t.Fatal(err)
	}
	c := map[string]any{"jti": rand.Text(), "htm": method, "htu": htu, "iat": k.now().Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	b, _ := json.Marshal(c)
	obj, err := s.Sign(b)
	if err != nil {
		k.t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

// send makes a request with headers and an optional form body and returns
// the status, JSON body and headers.
func send(t *testing.T, method, u string, form url.Values, hdr map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func dpopEnv(t *testing.T, mutate func(*op.Config)) *testEnv {
	return newTestEnv(t, func(c *op.Config) {
		c.DPoP = true
		if mutate != nil {
			mutate(c)
		}
	})
}

// ccToken gets a client-credentials token, with a proof by k when k is set.
func (env *testEnv) ccToken(id, secret string, k *dpopKey) (int, map[string]any, http.Header) {
	env.t.Helper()
	hdr := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
	if k != nil {
		hdr["DPoP"] = k.proof("POST", env.srv.URL+op.PathToken, "", "")
	}
	return send(env.t.(*testing.T), "POST", env.srv.URL+op.PathToken, url.Values{"grant_type": {"client_credentials"}}, hdr)
}

func TestDPoPOffByDefault(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	_, body, _ := env.ccToken(id, secret, newDPoPKey(t, env.clock.Now))
	if body["token_type"] != "Bearer" {
		t.Errorf("with DPoP off a proof is ignored: token_type %v", body["token_type"])
	}
	resp, _ := http.Get(env.srv.URL + op.PathDiscovery)
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if _, ok := doc["dpop_signing_alg_values_supported"]; ok {
		t.Error("discovery advertises DPoP while it is off")
	}
	on := dpopEnv(t, nil)
	resp, _ = http.Get(on.srv.URL + op.PathDiscovery)
	doc = nil
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if algs := jsonString(doc["dpop_signing_alg_values_supported"]); !strings.Contains(algs, "ES256") || strings.Contains(algs, "HS256") || strings.Contains(algs, "none") {
		t.Errorf("dpop_signing_alg_values_supported = %s", algs)
	}
}

func TestDPoPTokenEndpoint(t *testing.T) {
	env := dpopEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api", "token_introspection"}})
	k := newDPoPKey(t, env.clock.Now)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	form := url.Values{"grant_type": {"client_credentials"}}
	tokenURL := env.srv.URL + op.PathToken
	for name, proof := range map[string]string{
		"proof for another URL":    k.proof("POST", env.srv.URL+op.PathUserinfo, "", ""),
		"proof for another method": k.proof("GET", tokenURL, "", ""),
		"proof for another host":   k.proof("POST", "https://evil.example"+op.PathToken, "", ""),
		"not a proof":              "eyJhbGciOiJub25lIn0.e30.",
	} {
		st, body, _ := send(t, "POST", tokenURL, form, map[string]string{"Authorization": basic, "DPoP": proof})
		if st != 400 || body["error"] != "invalid_dpop_proof" {
			t.Errorf("%s: %d %v", name, st, body)
		}
	}
	proof := k.proof("POST", tokenURL, "", "")
	st, body, _ := send(t, "POST", tokenURL, form, map[string]string{"Authorization": basic, "DPoP": proof})
	if st != 200 || body["token_type"] != "DPoP" {
		t.Fatalf("token with a proof: %d %v", st, body)
	}
	if st, body, _ := send(t, "POST", tokenURL, form, map[string]string{"Authorization": basic, "DPoP": proof}); st != 400 || body["error"] != "invalid_dpop_proof" {
		t.Errorf("replayed proof: %d %v", st, body)
	}
	// Introspection shows the binding (RFC 9449 §6.2).
	rsID, rsSecret := env.client(storage.Client{Name: "RS", Scope: []string{"token_introspection", id}})
	_, info, _ := env.formRequest(op.PathIntrospect, rsID, rsSecret, url.Values{"token": {body["access_token"].(string)}})
	cnf, _ := info["cnf"].(map[string]any)
	if info["token_type"] != "DPoP" || cnf["jkt"] != k.jkt() {
		t.Errorf("introspection of a bound token: %v", info)
	}
}

// TestDPoPReplayAcrossNodes: a proof accepted by one node is refused by
// another node sharing the storage (and the issuer).
func TestDPoPReplayAcrossNodes(t *testing.T) {
	env := dpopEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	n2, err := op.New(t.Context(), op.Config{Issuer: env.srv.URL, Storage: env.store, Users: env.users, Sealer: env.sealer, Now: env.clock.Now, DPoP: true})
	if err != nil {
		t.Fatal(err)
	}
	node2 := httptest.NewServer(n2)
	defer node2.Close()
	k := newDPoPKey(t, env.clock.Now)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	proof := k.proof("POST", env.srv.URL+op.PathToken, "", "")
	form := url.Values{"grant_type": {"client_credentials"}}
	if st, body, _ := send(t, "POST", env.srv.URL+op.PathToken, form, map[string]string{"Authorization": basic, "DPoP": proof}); st != 200 {
		t.Fatalf("node 1: %d %v", st, body)
	}
	if st, body, _ := send(t, "POST", node2.URL+op.PathToken, form, map[string]string{"Authorization": basic, "DPoP": proof}); st != 400 || body["error"] != "invalid_dpop_proof" {
		t.Fatalf("replay on node 2: %d %v", st, body)
	}
}

func TestDPoPBoundTokenAtResources(t *testing.T) {
	env := dpopEnv(t, nil)
	// A user's bound token from a code flow, and a resource server that
	// introspects.
	id, secret := env.client(storage.Client{})
	rsID, rsSecret := env.client(storage.Client{Name: "RS", Scope: []string{"token_introspection", id}})
	k := newDPoPKey(t, env.clock.Now)
	other := newDPoPKey(t, env.clock.Now)
	code := env.browser().authorize(env.srv.URL + op.PathAuthorize + "?" + url.Values{
		"client_id": {id}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {"openid email"}, "state": {"s"},
	}.Encode()).Get("code")
	st, tok, _ := send(t, "POST", env.srv.URL+op.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}},
		map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)), "DPoP": k.proof("POST", env.srv.URL+op.PathToken, "", "")})
	if st != 200 || tok["token_type"] != "DPoP" {
		t.Fatalf("code exchange with DPoP: %d %v", st, tok)
	}
	access := tok["access_token"].(string)

	api := http.NewServeMux()
	api.Handle("/api/me", env.p.Protect("openid")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := op.TokenInfoFrom(r.Context())
		io.WriteString(w, `{"jkt":"`+info.JKT+`"}`)
	})))
	local := httptest.NewServer(api)
	defer local.Close()
	in := &op.Introspector{Endpoint: env.srv.URL + op.PathIntrospect, ClientID: rsID, ClientSecret: rsSecret, CacheTTL: -1}
	remoteMux := http.NewServeMux()
	remoteMux.Handle("/api/me", in.Protect("openid")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := op.TokenInfoFrom(r.Context())
		io.WriteString(w, `{"jkt":"`+info.JKT+`"}`)
	})))
	remote := httptest.NewServer(remoteMux)
	defer remote.Close()
	in.ResourceURL = remote.URL

	resources := []struct {
		name, url, htu, method string
	}{
		{"userinfo", env.srv.URL + op.PathUserinfo, env.srv.URL + op.PathUserinfo, "GET"},
		// Provider.Protect names the issuer's origin with the request path.
		{"Provider.Protect", local.URL + "/api/me", env.srv.URL + "/api/me", "GET"},
		{"Introspector.Protect", remote.URL + "/api/me", remote.URL + "/api/me", "GET"},
	}
	for _, res := range resources {
		t.Run(res.name, func(t *testing.T) {
			refuse := func(what string, hdr map[string]string, wantCode string) {
				t.Helper()
				st, body, h := send(t, res.method, res.url, nil, hdr)
				if st != 401 || (wantCode != "" && body["error"] != wantCode) {
					t.Errorf("%s: %d %v (WWW-Authenticate %q), want 401 %s", what, st, body, h.Values("WWW-Authenticate"), wantCode)
				}
			}
			refuse("bound token as a bearer token", map[string]string{"Authorization": "Bearer " + access}, "invalid_token")
			refuse("bound token without a proof", map[string]string{"Authorization": "DPoP " + access}, "invalid_dpop_proof")
			refuse("proof for another URL", map[string]string{"Authorization": "DPoP " + access, "DPoP": k.proof(res.method, res.htu+"/other", access, "")}, "invalid_dpop_proof")
			refuse("proof for another method", map[string]string{"Authorization": "DPoP " + access, "DPoP": k.proof("POST", res.htu, access, "")}, "invalid_dpop_proof")
			refuse("proof without ath", map[string]string{"Authorization": "DPoP " + access, "DPoP": k.proof(res.method, res.htu, "", "")}, "invalid_dpop_proof")
			refuse("proof hashing another token", map[string]string{"Authorization": "DPoP " + access, "DPoP": k.proof(res.method, res.htu, "another", "")}, "invalid_dpop_proof")
			refuse("proof by another key", map[string]string{"Authorization": "DPoP " + access, "DPoP": other.proof(res.method, res.htu, access, "")}, "invalid_token")
			good := k.proof(res.method, res.htu, access, "")
			st, body, _ := send(t, res.method, res.url, nil, map[string]string{"Authorization": "DPoP " + access, "DPoP": good})
			if st != 200 {
				t.Fatalf("bound token with its proof: %d %v", st, body)
			}
			if res.name != "userinfo" && body["jkt"] != k.jkt() {
				t.Errorf("TokenInfo.JKT = %v", body["jkt"])
			}
			refuse("replayed proof", map[string]string{"Authorization": "DPoP " + access, "DPoP": good}, "invalid_dpop_proof")
		})
	}
}

// TestDPoPCodeAndRefreshBinding: dpop_jkt at the authorization endpoint
// binds the code (RFC 9449 §10), and a public client's refresh token is
// bound to its key (§5).
func TestDPoPCodeAndRefreshBinding(t *testing.T) {
	env := dpopEnv(t, nil)
	id, _ := env.client(storage.Client{Type: storage.Public, Scope: []string{"openid", "offline_access"}})
	k, other := newDPoPKey(t, env.clock.Now), newDPoPKey(t, env.clock.Now)
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {id}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {"openid offline_access"},
		"state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	bad := env.browser().authorize(env.srv.URL + op.PathAuthorize + "?" + with(q, "dpop_jkt", "not-a-thumbprint").Encode())
	if bad.Get("error") != "invalid_request" {
		t.Errorf("malformed dpop_jkt: %v", bad)
	}
	code := env.browser().authorize(env.srv.URL + op.PathAuthorize + "?" + with(q, "dpop_jkt", k.jkt()).Encode()).Get("code")
	tokenURL := env.srv.URL + op.PathToken
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "client_id": {id}, "code_verifier": {verifier}}
	if st, body, _ := send(t, "POST", tokenURL, form, nil); st != 400 || body["error"] != "invalid_dpop_proof" {
		t.Errorf("dpop_jkt code without a proof: %d %v", st, body)
	}
	if st, body, _ := send(t, "POST", tokenURL, form, map[string]string{"DPoP": other.proof("POST", tokenURL, "", "")}); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("dpop_jkt code with another key: %d %v", st, body)
	}
	st, tok, _ := send(t, "POST", tokenURL, form, map[string]string{"DPoP": k.proof("POST", tokenURL, "", "")})
	if st != 200 || tok["token_type"] != "DPoP" || tok["refresh_token"] == nil {
		t.Fatalf("dpop_jkt code with its key: %d %v", st, tok)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "client_id": {id}}
	if st, body, _ := send(t, "POST", tokenURL, refresh, nil); st != 400 || body["error"] != "invalid_dpop_proof" {
		t.Errorf("bound refresh token without a proof: %d %v", st, body)
	}
	if st, body, _ := send(t, "POST", tokenURL, refresh, map[string]string{"DPoP": other.proof("POST", tokenURL, "", "")}); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("bound refresh token with another key: %d %v", st, body)
	}
	st, next, _ := send(t, "POST", tokenURL, refresh, map[string]string{"DPoP": k.proof("POST", tokenURL, "", "")})
	if st != 200 || next["token_type"] != "DPoP" {
		t.Fatalf("bound refresh token with its key: %d %v", st, next)
	}
	// The rotated refresh token is still bound.
	refresh.Set("refresh_token", next["refresh_token"].(string))
	if st, body, _ := send(t, "POST", tokenURL, refresh, nil); st != 400 || body["error"] != "invalid_dpop_proof" {
		t.Errorf("rotated refresh token without a proof: %d %v", st, body)
	}
}

func TestDPoPRequiredByClient(t *testing.T) {
	env := dpopEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api"}, ClientMetadata: storage.ClientMetadata{DPoPBoundAccessTokens: true}})
	if st, body, _ := env.ccToken(id, secret, nil); st != 400 || body["error"] != "invalid_dpop_proof" {
		t.Errorf("dpop_bound_access_tokens client without a proof: %d %v", st, body)
	}
	if st, body, _ := env.ccToken(id, secret, newDPoPKey(t, env.clock.Now)); st != 200 || body["token_type"] != "DPoP" {
		t.Errorf("with a proof: %d %v", st, body)
	}
}

func TestDPoPNonce(t *testing.T) {
	env := dpopEnv(t, func(c *op.Config) { c.DPoPRequireNonce = true })
	id, secret := env.client(storage.Client{Scope: []string{"openid", "api"}})
	k := newDPoPKey(t, env.clock.Now)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	tokenURL := env.srv.URL + op.PathToken
	form := url.Values{"grant_type": {"client_credentials"}}
	st, body, h := send(t, "POST", tokenURL, form, map[string]string{"Authorization": basic, "DPoP": k.proof("POST", tokenURL, "", "")})
	nonce := h.Get("DPoP-Nonce")
	if st != 400 || body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("proof without a nonce: %d %v nonce %q", st, body, nonce)
	}
	if st, body, _ := send(t, "POST", tokenURL, form, map[string]string{"Authorization": basic, "DPoP": k.proof("POST", tokenURL, "", "forged")}); st != 400 || body["error"] != "use_dpop_nonce" {
		t.Errorf("forged nonce: %d %v", st, body)
	}
	st, body, _ = send(t, "POST", tokenURL, form, map[string]string{"Authorization": basic, "DPoP": k.proof("POST", tokenURL, "", nonce)})
	if st != 200 || body["token_type"] != "DPoP" {
		t.Fatalf("proof with the nonce: %d %v", st, body)
	}
	// Another node (same system secret) accepts the nonce: nonces are
	// stateless MACs.
	n2, err := op.New(t.Context(), op.Config{Issuer: env.srv.URL, Storage: env.store, Users: env.users, Sealer: env.sealer, Now: env.clock.Now, DPoP: true, DPoPRequireNonce: true})
	if err != nil {
		t.Fatal(err)
	}
	node2 := httptest.NewServer(n2)
	defer node2.Close()
	if st, body, _ := send(t, "POST", node2.URL+op.PathToken, form, map[string]string{"Authorization": basic, "DPoP": k.proof("POST", tokenURL, "", nonce)}); st != 200 {
		t.Errorf("node 2 with node 1's nonce: %d %v", st, body)
	}
	// An expired nonce is refused with a new one.
	env.clock.Add(6 * time.Minute)
	st, body, h = send(t, "POST", tokenURL, form, map[string]string{"Authorization": basic, "DPoP": k.proof("POST", tokenURL, "", nonce)})
	if st != 400 || body["error"] != "use_dpop_nonce" || h.Get("DPoP-Nonce") == nonce {
		t.Errorf("expired nonce: %d %v new nonce %q", st, body, h.Get("DPoP-Nonce"))
	}
}
