package op_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestClientCredentials(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"read_books", "write_books"}})
	ctx := t.Context()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env.srv.URL + "/token"}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("scope") != "read_books write_books" || tok.RefreshToken != "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Fatalf("whole registered scope expected: %+v %v", tok, tok.Extra("scope"))
	}
	cc.Scopes = []string{"read_books"}
	tok, err = cc.Token(ctx)
	if err != nil || tok.Extra("scope") != "read_books" {
		t.Fatalf("narrowed: %v %v", err, tok)
	}
	cc.Scopes = []string{"read_books", "admin"}
	_, err = cc.Token(ctx)
	if c := retrieveErrorCode(t, err); c != "invalid_scope" {
		t.Fatalf("scope outside registration: %s", c)
	}
	cc.Scopes, cc.AuthStyle = nil, oauth2.AuthStyleInParams
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("client_secret_post: %v", err)
	}
	// SECURITY E4: public clients cannot use it.
	pub, _ := env.client(storage.Client{Type: storage.Public})
	st, body, _ := env.tokenRequest("", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {pub}})
	if st != 400 || body["error"] != "unauthorized_client" {
		t.Fatalf("public client: %d %v", st, body)
	}
	// Not a user token: userinfo refuses it.
	if st := env.userinfoStatus(tok.AccessToken); st != http.StatusForbidden {
		t.Fatalf("userinfo with a client token: %d", st)
	}
}

func TestPasswordGrant(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		env := newTestEnv(t, nil)
		id, secret := env.client(storage.Client{})
		cfg := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: env.srv.URL + "/token"}}
		_, err := cfg.PasswordCredentialsToken(t.Context(), "alice", "pw-alice")
		if c := retrieveErrorCode(t, err); c != "unsupported_grant_type" {
			t.Fatalf("password grant while off: %s", c)
		}
	})
	env := newTestEnv(t, func(c *op.Config) { c.PasswordGrant = true })
	id, secret := env.client(storage.Client{ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "password", "refresh_token"}}})
	relying := env.rp(id, secret)
	ctx := t.Context()
	tok, err := relying.oauth.PasswordCredentialsToken(ctx, "alice", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	idt, err := relying.verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != "alice" {
		t.Fatalf("id token: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	_, err = relying.oauth.PasswordCredentialsToken(ctx, "alice", "wrong")
	if c := retrieveErrorCode(t, err); c != "invalid_grant" {
		t.Fatalf("wrong password: %s", c)
	}
	// A lockout answers exactly like a wrong password (SECURITY I3).
	wst, wbody, whdr := env.tokenRequest(id, secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}})
	st, body, hdr := env.tokenRequest(id, secret, url.Values{"grant_type": {"password"}, "username": {"locked"}, "password": {"x"}})
	if st != 400 || body["error"] != "invalid_grant" || st != wst || !reflect.DeepEqual(body, wbody) {
		t.Fatalf("throttled: %d %v; wrong password: %d %v", st, body, wst, wbody)
	}
	hdr.Del("Date")
	whdr.Del("Date")
	if !reflect.DeepEqual(hdr, whdr) {
		t.Fatalf("throttled headers %v differ from a wrong password's %v", hdr, whdr)
	}
	_, doc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, nil)
	if gts, _ := doc["grant_types_supported"].([]any); !slices.Contains(gts, any("password")) {
		t.Fatalf("password grant not advertised while on: %v", gts)
	}
}

func TestIntrospection(t *testing.T) {
	for _, anyAudience := range []bool{false, true} {
		name := "audience checked"
		if anyAudience {
			name = "any audience"
		}
		t.Run(name, func(t *testing.T) {
			env := newTestEnv(t, func(c *op.Config) { c.InsecureIntrospectionAnyAudience = anyAudience })
			app, appSecret := env.client(storage.Client{Scope: []string{"openid", "profile", "email", "read_books"}})
			other, otherSecret := env.client(storage.Client{Name: "Other", Scope: []string{"x"}})
			rs, rsSecret := env.client(storage.Client{Name: "Resource server", Scope: []string{"token_introspection", app}})
			noScope, noScopeSecret := env.client(storage.Client{Name: "No scope"})
			ctx := t.Context()
			relying := env.rp(app, appSecret)
			userTok, err := relying.oauth.Exchange(ctx, env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			ccTok, err := (&clientcredentials.Config{ClientID: app, ClientSecret: appSecret, TokenURL: env.srv.URL + "/token"}).Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			otherTok, err := (&clientcredentials.Config{ClientID: other, ClientSecret: otherSecret, TokenURL: env.srv.URL + "/token"}).Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			introspect := func(id, secret, token, hint string) (int, map[string]any) {
				form := url.Values{"token": {token}}
				if hint != "" {
					form.Set("token_type_hint", hint)
				}
				resp, m := doReq(t, "POST", env.srv.URL+"/introspect", strings.NewReader(form.Encode()),
					map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(id, secret)})
				return resp.StatusCode, m
			}
			st, m := introspect(rs, rsSecret, userTok.AccessToken, "")
			if st != 200 || m["active"] != true || m["client_id"] != app || m["sub"] != "alice" || m["scope"] != "openid profile email" ||
				m["token_type"] != "Bearer" || m["iss"] != env.srv.URL || m["exp"] == nil || m["iat"] == nil || m["aud"] != app {
				t.Fatalf("user token: %d %v", st, m)
			}
			if _, m := introspect(rs, rsSecret, ccTok.AccessToken, ""); m["active"] != true || m["sub"] != app {
				t.Fatalf("client credentials token: %v", m)
			}
			if _, m := introspect(rs, rsSecret, userTok.RefreshToken, "refresh_token"); m["active"] != true || m["token_type"] != "refresh_token" {
				t.Fatalf("refresh token: %v", m)
			}
			_, m = introspect(rs, rsSecret, otherTok.AccessToken, "")
			if want := anyAudience; m["active"] != want {
				t.Fatalf("other audience: %v (any audience %v)", m, anyAudience)
			}
			for name, tok := range map[string]string{"garbage": "garbage", "empty": "", "truncated": userTok.AccessToken[:20]} {
				if _, m := introspect(rs, rsSecret, tok, ""); len(m) != 1 || m["active"] != false {
					t.Fatalf("%s: %v", name, m)
				}
			}
			if _, m := introspect(noScope, noScopeSecret, userTok.AccessToken, ""); len(m) != 1 || m["active"] != false {
				t.Fatalf("caller without token_introspection: %v", m)
			}
			if st, m := introspect(rs, "wrong", userTok.AccessToken, ""); st != 401 || m["error"] != "invalid_client" {
				t.Fatalf("bad caller credentials: %d %v", st, m)
			}
			env.clock.Add(time.Hour + time.Second)
			if _, m := introspect(rs, rsSecret, userTok.AccessToken, ""); m["active"] != false {
				t.Fatalf("expired: %v", m)
			}
		})
	}
}

func TestIntrospectionHook(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) {
		c.InsecureIntrospectionAnyAudience = true
		c.Hooks.Introspection = func(_ context.Context, a *op.IntrospectionArgs) error {
			a.Response["client_name"] = a.Client.Name
			if a.IDToken != nil {
				a.Response["id_token_sub"] = a.IDToken["sub"]
			}
			return nil
		}
	})
	app, appSecret := env.client(storage.Client{Scope: []string{"token_introspection", "svc"}})
	tok, err := (&clientcredentials.Config{ClientID: app, ClientSecret: appSecret, TokenURL: env.srv.URL + "/token"}).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, m := doReq(t, "POST", env.srv.URL+"/introspect", strings.NewReader("token="+url.QueryEscape(tok.AccessToken)),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(app, appSecret)})
	if m["client_name"] != "Test App" || m["id_token_sub"] != nil {
		t.Fatalf("hook: %v", m)
	}
}

func TestRevocation(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	other, otherSecret := env.client(storage.Client{Name: "Other"})
	relying := env.rp(id, secret)
	ctx := t.Context()
	b := env.browser()
	fresh := func() *oauth2.Token {
		tok, err := relying.oauth.Exchange(ctx, b.authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	revoke := func(id, secret, token, hint string) int {
		form := url.Values{"token": {token}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		resp, _ := doReq(t, "POST", env.srv.URL+"/revoke", strings.NewReader(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(id, secret)})
		return resp.StatusCode
	}
	t.Run("access token", func(t *testing.T) {
		tok := fresh()
		if st := revoke(id, secret, tok.AccessToken, "refresh_token"); st != 200 { // a wrong hint is not trusted
			t.Fatal(st)
		}
		if env.userinfoStatus(tok.AccessToken) != 401 {
			t.Fatal("revoked access token still works")
		}
		tok.Expiry = time.Unix(1, 0)
		if _, err := relying.oauth.TokenSource(ctx, tok).Token(); err != nil {
			t.Fatalf("revoking an access token must not end the grant: %v", err)
		}
	})
	t.Run("refresh token revokes the grant", func(t *testing.T) {
		tok := fresh()
		if st := revoke(id, secret, tok.RefreshToken, ""); st != 200 {
			t.Fatal(st)
		}
		if env.userinfoStatus(tok.AccessToken) != 401 {
			t.Fatal("access token survived its refresh token's revocation")
		}
	})
	t.Run("another client's token", func(t *testing.T) {
		tok := fresh()
		if st := revoke(other, otherSecret, tok.AccessToken, ""); st != 200 {
			t.Fatal(st)
		}
		if env.userinfoStatus(tok.AccessToken) != 200 {
			t.Fatal("another client revoked the token")
		}
	})
	t.Run("unknown token and bad auth", func(t *testing.T) {
		if st := revoke(id, secret, "unknown", ""); st != 200 {
			t.Fatal(st)
		}
		if st := revoke(id, "wrong", "unknown", ""); st != 401 {
			t.Fatal(st)
		}
	})
}

func TestProtect(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"read_books", "token_introspection"}})
	rsCfgScope := []string{"token_introspection", id}
	rs, rsSecret := env.client(storage.Client{Name: "Books API", Scope: rsCfgScope})
	books := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti, _ := op.TokenInfoFrom(r.Context())
		w.Write([]byte("books for " + ti.ClientID))
	})
	inProcess := httptest.NewServer(env.p.Protect("read_books")(books))
	defer inProcess.Close()
	remote := &op.Introspector{Endpoint: env.srv.URL + "/introspect", ClientID: rs, ClientSecret: rsSecret, CacheTTL: -1}
	remoteSrv := httptest.NewServer(remote.Protect("read_books")(books))
	defer remoteSrv.Close()
	ctx := t.Context()
	good, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env.srv.URL + "/token", Scopes: []string{"read_books"}}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env.srv.URL + "/token", Scopes: []string{"token_introspection"}}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, srv := range map[string]*httptest.Server{"in process": inProcess, "introspection": remoteSrv} {
		t.Run(name, func(t *testing.T) {
			get := func(auth string) (*http.Response, string) {
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var sb strings.Builder
				buf := make([]byte, 512)
				n, _ := resp.Body.Read(buf)
				sb.Write(buf[:n])
				return resp, sb.String()
			}
			if resp, body := get("Bearer " + good.AccessToken); resp.StatusCode != 200 || body != "books for "+id {
				t.Fatalf("good token: %d %s", resp.StatusCode, body)
			}
			if resp, _ := get(""); resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("no token: %d", resp.StatusCode)
			}
			if resp, _ := get("Bearer nope"); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("bad token: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if resp, _ := get("Bearer " + narrow.AccessToken); resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="read_books"`) {
				t.Fatalf("narrow token: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// Revocation reaches both (the remote one has no cache here).
	revokeResp, _ := doReq(t, "POST", env.srv.URL+"/revoke", strings.NewReader("token="+url.QueryEscape(good.AccessToken)),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(id, secret)})
	if revokeResp.StatusCode != 200 {
		t.Fatal(revokeResp.StatusCode)
	}
	for _, srv := range []*httptest.Server{inProcess, remoteSrv} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+good.AccessToken)
		resp, _ := http.DefaultClient.Do(req)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("revoked token: %d", resp.StatusCode)
		}
	}
}
