package op_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

func stateless(c *op.Config) { c.StatelessClientCredentials = true }

// Stateless client_credentials tokens over real HTTP, with x/oauth2 as the
// client, on a SQLite file shared by two providers (two nodes, or one
// restarted): nothing stored at issue; introspection, revocation on the
// other node, expiry, client deletion and forged tokens behave as for a
// stored token.
func TestStatelessClientCredentials(t *testing.T) {
	node1 := newSQLiteTestEnv(t, stateless)
	node2 := newTestEnvOn(t, node1.store, stateless)
	ctx := t.Context()
	app, appSecret := node1.client(storage.Client{Scope: []string{"read", "write"}})
	other, otherSecret := node1.client(storage.Client{Scope: []string{"read"}})
	rs, rsSecret := node1.client(storage.Client{Name: "RS", Scope: []string{"token_introspection", app, other}})

	cc := clientcredentials.Config{ClientID: app, ClientSecret: appSecret, TokenURL: node1.srv.URL + "/token", Scopes: []string{"read"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "cc1_") || tok.TokenType != "Bearer" || tok.RefreshToken != "" || tok.Extra("scope") != "read" {
		t.Fatalf("token %+v (scope %v)", tok, tok.Extra("scope"))
	}
	if gs, err := node1.store.ListGrants(ctx, storage.GrantQuery{ClientID: app}, node1.clock.Now()); err != nil || len(gs) != 0 {
		t.Fatalf("grants stored for a stateless token: %v, %v", gs, err)
	}

	introspect := func(env *testEnv, token string) map[string]any {
		t.Helper()
		resp, m := doReq(t, "POST", env.srv.URL+"/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(rs, rsSecret)})
		if resp.StatusCode != 200 {
			t.Fatalf("introspect: %d %v", resp.StatusCode, m)
		}
		return m
	}
	for _, env := range []*testEnv{node1, node2} {
		m := introspect(env, tok.AccessToken)
		if m["active"] != true || m["client_id"] != app || m["scope"] != "read" || m["token_type"] != "Bearer" ||
			m["iss"] != env.srv.URL || m["sub"] != app || m["exp"] == nil || m["iat"] == nil {
			t.Fatalf("introspection on %s: %v", env.srv.URL, m)
		}
	}

	// Forged and damaged tokens are unknown tokens.
	body, sig, _ := strings.Cut(strings.TrimPrefix(tok.AccessToken, "cc1_"), ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, bad := range []string{
		"cc1_" + flip(body, 5) + "." + sig,      // the payload
		"cc1_" + body + "." + flip(sig, 3),      // the MAC
		"cc1_" + body[:len(body)-4] + "." + sig, // cut short
		"cc1_" + body + "AAAA." + sig,           // longer
		"cc1_" + body,                           // no MAC
		"cc1_" + body + "." + sig + "." + sig,   // two
		"cc1_" + body + "." + sig + "=",         // padding
		strings.Replace(tok.AccessToken, "cc1_", "cc2_", 1),
		"cc1_",
	} {
		if m := introspect(node1, bad); m["active"] != false || len(m) != 1 {
			t.Errorf("introspection of %q: %v", bad, m)
		}
	}

	// Userinfo refuses it, as it does a stored client_credentials token.
	req, _ := http.NewRequest("GET", node1.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("userinfo with a client_credentials token: %v %v", resp, err)
	}

	revoke := func(env *testEnv, id, secret, token string) {
		t.Helper()
		resp, m := doReq(t, "POST", env.srv.URL+"/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(id, secret)})
		if resp.StatusCode != 200 {
			t.Fatalf("revoke: %d %v", resp.StatusCode, m)
		}
	}
	// Another client's revocation changes nothing (SECURITY D7).
	revoke(node2, other, otherSecret, tok.AccessToken)
	if m := introspect(node1, tok.AccessToken); m["active"] != true {
		t.Fatalf("revoked by another client: %v", m)
	}
	// Revoked through node 2, the token is inactive on node 1 at once; a
	// second revocation is no error.
	revoke(node2, app, appSecret, tok.AccessToken)
	if m := introspect(node1, tok.AccessToken); m["active"] != false {
		t.Fatalf("revoked on the other node, still: %v", m)
	}
	revoke(node1, app, appSecret, tok.AccessToken)

	// Expiry: the token's own, from its MAC-covered payload.
	tok2, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node1.clock.Add(time.Hour)
	if m := introspect(node1, tok2.AccessToken); m["active"] != false {
		t.Fatalf("expired: %v", m)
	}

	// Revoking every token of the client (oidcd clients revoke-tokens) ends
	// the stateless ones issued until then, which have no row; a token
	// issued a millisecond later lives.
	revoked, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := node1.store.RevokeClientTokens(ctx, app, node1.clock.Now()); err != nil {
		t.Fatal(err)
	}
	node1.p.ForgetClient(app) // as the console and the command line do
	if m := introspect(node1, revoked.AccessToken); m["active"] != false {
		t.Fatalf("after the client's tokens were revoked: %v", m)
	}
	node1.clock.Add(time.Millisecond)
	later, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := introspect(node1, later.AccessToken); m["active"] != true {
		t.Fatalf("a token issued after the client's tokens were revoked: %v", m)
	}

	// A deleted client's tokens end, and stay ended if a client with the
	// same id is created again.
	otherCC := clientcredentials.Config{ClientID: other, ClientSecret: otherSecret, TokenURL: node1.srv.URL + "/token"}
	tok3, err := otherCC.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := introspect(node1, tok3.AccessToken); m["active"] != true {
		t.Fatalf("before the client's deletion: %v", m)
	}
	c, err := node1.store.Client(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := node1.store.DeleteClient(ctx, other); err != nil {
		t.Fatal(err)
	}
	node1.p.ForgetClient(other)
	if m := introspect(node1, tok3.AccessToken); m["active"] != false {
		t.Fatalf("after the client's deletion: %v", m)
	}
	node1.clock.Add(time.Second)
	c.CreatedAt = node1.clock.Now()
	if err := node1.store.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	node1.p.ForgetClient(other)
	if m := introspect(node1, tok3.AccessToken); m["active"] != false {
		t.Fatalf("after the client was created again: %v", m)
	}

	// A node with the option off knows no stateless token.
	off := newTestEnvOn(t, node1.store, nil)
	tok4, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := introspect(off, tok4.AccessToken); m["active"] != false {
		t.Fatalf("introspected where stateless tokens are off: %v", m)
	}
}

// storeWithoutLookups hides the storage's ReplayLookups.
type storeWithoutLookups struct{ storage.Provider }

func TestStatelessNeedsReplayLookups(t *testing.T) {
	env := newTestEnv(t, nil)
	_, err := op.New(context.Background(), op.Config{Issuer: "https://op.example", Storage: storeWithoutLookups{env.store},
		Users: env.users, Sealer: env.sealer, StatelessClientCredentials: true})
	if err == nil || !strings.Contains(err.Error(), "ReplayLookups") {
		t.Fatalf("New: %v", err)
	}
}

// A stateless token bound to a DPoP key (RFC 9449) is accepted by
// Provider.Protect only with a proof by that key, and introspects with its
// cnf.jkt.
func TestStatelessDPoPBound(t *testing.T) {
	env := dpopEnv(t, stateless)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	rs, rsSecret := env.client(storage.Client{Name: "RS", Scope: []string{"token_introspection", id}})
	k, other := newDPoPKey(t, env.clock.Now), newDPoPKey(t, env.clock.Now)
	st, tok, _ := env.ccToken(id, secret, k)
	access, _ := tok["access_token"].(string)
	if st != 200 || tok["token_type"] != "DPoP" || !strings.HasPrefix(access, "cc1_") {
		t.Fatalf("token: %d %v", st, tok)
	}
	api := http.NewServeMux()
	api.Handle("/api", env.p.Protect("api")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := op.TokenInfoFrom(r.Context())
		w.Write([]byte(`{"jkt":"` + info.JKT + `"}`))
	})))
	local := httptest.NewServer(api)
	defer local.Close()
	htu := env.srv.URL + "/api"
	for _, c := range []struct {
		what string
		hdr  map[string]string
		want int
	}{
		{"as a bearer token", map[string]string{"Authorization": "Bearer " + access}, 401},
		{"proof by another key", map[string]string{"Authorization": "DPoP " + access, "DPoP": other.proof("GET", htu, access, "")}, 401},
		{"proof by its key", map[string]string{"Authorization": "DPoP " + access, "DPoP": k.proof("GET", htu, access, "")}, 200},
	} {
		st, body, _ := send(t, "GET", local.URL+"/api", nil, c.hdr)
		if st != c.want || (st == 200 && body["jkt"] != k.jkt()) {
			t.Errorf("%s: %d %v, want %d", c.what, st, body, c.want)
		}
	}
	_, info, _ := env.formRequest(op.PathIntrospect, rs, rsSecret, url.Values{"token": {access}})
	cnf, _ := info["cnf"].(map[string]any)
	if info["active"] != true || info["token_type"] != "DPoP" || cnf["jkt"] != k.jkt() {
		t.Fatalf("introspection: %v", info)
	}
}
