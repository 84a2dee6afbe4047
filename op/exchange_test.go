package op_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// exchangeEnv has token exchange on, a service client "svc" that may use
// it, a resource server "api-b" (the audience, which introspects), and a
// web client "web" that may not.
type exchangeEnv struct {
	*testEnv
	svc, svcSecret, web, webSecret, api, apiSecret string
}

func newExchangeEnv(t *testing.T, mutate func(*op.Config)) *exchangeEnv {
	env := newTestEnv(t, func(c *op.Config) {
		c.TokenExchange = true
		if mutate != nil {
			mutate(c)
		}
	})
	e := &exchangeEnv{testEnv: env}
	e.svc, e.svcSecret = env.client(storage.Client{Name: "Service", Scope: []string{"openid", "profile", "email", "offline_access", "orders:read"},
		ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials", "token_exchange"}}})
	e.web, e.webSecret = env.client(storage.Client{Name: "Web"})
	e.api, e.apiSecret = env.client(storage.Client{Name: "API B", Scope: []string{"token_introspection"}})
	return e
}

// userToken runs a code flow of client id for alice and returns the token
// response (access token and ID token).
func (e *exchangeEnv) userToken(id, secret string, scope ...string) (access, idToken string) {
	e.t.Helper()
	relying := e.rp(id, secret, scope...)
	tok, err := relying.oauth.Exchange(e.t.Context(), e.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		e.t.Fatal(err)
	}
	idt, _ := tok.Extra("id_token").(string)
	return tok.AccessToken, idt
}

func (e *exchangeEnv) exchange(id, secret string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	form.Set("grant_type", op.GrantTypeTokenExchange)
	st, body, _ := e.formRequest(op.PathToken, id, secret, form)
	return st, body
}

func (e *exchangeEnv) introspect(token string) map[string]any {
	e.t.Helper()
	_, body, _ := e.formRequest(op.PathIntrospect, e.api, e.apiSecret, url.Values{"token": {token}})
	return body
}

func subjectAccess(tok string) url.Values {
	return url.Values{"subject_token": {tok}, "subject_token_type": {op.TokenTypeAccessToken}}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func TestTokenExchangeOffByDefault(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "token_exchange"}}})
	st, body, _ := env.formRequest(op.PathToken, id, secret, url.Values{"grant_type": {op.GrantTypeTokenExchange},
		"subject_token": {"x"}, "subject_token_type": {op.TokenTypeAccessToken}})
	if st != 400 || body["error"] != "unsupported_grant_type" {
		t.Errorf("token exchange while off: %d %v", st, body)
	}
	var doc map[string]any
	resp, _ := http.Get(env.srv.URL + op.PathDiscovery)
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if strings.Contains(jsonString(doc["grant_types_supported"]), "token-exchange") {
		t.Error("discovery lists token exchange while it is off")
	}
	on := newExchangeEnv(t, nil)
	resp, _ = http.Get(on.srv.URL + op.PathDiscovery)
	doc = nil
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if !strings.Contains(jsonString(doc["grant_types_supported"]), op.GrantTypeTokenExchange) {
		t.Errorf("discovery does not list token exchange while on: %v", doc["grant_types_supported"])
	}
}

// foreignIDToken is an ID token for alice from another provider (its own
// keys, its own issuer).
func foreignIDToken(t *testing.T) string {
	other := newTestEnv(t, nil)
	id, secret := other.client(storage.Client{})
	_, idt := (&exchangeEnv{testEnv: other}).userToken(id, secret)
	return idt
}

func TestTokenExchangeRefusals(t *testing.T) {
	e := newExchangeEnv(t, nil)
	own, _ := e.userToken(e.svc, e.svcSecret, "openid", "profile", "email")
	webToken, webIDToken := e.userToken(e.web, e.webSecret, "openid", "email")
	revoked, _ := e.userToken(e.svc, e.svcSecret, "openid")
	if st, _, _ := e.formRequest(op.PathRevoke, e.svc, e.svcSecret, url.Values{"token": {revoked}}); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	_, refresh := func() (string, string) {
		relying := e.rp(e.svc, e.svcSecret, "openid", "offline_access")
		tok, err := relying.oauth.Exchange(t.Context(), e.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken, tok.RefreshToken
	}()
	foreign := foreignIDToken(t)
	tests := []struct {
		name, id, secret string
		form             url.Values
		code             string
	}{
		{"client not registered for the grant", e.web, e.webSecret, subjectAccess(webToken), "unauthorized_client"},
		{"no subject token", e.svc, e.svcSecret, url.Values{"subject_token_type": {op.TokenTypeAccessToken}}, "invalid_request"},
		{"no subject token type", e.svc, e.svcSecret, url.Values{"subject_token": {own}}, "invalid_request"},
		{"unknown subject token", e.svc, e.svcSecret, subjectAccess("not-a-token"), "invalid_request"},
		{"revoked subject token", e.svc, e.svcSecret, subjectAccess(revoked), "invalid_request"},
		{"truncated subject token", e.svc, e.svcSecret, subjectAccess(own[:len(own)-1]), "invalid_request"},
		{"refresh token as an access token", e.svc, e.svcSecret, subjectAccess(refresh), "invalid_request"},
		{"foreign ID token", e.svc, e.svcSecret, url.Values{"subject_token": {foreign}, "subject_token_type": {op.TokenTypeIDToken}}, "invalid_request"},
		{"foreign JWT from an untrusted issuer", e.svc, e.svcSecret, url.Values{"subject_token": {foreign}, "subject_token_type": {op.TokenTypeJWT}}, "invalid_request"},
		{"unsupported subject token type", e.svc, e.svcSecret, url.Values{"subject_token": {own}, "subject_token_type": {"urn:ietf:params:oauth:token-type:saml2"}}, "invalid_request"},
		{"another client's access token (impersonation needs a policy)", e.svc, e.svcSecret, subjectAccess(webToken), "invalid_request"},
		{"another client's ID token", e.svc, e.svcSecret, url.Values{"subject_token": {webIDToken}, "subject_token_type": {op.TokenTypeIDToken}}, "invalid_request"},
		{"delegation needs a policy", e.svc, e.svcSecret, with(subjectAccess(own), "actor_token", own, "actor_token_type", op.TokenTypeAccessToken), "invalid_request"},
		{"actor token without its type", e.svc, e.svcSecret, with(subjectAccess(own), "actor_token", own), "invalid_request"},
		{"scope wider than the subject's", e.svc, e.svcSecret, with(subjectAccess(own), "scope", "openid phone"), "invalid_scope"},
		{"unknown audience", e.svc, e.svcSecret, with(subjectAccess(own), "audience", "nobody"), "invalid_target"},
		{"resource URI without a policy", e.svc, e.svcSecret, with(subjectAccess(own), "resource", "https://api.example/orders"), "invalid_target"},
		{"relative resource", e.svc, e.svcSecret, with(subjectAccess(own), "resource", "/orders"), "invalid_target"},
		{"refresh token requested", e.svc, e.svcSecret, with(subjectAccess(own), "requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), "invalid_request"},
		{"one unknown audience of two", e.svc, e.svcSecret, url.Values{"subject_token": {own}, "subject_token_type": {op.TokenTypeAccessToken}, "audience": {e.api, "nobody"}}, "invalid_target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := e.exchange(tc.id, tc.secret, tc.form)
			if st != 400 || body["error"] != tc.code {
				t.Errorf("got %d %v, want 400 %s", st, body, tc.code)
			}
		})
	}
	t.Run("expired subject token", func(t *testing.T) {
		e.clock.Add(time.Hour + time.Second)
		if st, body := e.exchange(e.svc, e.svcSecret, subjectAccess(own)); st != 400 || body["error"] != "invalid_request" {
			t.Errorf("got %d %v", st, body)
		}
	})
}

// The default policy: a client trades its own access token for one with
// another audience and a narrower scope.
func TestTokenExchangeOwnToken(t *testing.T) {
	e := newExchangeEnv(t, nil)
	own, _ := e.userToken(e.svc, e.svcSecret, "openid", "profile", "email")
	e.clock.Add(10 * time.Minute)
	st, body := e.exchange(e.svc, e.svcSecret, with(subjectAccess(own), "audience", e.api, "scope", "openid email"))
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, body)
	}
	if body["issued_token_type"] != op.TokenTypeAccessToken || body["token_type"] != "Bearer" || body["scope"] != "openid email" {
		t.Errorf("response %v", body)
	}
	// The new token never outlives the subject token (1 h from the first
	// flow, 50 min left).
	if exp, _ := body["expires_in"].(float64); exp > 3000 || exp < 2990 {
		t.Errorf("expires_in %v, want the subject's remaining 3000 s", body["expires_in"])
	}
	tok := body["access_token"].(string)
	info := e.introspect(tok)
	if info["active"] != true || info["sub"] != "alice" || info["scope"] != "openid email" || info["client_id"] != e.svc {
		t.Errorf("introspection of the exchanged token: %v", info)
	}
	if aud, _ := info["aud"].([]any); len(aud) != 1 || aud[0] != e.api {
		t.Errorf("aud %v, want [%s]", info["aud"], e.api)
	}
	if _, ok := info["act"]; ok {
		t.Errorf("an exchange without an actor has act: %v", info["act"])
	}
	if st := e.userinfoStatus(tok); st != 200 {
		t.Errorf("userinfo with the exchanged token: %d", st)
	}
	// The audience may introspect though the token's client is not in its
	// scope; the subject token stays as it was.
	if old := e.introspect(own); old["active"] != false {
		t.Errorf("the audience sees the subject token, not addressed to it: %v", old)
	}
	// The exchanged token belongs to the subject's login session: ending
	// the session (logout) ends it too.
	subjectTok, subjectGrant, err := e.store.Token(t.Context(), op.TokenKey(own), e.clock.Now())
	if err != nil || subjectGrant.SessionID == "" {
		t.Fatalf("subject token: %v %+v", err, subjectTok)
	}
	if err := e.store.RevokeSessionGrants(t.Context(), subjectGrant.SessionID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if info := e.introspect(tok); info["active"] != false {
		t.Errorf("exchanged token after its session ended: %v", info)
	}
}

// With a policy hook: impersonation of another client's token, delegation
// with an actor token (the act claim), a chain of delegations (nested
// act), and the hook's view of the request.
// The actor's token, from client credentials, is stored or stateless
// (Config.StatelessClientCredentials).
func TestTokenExchangeDelegation(t *testing.T) {
	for _, statelessTokens := range []bool{false, true} {
		t.Run(fmt.Sprint("stateless=", statelessTokens), func(t *testing.T) { testTokenExchangeDelegation(t, statelessTokens) })
	}
}

func testTokenExchangeDelegation(t *testing.T, statelessTokens bool) {
	var seen []*op.TokenExchangeArgs
	e := newExchangeEnv(t, func(c *op.Config) {
		c.StatelessClientCredentials = statelessTokens
		c.Hooks.TokenExchange = func(ctx context.Context, a *op.TokenExchangeArgs) error {
			seen = append(seen, a)
			if a.Actor == nil && a.Subject.ClientID != a.Client.ID {
				return errors.New("impersonation only by the token's own client")
			}
			if slices.Contains(a.Scope, "email") {
				a.Scope = slices.DeleteFunc(slices.Clone(a.Scope), func(s string) bool { return s == "email" })
			}
			return nil
		}
	})
	webToken, _ := e.userToken(e.web, e.webSecret, "openid", "email")
	// The service's own token, from client credentials: the actor.
	st, cc, _ := e.formRequest(op.PathToken, e.svc, e.svcSecret, url.Values{"grant_type": {"client_credentials"}})
	if st != 200 {
		t.Fatalf("client credentials: %d %v", st, cc)
	}
	actor := cc["access_token"].(string)
	if strings.HasPrefix(actor, "cc1_") != statelessTokens {
		t.Fatalf("actor token %q", actor)
	}
	actorForm := func(subject string) url.Values {
		return with(subjectAccess(subject), "actor_token", actor, "actor_token_type", op.TokenTypeAccessToken, "audience", e.api)
	}

	if st, body := e.exchange(e.svc, e.svcSecret, subjectAccess(webToken)); st != 400 || body["error"] != "invalid_request" {
		t.Fatalf("impersonation the hook refuses: %d %v", st, body)
	}
	st, body := e.exchange(e.svc, e.svcSecret, actorForm(webToken))
	if st != 200 {
		t.Fatalf("delegation: %d %v", st, body)
	}
	last := seen[len(seen)-1]
	if last.Client.ID != e.svc || last.Subject.UserID != "alice" || last.Subject.ClientID != e.web ||
		last.Actor == nil || last.Actor.Subject != e.svc || !slices.Equal(last.Audience, []string{e.api}) {
		t.Errorf("hook args: %+v subject %+v actor %+v", last, last.Subject, last.Actor)
	}
	delegated := body["access_token"].(string)
	if body["scope"] != "openid" {
		t.Errorf("the hook's narrowed scope was not applied: %v", body["scope"])
	}
	info := e.introspect(delegated)
	act, _ := info["act"].(map[string]any)
	if info["sub"] != "alice" || act["sub"] != e.svc || act["client_id"] != e.svc || act["iss"] != e.srv.URL {
		t.Fatalf("delegated token: %v", info)
	}
	// A second hop: the delegated token exchanged again with an actor keeps
	// the first actor nested (RFC 8693 §4.1).
	st, body = e.exchange(e.svc, e.svcSecret, actorForm(delegated))
	if st != 200 {
		t.Fatalf("second delegation: %d %v", st, body)
	}
	info = e.introspect(body["access_token"].(string))
	act, _ = info["act"].(map[string]any)
	prior, _ := act["act"].(map[string]any)
	if act["sub"] != e.svc || prior["sub"] != e.svc {
		t.Errorf("nested act: %v", info["act"])
	}
	// Revoking the subject's grant (the user's logout) does not revive
	// anything: an exchanged token of a revoked subject is refused.
	if st, _, _ := e.formRequest(op.PathRevoke, e.web, e.webSecret, url.Values{"token": {webToken}}); st != 200 {
		t.Fatal("revoke")
	}
	if st, body := e.exchange(e.svc, e.svcSecret, actorForm(webToken)); st != 400 || body["error"] != "invalid_request" {
		t.Errorf("exchange of a revoked subject with a policy: %d %v", st, body)
	}
}

// A JWT from a trusted issuer: verified with its keys, and its subject
// mapped to a local user by the hook.
func TestTokenExchangeTrustedIssuer(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const partner = "https://partner.example"
	e := newExchangeEnv(t, func(c *op.Config) {
		c.TokenExchangeIssuers = []op.TrustedIssuer{{Issuer: partner,
			Keys: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "p1", Algorithm: "ES256"}}}}}
		c.Hooks.TokenExchange = func(ctx context.Context, a *op.TokenExchangeArgs) error {
			if a.Subject.Issuer == partner && a.Subject.Subject == "partner-alice" {
				a.UserID = "alice"
			}
			return nil
		}
	})
	sign := func(k *ecdsa.PrivateKey, claims map[string]any) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", "p1"))
		b, _ := json.Marshal(claims)
		obj, _ := s.Sign(b)
		out, _ := obj.CompactSerialize()
		return out
	}
	now := e.clock.Now()
	good := map[string]any{"iss": partner, "sub": "partner-alice", "exp": now.Add(5 * time.Minute).Unix()}
	form := func(jwt string) url.Values {
		return url.Values{"subject_token": {jwt}, "subject_token_type": {op.TokenTypeJWT}, "scope": {"openid email"}}
	}
	bad := map[string]map[string]any{
		"expired":          {"iss": partner, "sub": "partner-alice", "exp": now.Add(-time.Second).Unix()},
		"no exp":           {"iss": partner, "sub": "partner-alice"},
		"unmapped user":    {"iss": partner, "sub": "partner-mallory", "exp": now.Add(time.Minute).Unix()},
		"untrusted issuer": {"iss": "https://evil.example", "sub": "partner-alice", "exp": now.Add(time.Minute).Unix()},
	}
	for name, claims := range bad {
		if st, body := e.exchange(e.svc, e.svcSecret, form(sign(key, claims))); st != 400 || body["error"] != "invalid_request" {
			t.Errorf("%s: %d %v", name, st, body)
		}
	}
	if st, body := e.exchange(e.svc, e.svcSecret, form(sign(other, good))); st != 400 || body["error"] != "invalid_request" {
		t.Errorf("signed by another key: %d %v", st, body)
	}
	st, body := e.exchange(e.svc, e.svcSecret, form(sign(key, good)))
	if st != 200 {
		t.Fatalf("trusted JWT: %d %v", st, body)
	}
	if exp, _ := body["expires_in"].(float64); exp > 300 {
		t.Errorf("expires_in %v outlives the subject JWT", exp)
	}
	if st := e.userinfoStatus(body["access_token"].(string)); st != 200 {
		t.Errorf("userinfo with a token for the mapped user: %d", st)
	}
	// Our own ID token, verified with our keys, is a subject too when the
	// policy allows it; its subject is the user.
	_, idt := e.userToken(e.svc, e.svcSecret, "openid", "email")
	st, body = e.exchange(e.svc, e.svcSecret, url.Values{"subject_token": {idt}, "subject_token_type": {op.TokenTypeIDToken}, "scope": {"openid"}, "audience": {e.api}})
	if st != 200 {
		t.Fatalf("ID token subject: %d %v", st, body)
	}
	if info := e.introspect(body["access_token"].(string)); info["sub"] != "alice" {
		t.Errorf("token from an ID token: %v", info)
	}
}

// TestTokenExchangeBoundedByRegisteredScope: without a scope parameter the
// exchanged token gets the subject's scope, but never beyond what the
// exchanging client is registered for (docs/security.md "Client policy").
func TestTokenExchangeBoundedByRegisteredScope(t *testing.T) {
	e := newExchangeEnv(t, nil)
	own, _ := e.userToken(e.svc, e.svcSecret, "openid", "profile", "email")
	c, err := e.store.Client(t.Context(), e.svc)
	if err != nil {
		t.Fatal(err)
	}
	c.Scope = []string{"openid", "profile"}
	if err := e.store.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	e.p.ForgetClient(e.svc)
	st, body := e.exchange(e.svc, e.svcSecret, with(subjectAccess(own), "audience", e.api))
	if st != 200 || body["scope"] != "openid profile" {
		t.Fatalf("exchange after the registered scope shrank: %d %v", st, body)
	}
	if st, body := e.exchange(e.svc, e.svcSecret, with(subjectAccess(own), "audience", e.api, "scope", "openid email")); st != 400 || body["error"] != "invalid_scope" {
		t.Fatalf("exchange asking beyond the registered scope: %d %v", st, body)
	}
}
