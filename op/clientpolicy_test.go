package op_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// TestPasswordGrantPerClient: with the grant switched on for the server, a
// client may use it only when it lists "password" in its grant types, and a
// public client only when the operator allowed it; a bare public client_id
// gets nothing (docs/security.md "Password grant").
func TestPasswordGrantPerClient(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.PasswordGrant = true })
	pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw-alice"}, "scope": {"openid"}}
	plain, plainSecret := env.client(storage.Client{})
	if st, body, _ := env.tokenRequest(plain, plainSecret, pw); st != 400 || body["error"] != "unauthorized_client" {
		t.Fatalf("client without the password grant: %d %v", st, body)
	}
	pub, _ := env.client(storage.Client{Type: storage.Public})
	form := url.Values{"client_id": {pub}}
	for k, v := range pw {
		form[k] = v
	}
	if st, body, _ := env.tokenRequest("", "", form); st != 400 || body["error"] != "unauthorized_client" {
		t.Fatalf("bare public client_id: %d %v", st, body)
	}
	// Registration refuses the password grant for a public client unless
	// the operator says so.
	if _, _, err := op.NewClient(storage.Client{Name: "p", Type: storage.Public, RedirectURIs: []string{rpCallback},
		ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"password"}}}, env.sealer, env.clock.Now(), nil); err == nil || !strings.Contains(err.Error(), "password grant") {
		t.Fatalf("public client with the password grant registered: %v", err)
	}
	allowedPub, _ := env.client(storage.Client{Type: storage.Public, ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "password"}}, PublicPasswordGrant: true})
	form.Set("client_id", allowedPub)
	if st, body, _ := env.tokenRequest("", "", form); st != 200 || body["access_token"] == nil {
		t.Fatalf("public client the operator allowed: %d %v", st, body)
	}
	conf, confSecret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "password"}}})
	if st, body, _ := env.tokenRequest(conf, confSecret, pw); st != 200 || body["access_token"] == nil {
		t.Fatalf("confidential client listing password: %d %v", st, body)
	}
	// Listing grant types restricts the client to them.
	if st, body, _ := env.tokenRequest(conf, confSecret, url.Values{"grant_type": {"client_credentials"}}); st != 400 || body["error"] != "unauthorized_client" {
		t.Fatalf("client_credentials for a client listing only password: %d %v", st, body)
	}
	if _, _, err := op.NewClient(storage.Client{Name: "x", RedirectURIs: []string{rpCallback}, ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"urn:bogus"}}}, env.sealer, env.clock.Now(), nil); err == nil {
		t.Fatal("unknown grant type registered")
	}
}

// TestRegisteredScopeBoundsEveryGrant: a client registered with "openid
// profile email" cannot get phone or address on any grant path; a client
// registered without a scope keeps django-oidc-provider's behaviour.
func TestRegisteredScopeBoundsEveryGrant(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.PasswordGrant = true })
	id, secret := env.client(storage.Client{Scope: []string{"openid", "profile", "email", "offline_access"},
		ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "refresh_token", "password", "client_credentials"}}})
	b := env.browser()
	authorize := func(client, scope string) url.Values {
		q := url.Values{"client_id": {client}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {scope}, "state": {"s"}}
		return callback(t, b.get(env.srv.URL+"/authorize?"+q.Encode()))
	}
	// Authorization.
	if got := authorize(id, "openid phone address"); got.Get("error") != "invalid_scope" {
		t.Fatalf("authorization beyond the registered scope: %v", got)
	}
	got := authorize(id, "openid profile email")
	if got.Get("code") == "" {
		t.Fatalf("authorization within the registered scope: %v", got)
	}
	// Password and client credentials.
	for name, form := range map[string]url.Values{
		"password":           {"grant_type": {"password"}, "username": {"alice"}, "password": {"pw-alice"}, "scope": {"openid phone"}},
		"client_credentials": {"grant_type": {"client_credentials"}, "scope": {"openid address"}},
	} {
		if st, body, _ := env.tokenRequest(id, secret, form); st != 400 || body["error"] != "invalid_scope" {
			t.Fatalf("%s beyond the registered scope: %d %v", name, st, body)
		}
	}
	// Refresh: a scope removed from the client is not issued any more.
	st, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")}, "redirect_uri": {rpCallback}})
	if st != 200 {
		t.Fatalf("code exchange: %d %v", st, body)
	}
	c, err := env.store.Client(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	c.Scope = []string{"openid", "profile"}
	if err := env.store.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	env.clock.Add(10 * 60e9) // past the client cache
	st, body, _ = env.tokenRequest(id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}})
	if st != 200 || body["scope"] != "openid profile" {
		t.Fatalf("refresh after the registered scope shrank: %d %v", st, body)
	}
	// A client without a registered scope: standard scopes, as before.
	open, _ := env.client(storage.Client{})
	if got := authorize(open, "openid phone address"); got.Get("code") == "" {
		t.Fatalf("client without a registered scope: %v", got)
	}
	if got := authorize(open, "openid write_everything"); got.Get("error") != "invalid_scope" {
		t.Fatalf("unknown scope for a client without a registered scope: %v", got)
	}
}
