package op_test

import (
	"context"
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
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// JWT access tokens (RFC 9068) over real HTTP.

// jwtEnv declares resOrders with JWT access tokens and resMCP with opaque
// ones; "es" is a client whose own tokens are ES256 JWTs.
type jwtEnv struct {
	*resourceEnv
	es, esSecret string
}

func newJWTEnv(t *testing.T, mutate func(*op.Config)) *jwtEnv {
	re := newResourceEnv(t, func(c *op.Config) {
		c.Resources = []op.Resource{{URI: resOrders, JWTAccessTokens: true}, {URI: resMCP}}
		if mutate != nil {
			mutate(c)
		}
	})
	re.addKey(keys.ES256)
	e := &jwtEnv{resourceEnv: re}
	e.es, e.esSecret = re.client(storage.Client{Name: "ES client", Scope: []string{"openid", "profile", "offline_access", "orders:read"},
		ClientMetadata: storage.ClientMetadata{AccessTokenSignedResponseAlg: keys.ES256,
			GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}}})
	return e
}

// jwks is the provider's published key set.
func (e *jwtEnv) jwks() jose.JSONWebKeySet {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + op.PathJWKS)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		e.t.Fatal(err)
	}
	return set
}

// verify checks a JWT access token with the published keys only, as a
// resource server that does not introspect would, and returns its header
// and claims.
func (e *jwtEnv) verify(tok string) (jose.Header, map[string]any) {
	e.t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		e.t.Fatalf("not a JWS: %v (%q)", err, tok)
	}
	h := parsed.Headers[0]
	set := e.jwks()
	found := set.Key(h.KeyID)
	if len(found) != 1 {
		e.t.Fatalf("kid %q not published", h.KeyID)
	}
	var claims map[string]any
	if err := parsed.Claims(found[0].Key, &claims); err != nil {
		e.t.Fatalf("signature: %v", err)
	}
	return h, claims
}

// status presents tok as a bearer token at u.
func status(t *testing.T, u, tok string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// reencode returns tok with its header changed by edit and the original
// signature: what a tampered token looks like.
func reencode(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	json.Unmarshal(hb, &h)
	edit(h)
	nb, _ := json.Marshal(h)
	return base64.RawURLEncoding.EncodeToString(nb) + "." + parts[1] + "." + parts[2]
}

// TestJWTAccessTokenRefusals: negative cases first. A JWT access token
// that was tampered with (typ, alg), another JWT of ours (an ID token),
// an unsigned copy, a revoked or refreshed-away token and a DPoP-bound
// one sent as a bearer token are accepted nowhere: not at userinfo, not
// by Provider.Protect, not at introspection or by an Introspector.
func TestJWTAccessTokenRefusals(t *testing.T) {
	e := newJWTEnv(t, func(c *op.Config) { c.DPoP = true })
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	local := httptest.NewServer(e.p.Protect()(ok))
	defer local.Close()
	wide, wideSecret := e.client(storage.Client{Name: "Wide API", Scope: []string{"token_introspection", e.es, e.web}})
	in := &op.Introspector{Endpoint: e.srv.URL + op.PathIntrospect, ClientID: wide, ClientSecret: wideSecret, CacheTTL: -1}
	remote := httptest.NewServer(in.Protect()(ok))
	defer remote.Close()
	introspect := func(tok string) map[string]any {
		_, body, _ := e.formRequest(op.PathIntrospect, wide, wideSecret, url.Values{"token": {tok}})
		return body
	}
	refusedEverywhere := func(t *testing.T, what, tok string) {
		t.Helper()
		for name, u := range map[string]string{"userinfo": e.srv.URL + op.PathUserinfo, "Provider.Protect": local.URL, "Introspector": remote.URL} {
			if st := status(t, u, tok); st != 401 {
				t.Errorf("%s: %s answered %d, want 401", what, name, st)
			}
		}
		if body := introspect(tok); body["active"] != false {
			t.Errorf("%s: introspection %v", what, body)
		}
	}

	code := e.code(e.es, url.Values{"scope": {"openid profile offline_access"}})
	st, body := e.redeem(e.es, e.esSecret, code, nil)
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, body)
	}
	access, idToken, refresh := body["access_token"].(string), body["id_token"].(string), body["refresh_token"].(string)
	// The untouched token works everywhere.
	for _, u := range []string{e.srv.URL + op.PathUserinfo, local.URL, remote.URL} {
		if st := status(t, u, access); st != 200 {
			t.Fatalf("the JWT access token at %s: %d", u, st)
		}
	}

	refusedEverywhere(t, "typ JWT", reencode(t, access, func(h map[string]any) { h["typ"] = "JWT" }))
	refusedEverywhere(t, "no typ", reencode(t, access, func(h map[string]any) { delete(h, "typ") }))
	refusedEverywhere(t, "alg HS256", reencode(t, access, func(h map[string]any) { h["alg"] = "HS256" }))
	refusedEverywhere(t, "alg none", strings.Join(strings.Split(reencode(t, access, func(h map[string]any) { h["alg"] = "none" }), ".")[:2], ".")+".")
	refusedEverywhere(t, "an ID token", idToken)
	refusedEverywhere(t, "truncated", access[:len(access)-2])

	// Refresh: the new token is a JWT again; the old one is dead.
	st, body, _ = e.formRequest(op.PathToken, e.es, e.esSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, body)
	}
	refusedEverywhere(t, "refreshed away", access)
	next := body["access_token"].(string)
	if h, _ := e.verify(next); h.Algorithm != "ES256" {
		t.Errorf("refreshed token alg %s", h.Algorithm)
	}

	// Revocation through /revoke: introspection and the middlewares see it
	// at once. A resource server that only checks the signature would not
	// (README "JWT access tokens"): it still verifies until exp.
	if st, _, _ := e.formRequest(op.PathRevoke, e.es, e.esSecret, url.Values{"token": {next}}); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	refusedEverywhere(t, "revoked", next)
	if _, claims := e.verify(next); claims["jti"] == nil {
		t.Error("the revoked token no longer verifies offline: the trade-off test is wrong")
	}

	// A DPoP-bound JWT access token carries cnf.jkt and is refused as a
	// bearer token.
	k := newDPoPKey(t, e.clock.Now)
	st, body, _ = send(t, "POST", e.srv.URL+op.PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}},
		map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(e.es+":"+e.esSecret)), "DPoP": k.proof("POST", e.srv.URL+op.PathToken, "", "")})
	if st != 200 || body["token_type"] != "DPoP" {
		t.Fatalf("DPoP token: %d %v", st, body)
	}
	bound := body["access_token"].(string)
	_, claims := e.verify(bound)
	if cnf, _ := claims["cnf"].(map[string]any); cnf == nil || cnf["jkt"] != k.jkt() {
		t.Errorf("cnf %v, want jkt %s", claims["cnf"], k.jkt())
	}
	for name, u := range map[string]string{"Provider.Protect": local.URL, "Introspector": remote.URL} {
		if st := status(t, u, bound); st != 401 {
			t.Errorf("bound JWT as a bearer token at %s: %d", name, st)
		}
	}
	in.ResourceURL = remote.URL
	st, _, _ = send(t, "GET", remote.URL+"/r", nil, map[string]string{"Authorization": "DPoP " + bound, "DPoP": k.proof("GET", remote.URL+"/r", bound, "")})
	if st != 200 {
		t.Errorf("bound JWT with its proof at the Introspector: %d", st)
	}
	st, _, _ = send(t, "GET", local.URL+"/r", nil, map[string]string{"Authorization": "DPoP " + bound, "DPoP": k.proof("GET", e.srv.URL+"/r", bound, "")})
	if st != 200 {
		t.Errorf("bound JWT with its proof at Provider.Protect: %d", st)
	}

	// A client cannot register an alg that it could sign with itself, or none.
	for _, alg := range []string{"HS256", "none", "RS512"} {
		if _, _, err := op.NewClient(storage.Client{Name: "x", RedirectURIs: []string{rpCallback},
			ClientMetadata: storage.ClientMetadata{AccessTokenSignedResponseAlg: alg}}, e.sealer, e.clock.Now(), nil); err == nil {
			t.Errorf("access_token_signed_response_alg %s accepted", alg)
		}
	}
}

// TestJWTAccessTokenClaims: the token is a JWT exactly as RFC 9068 §2
// describes, per client (its alg) or per resource (RS256), verifiable with
// the published keys alone; a resource without JWTs gets opaque tokens.
func TestJWTAccessTokenClaims(t *testing.T) {
	e := newJWTEnv(t, nil)
	e.clock.Add(-time.Minute) // auth_time differs from iat
	code := e.code(e.es, url.Values{"scope": {"openid profile"}, "resource": {resOrders, resMCP}})
	e.clock.Add(time.Minute)
	st, body := e.redeem(e.es, e.esSecret, code, nil)
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, body)
	}
	h, claims := e.verify(body["access_token"].(string))
	if h.Algorithm != "ES256" || h.ExtraHeaders["typ"] != "at+jwt" || h.KeyID == "" {
		t.Errorf("header %+v", h)
	}
	now := e.clock.Now().Unix()
	want := map[string]any{
		"iss": e.srv.URL, "sub": "alice", "client_id": e.es, "scope": "openid profile",
		"aud": []any{resOrders, resMCP}, "iat": float64(now), "exp": float64(now + 3600), "auth_time": float64(now - 60),
	}
	for k, v := range want {
		if jsonString(claims[k]) != jsonString(v) {
			t.Errorf("%s = %v, want %v", k, claims[k], v)
		}
	}
	if jti, _ := claims["jti"].(string); len(jti) < 16 {
		t.Errorf("jti %q", claims["jti"])
	}
	if _, ok := claims["cnf"]; ok {
		t.Errorf("a bearer token has cnf: %v", claims["cnf"])
	}
	// Introspection describes it as it does an opaque token.
	_, info, _ := e.formRequest(op.PathIntrospect, e.rs, e.rsSecret, url.Values{"token": {body["access_token"].(string)}})
	if info["active"] != true || info["client_id"] != e.es || info["sub"] != "alice" {
		t.Errorf("introspection %v", info)
	}

	// Per resource: RS256 for resOrders, opaque for resMCP, from a client
	// that registered nothing.
	cc := func(resource string) string {
		st, body, _ := e.formRequest(op.PathToken, e.web, e.webSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}, "resource": {resource}})
		if st != 200 {
			t.Fatalf("client_credentials for %s: %d %v", resource, st, body)
		}
		return body["access_token"].(string)
	}
	h, claims = e.verify(cc(resOrders))
	if h.Algorithm != "RS256" || claims["aud"] != resOrders || claims["sub"] != e.web || claims["client_id"] != e.web || claims["scope"] != "orders:read" {
		t.Errorf("client_credentials JWT: %+v %v", h, claims)
	}
	if _, ok := claims["auth_time"]; ok {
		t.Error("a client's own token has auth_time")
	}
	if opaque := cc(resMCP); strings.Contains(opaque, ".") {
		t.Errorf("a token for a resource without JWTs is a JWT: %s", opaque)
	}
	// Without a resource, a JWT client's token is for the client itself.
	st, body, _ = e.formRequest(op.PathToken, e.es, e.esSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}})
	if st != 200 {
		t.Fatalf("client_credentials: %d %v", st, body)
	}
	if _, claims := e.verify(body["access_token"].(string)); claims["aud"] != e.es {
		t.Errorf("aud without a resource: %v", claims["aud"])
	}
}

// TestJWTAccessTokenExchange: a JWT access token is a subject token like
// any other, and the exchanged token of a JWT client is a JWT with the
// act claim of a delegation.
func TestJWTAccessTokenExchange(t *testing.T) {
	e := newExchangeEnv(t, func(c *op.Config) {
		c.Hooks.TokenExchange = func(_ context.Context, a *op.TokenExchangeArgs) error { return nil }
	})
	id, secret := e.client(storage.Client{Name: "JWT svc", Scope: []string{"openid", "profile"},
		ClientMetadata: storage.ClientMetadata{AccessTokenSignedResponseAlg: keys.RS256,
			GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials", "token_exchange"}}})
	subject, _ := e.userToken(id, secret, "openid", "profile")
	if !strings.Contains(subject, ".") {
		t.Fatalf("not a JWT: %s", subject)
	}
	actor, _ := e.userToken(e.svc, e.svcSecret, "openid")
	st, body := e.exchange(id, secret, with(subjectAccess(subject), "actor_token", actor, "actor_token_type", op.TokenTypeAccessToken, "audience", e.api))
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, body)
	}
	parts := strings.Split(body["access_token"].(string), ".")
	if len(parts) != 3 {
		t.Fatalf("exchanged token is not a JWT")
	}
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(pb, &claims)
	if claims["aud"] != e.api || claims["sub"] != "alice" || claims["client_id"] != id {
		t.Errorf("claims %v", claims)
	}
	if act, _ := claims["act"].(map[string]any); act == nil || act["sub"] != "alice" || act["client_id"] != e.svc {
		t.Errorf("act %v", claims["act"])
	}
}
