package op_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

func halfSHA256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func TestImplicitAndHybridFlows(t *testing.T) {
	env := newTestEnv(t, nil)
	all := []string{"code", "id_token", "id_token token", "code id_token", "code token", "code id_token token", "token"}
	id, secret := env.client(storage.Client{ResponseTypes: all})
	relying := env.rp(id, secret)
	ctx := t.Context()
	b := env.browser()
	for _, rt := range all[1:] {
		t.Run(rt, func(t *testing.T) {
			u := relying.oauth.AuthCodeURL("st", oidc.Nonce("n-"+rt), oauth2.SetAuthURLParam("response_type", rt))
			got := b.authorize(u)
			if got.Get("state") != "st" || got.Get("iss") != env.srv.URL {
				t.Fatalf("state/iss: %v", got)
			}
			has := func(k string) bool { return got.Get(k) != "" }
			asked := func(v string) bool { return slices.Contains(strings.Fields(rt), v) }
			if has("code") != asked("code") || has("access_token") != asked("token") || has("id_token") != asked("id_token") || has("refresh_token") {
				t.Fatalf("response parameters for %q: %v", rt, got)
			}
			var front *oidc.IDToken
			if raw := got.Get("id_token"); raw != "" {
				var err error
				front, err = relying.verifier.Verify(ctx, raw)
				if err != nil {
					t.Fatal(err)
				}
				if front.Nonce != "n-"+rt {
					t.Fatalf("nonce %q", front.Nonce)
				}
				var hashes struct {
					CHash  string `json:"c_hash"`
					AtHash string `json:"at_hash"`
				}
				front.Claims(&hashes)
				if (hashes.CHash != "") != has("code") || (has("code") && hashes.CHash != halfSHA256(got.Get("code"))) {
					t.Fatalf("c_hash %q", hashes.CHash)
				}
				if (hashes.AtHash != "") != has("access_token") || (has("access_token") && front.VerifyAccessToken(got.Get("access_token")) != nil) {
					t.Fatalf("at_hash %q", hashes.AtHash)
				}
			}
			if has("access_token") && env.userinfoStatus(got.Get("access_token")) != 200 {
				t.Fatal("front-channel access token rejected at userinfo")
			}
			if has("code") {
				tok, err := relying.oauth.Exchange(ctx, got.Get("code"))
				if err != nil {
					t.Fatal(err)
				}
				back, err := relying.verifier.Verify(ctx, tok.Extra("id_token").(string))
				if err != nil {
					t.Fatal(err)
				}
				if front != nil && (back.Subject != front.Subject || back.Issuer != front.Issuer || back.Audience[0] != front.Audience[0]) {
					t.Fatal("hybrid: the two ID tokens differ in sub, iss or aud")
				}
			}
		})
	}
	t.Run("nonce required", func(t *testing.T) {
		for _, rt := range []string{"id_token", "id_token token", "code id_token", "code token"} {
			got := callback(t, b.get(relying.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("response_type", rt))))
			if got.Get("error") != "invalid_request" || got.Get("state") != "st" {
				t.Fatalf("%s without nonce: %v", rt, got)
			}
		}
	})
	t.Run("implicit errors go in the fragment", func(t *testing.T) {
		pg := b.get(relying.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("response_type", "code id_token"), oidc.Nonce("n"), oauth2.SetAuthURLParam("prompt", "bogus")))
		loc, _ := url.Parse(pg.header.Get("Location"))
		if loc.RawQuery != "" || !strings.Contains(loc.Fragment, "error=invalid_request") {
			t.Fatalf("hybrid error not in the fragment: %s", loc)
		}
	})
	t.Run("query mode refused for tokens", func(t *testing.T) {
		pg := b.get(relying.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("response_type", "id_token"), oidc.Nonce("n"), oauth2.SetAuthURLParam("response_mode", "query")))
		loc, _ := url.Parse(pg.header.Get("Location"))
		if f, _ := url.ParseQuery(loc.Fragment); f.Get("error") != "invalid_request" || loc.Query().Get("id_token") != "" {
			t.Fatalf("response_mode=query with tokens: %s", loc)
		}
	})
	t.Run("id_token response types need openid", func(t *testing.T) {
		got := callback(t, b.get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "id_token", "scope": "profile", "nonce": "n", "state": "s"})))
		if got.Get("error") != "invalid_scope" {
			t.Fatalf("%v", got)
		}
	})
}

func TestOAuth2OnlyRequests(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{ResponseTypes: []string{"code", "token"}, Scope: []string{"read_books"}})
	relying := env.rp(id, secret, "read_books")
	b := env.browser()
	got := b.authorize(relying.oauth.AuthCodeURL("s"))
	tok, err := relying.oauth.Exchange(t.Context(), got.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("id_token") != nil || tok.Extra("scope") != "read_books" {
		t.Fatalf("OAuth 2.0 code flow: id_token %v scope %v", tok.Extra("id_token"), tok.Extra("scope"))
	}
	got = b.authorize(relying.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("response_type", "token")))
	if got.Get("access_token") == "" || got.Get("id_token") != "" || got.Get("token_type") != "Bearer" {
		t.Fatalf("bare token: %v", got)
	}
}

var formInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

func TestFormPost(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{ResponseTypes: []string{"code", "code id_token"}})
	relying := env.rp(id, secret)
	b := env.browser()
	pg := b.get(relying.oauth.AuthCodeURL(`<s>"&'`, oidc.Nonce("n"), oauth2.SetAuthURLParam("response_mode", "form_post"), oauth2.SetAuthURLParam("response_type", "code id_token")))
	if pg.status != 200 || !strings.Contains(pg.body, `action="`+rpCallback+`"`) {
		t.Fatalf("form_post page: %d %s", pg.status, pg.body)
	}
	csp := pg.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'nonce-") || strings.Contains(csp, "unsafe-inline") && strings.Contains(csp, "script-src 'unsafe-inline'") {
		t.Fatalf("CSP: %s", csp)
	}
	if strings.Contains(pg.body, `<s>"&'`) {
		t.Fatal("state not escaped (SECURITY F4)")
	}
	fields := url.Values{}
	for _, m := range formInput.FindAllStringSubmatch(pg.body, -1) {
		fields.Set(m[1], html.UnescapeString(m[2]))
	}
	if fields.Get("state") != `<s>"&'` || fields.Get("code") == "" || fields.Get("id_token") == "" || fields.Get("iss") != env.srv.URL {
		t.Fatalf("fields: %v", fields)
	}
	if _, err := relying.oauth.Exchange(t.Context(), fields.Get("code")); err != nil {
		t.Fatal(err)
	}
}

func TestClaimsParameterAndIncludeClaims(t *testing.T) {
	for _, include := range []bool{false, true} {
		env := newTestEnv(t, func(c *op.Config) { c.IDTokenIncludeClaims = include })
		id, secret := env.client(storage.Client{})
		relying := env.rp(id, secret, "openid", "email")
		ctx := t.Context()
		claims := `{"id_token":{"given_name":{"essential":true},"nickname":null},"userinfo":{"phone_number":null}}`
		got := env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"), oauth2.SetAuthURLParam("claims", claims)))
		tok, err := relying.oauth.Exchange(ctx, got.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := relying.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		idt.Claims(&c)
		if c["given_name"] != "Alice" || c["nickname"] != nil || c["phone_number"] != nil {
			t.Fatalf("id token claims: %v", c)
		}
		if (c["email"] != nil) != include {
			t.Fatalf("idtoken_include_claims=%v but email in token: %v", include, c["email"])
		}
		ui, err := relying.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var u map[string]any
		ui.Claims(&u)
		if u["phone_number"] != "+1 555 0100" || u["email"] != "alice@example.com" || u["given_name"] != nil {
			t.Fatalf("userinfo claims: %v", u)
		}
	}
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{})
	got := callback(t, env.browser().get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid", "claims": "{not json", "state": "s"})))
	if got.Get("error") != "invalid_request" {
		t.Fatalf("bad claims: %v", got)
	}
}

func TestIDTokenHint(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	relying := env.rp(id, secret)
	ctx := t.Context()
	b := env.browser()
	tok, err := relying.oauth.Exchange(ctx, b.authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	hint := tok.Extra("id_token").(string)
	req := func(h string) url.Values {
		return callback(t, b.get(relying.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", h))))
	}
	if got := req(hint); got.Get("code") == "" {
		t.Fatalf("matching hint: %v", got)
	}
	// A hint for bob while alice is logged in: login_required under prompt=none.
	env.users.loginAs = "bob"
	bobBrowser := env.browser()
	bobTok, err := relying.oauth.Exchange(ctx, bobBrowser.authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if got := req(bobTok.Extra("id_token").(string)); got.Get("error") != "login_required" {
		t.Fatalf("other user's hint: %v", got)
	}
	// A forged hint (signature broken) is refused (SECURITY H4).
	parts := strings.Split(hint, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+env.srv.URL+`","sub":"alice"}`)) + "." + parts[2]
	if got := req(forged); got.Get("error") != "invalid_request" {
		t.Fatalf("forged hint: %v", got)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+env.srv.URL+`","sub":"alice"}`)) + "."
	if got := req(none); got.Get("error") != "invalid_request" {
		t.Fatalf("alg none hint: %v", got)
	}
}
