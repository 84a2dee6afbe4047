package op_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// loggedInToken runs a code flow for scope and returns the access token.
func (env *testEnv) loggedInToken(scope ...string) string {
	env.t.Helper()
	id, secret := env.client(storage.Client{})
	relying := env.rp(id, secret, scope...)
	tok, err := relying.oauth.Exchange(env.t.Context(), env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		env.t.Fatal(err)
	}
	return tok.AccessToken
}

func doReq(t *testing.T, method, u string, body io.Reader, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, u, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

func TestUserinfo(t *testing.T) {
	env := newTestEnv(t, nil)
	tok := env.loggedInToken("openid", "profile", "email", "phone", "address")
	ui := env.srv.URL + "/userinfo"
	form := "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name   string
		method string
		url    string
		body   string
		hdr    map[string]string
	}{
		{"bearer header", "GET", ui, "", map[string]string{"Authorization": "Bearer " + tok}},
		{"lower-case scheme", "GET", ui, "", map[string]string{"Authorization": "bearer " + tok}},
		{"upper-case scheme", "POST", ui, "", map[string]string{"Authorization": "BEARER " + tok}},
		{"query parameter", "GET", ui + "?access_token=" + url.QueryEscape(tok), "", nil},
		{"form body", "POST", ui, "access_token=" + url.QueryEscape(tok), map[string]string{"Content-Type": form}},
		{"trailing slash", "GET", ui + "/", "", map[string]string{"Authorization": "Bearer " + tok}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, m := doReq(t, c.method, c.url, strings.NewReader(c.body), c.hdr)
			if resp.StatusCode != 200 || m["sub"] != "alice" || m["email"] != "alice@example.com" || m["phone_number"] != "+1 555 0100" {
				t.Fatalf("%d %v", resp.StatusCode, m)
			}
			addr, _ := m["address"].(map[string]any)
			if addr["locality"] != "Oxford" || addr["country"] != "UK" {
				t.Fatalf("address claim: %v", m["address"])
			}
			if _, ok := m["middle_name"]; ok {
				t.Fatal("empty claim released")
			}
		})
	}
	t.Run("only granted scopes", func(t *testing.T) {
		narrow := env.loggedInToken("openid", "email")
		_, m := doReq(t, "GET", ui, nil, map[string]string{"Authorization": "Bearer " + narrow})
		if m["email"] != "alice@example.com" || m["name"] != nil || m["address"] != nil {
			t.Fatalf("claims beyond scope: %v", m)
		}
	})
	for _, c := range []struct {
		name, auth, wantErr string
	}{
		{"missing", "", ""},
		{"garbage", "Bearer nope", "invalid_token"},
		{"truncated", "Bearer " + tok[:len(tok)-1], "invalid_token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			if c.auth != "" {
				h["Authorization"] = c.auth
			}
			resp, _ := doReq(t, "GET", ui, nil, h)
			www := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != 401 || !strings.HasPrefix(www, "Bearer") || (c.wantErr != "" && !strings.Contains(www, `error="`+c.wantErr+`"`)) {
				t.Fatalf("%d %q", resp.StatusCode, www)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		env.clock.Add(time.Hour + time.Second)
		resp, _ := doReq(t, "GET", ui, nil, map[string]string{"Authorization": "Bearer " + tok})
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("expired token: %d", resp.StatusCode)
		}
	})
	t.Run("cors", func(t *testing.T) {
		resp, _ := doReq(t, "OPTIONS", ui, nil, map[string]string{"Origin": "https://spa.example", "Access-Control-Request-Method": "GET"})
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

func TestQueryTokenCanBeDisabled(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.DisableQueryToken = true })
	tok := env.loggedInToken()
	resp, _ := doReq(t, "GET", env.srv.URL+"/userinfo?access_token="+url.QueryEscape(tok), nil, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("query token accepted while disabled: %d", resp.StatusCode)
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, doc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, map[string]string{"Origin": "https://spa.example"})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cache-Control") == "" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if doc["issuer"] != env.srv.URL || doc["token_endpoint"] != env.srv.URL+"/token" || doc["jwks_uri"] != env.srv.URL+"/jwks" {
		t.Fatalf("endpoints: %v", doc)
	}
	has := func(key, v string) bool {
		list, _ := doc[key].([]any)
		return slices.Contains(list, any(v))
	}
	for key, vals := range map[string][]string{
		"scopes_supported":                      {"openid", "profile", "email", "phone", "address"},
		"grant_types_supported":                 {"authorization_code", "refresh_token", "implicit", "client_credentials"},
		"response_modes_supported":              {"query", "fragment", "form_post"},
		"code_challenge_methods_supported":      {"S256", "plain"},
		"claims_supported":                      {"sub", "email", "address"},
		"id_token_signing_alg_values_supported": {"RS256", "HS256"},
		"response_types_supported":              {"code", "code id_token", "id_token token"},
	} {
		for _, v := range vals {
			if !has(key, v) {
				t.Errorf("%s lacks %q", key, v)
			}
		}
	}
	if has("grant_types_supported", "password") {
		t.Error("password grant advertised while off")
	}
	if doc["authorization_response_iss_parameter_supported"] != true {
		t.Error("RFC 9207 flag missing")
	}
	for flag, want := range map[string]bool{
		"claims_parameter_supported":       true,
		"request_parameter_supported":      true,
		"request_uri_parameter_supported":  true,
		"require_request_uri_registration": true,
	} {
		if doc[flag] != want {
			t.Errorf("%s = %v, want %v", flag, doc[flag], want)
		}
	}
	if doc["introspection_endpoint"] != env.srv.URL+"/introspect" || doc["revocation_endpoint"] != env.srv.URL+"/revoke" {
		t.Errorf("introspection/revocation endpoints: %v %v", doc["introspection_endpoint"], doc["revocation_endpoint"])
	}

	resp, jwks := doReq(t, "GET", env.srv.URL+"/jwks/", nil, nil)
	keysList, _ := jwks["keys"].([]any)
	if resp.StatusCode != 200 || len(keysList) != 1 {
		t.Fatalf("jwks: %d %v", resp.StatusCode, jwks)
	}
	k := keysList[0].(map[string]any)
	if k["kid"] == "" || k["use"] != "sig" || k["alg"] != "RS256" || k["kty"] != "RSA" || k["d"] != nil {
		t.Fatalf("jwk: %v", k)
	}
}

func TestMethodsAndSlashes(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/.well-known/openid-configuration", 405},
		{"DELETE", "/authorize", 405},
		{"GET", "/token", 405},
		{"PUT", "/userinfo", 405},
		{"POST", "/jwks", 405},
		{"GET", "/.well-known/openid-configuration/", 200},
		{"GET", "/jwks", 200},
		{"GET", "/jwks/extra", 404},
	} {
		resp, _ := doReq(t, c.method, env.srv.URL+c.path, nil, nil)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	form := "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name    string
		body    string
		hdr     map[string]string
		status  int
		wantErr string
	}{
		{"no client", "grant_type=authorization_code&code=x", map[string]string{"Content-Type": form}, 401, "invalid_client"},
		{"wrong secret basic", "grant_type=authorization_code&code=x", map[string]string{"Content-Type": form, "Authorization": basic(id, "nope")}, 401, "invalid_client"},
		{"wrong secret post", "grant_type=authorization_code&code=x&client_id=" + id + "&client_secret=nope", map[string]string{"Content-Type": form}, 401, "invalid_client"},
		{"two methods", "grant_type=authorization_code&code=x&client_secret=" + secret, map[string]string{"Content-Type": form, "Authorization": basic(id, secret)}, 400, "invalid_request"},
		{"unknown grant", "grant_type=magic", map[string]string{"Content-Type": form, "Authorization": basic(id, secret)}, 400, "unsupported_grant_type"},
		{"missing grant", "", map[string]string{"Content-Type": form, "Authorization": basic(id, secret)}, 400, "invalid_request"},
		{"duplicate param", "grant_type=authorization_code&code=a&code=b", map[string]string{"Content-Type": form, "Authorization": basic(id, secret)}, 400, "invalid_request"},
		{"json body", `{"grant_type":"authorization_code"}`, map[string]string{"Content-Type": "application/json", "Authorization": basic(id, secret)}, 400, "invalid_request"},
		{"missing code", "grant_type=authorization_code", map[string]string{"Content-Type": form, "Authorization": basic(id, secret)}, 400, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, m := doReq(t, "POST", env.srv.URL+"/token", strings.NewReader(c.body), c.hdr)
			if resp.StatusCode != c.status || m["error"] != c.wantErr {
				t.Fatalf("%d %v", resp.StatusCode, m)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
				t.Fatal("error response is cacheable (SECURITY D2)")
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func basic(id, secret string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

// Clients are cached for ClientCacheTTL: a change made elsewhere (another
// node, the CLI) is seen within it, and at once after ForgetClient.
func TestClientCacheBound(t *testing.T) {
	env := newTestEnv(t, nil)
	id, oldSecret := env.client(storage.Client{Scope: []string{"svc"}})
	form := url.Values{"grant_type": {"client_credentials"}}
	if st, body, _ := env.tokenRequest(id, oldSecret, form); st != 200 {
		t.Fatalf("%d %v", st, body)
	}
	rotate := func() string {
		c, err := env.store.Client(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := op.SetClientSecret(c, env.sealer)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.store.UpdateClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	newSecret := rotate()
	if st, _, _ := env.tokenRequest(id, oldSecret, form); st != 200 {
		t.Fatalf("within the TTL the cached client still answers, got %d", st)
	}
	env.clock.Add(5*time.Second + time.Millisecond)
	if st, body, _ := env.tokenRequest(id, oldSecret, form); st != 401 || body["error"] != "invalid_client" {
		t.Fatalf("old secret after the TTL: %d %v", st, body)
	}
	if st, _, _ := env.tokenRequest(id, newSecret, form); st != 200 {
		t.Fatalf("new secret after the TTL: %d", st)
	}
	newer := rotate()
	env.p.ForgetClient(id)
	if st, _, _ := env.tokenRequest(id, newSecret, form); st != 401 {
		t.Fatalf("replaced secret after ForgetClient: %d", st)
	}
	if st, _, _ := env.tokenRequest(id, newer, form); st != 200 {
		t.Fatalf("newest secret after ForgetClient: %d", st)
	}
}

// Config.Templates overlays the built-in pages; the consent page gets
// django-oidc-provider's context (client, scopes, hidden_inputs, params).
func TestTemplateOverlay(t *testing.T) {
	overlay := fstest.MapFS{"authorize.html": {Data: []byte(
		`<p>{{.Client.Name}} asks for {{range .Scopes}}[{{.Name}}]{{end}} state={{index .Params "state"}}</p>` +
			`<form method="post" action="{{.Action}}">{{.HiddenInputs}}<input name="allow" type="submit"></form>`)}}
	env := newTestEnv(t, func(c *op.Config) { c.Templates = overlay })
	id, _ := env.client(storage.Client{Name: "Library", RequireConsent: true})
	b := env.browser()
	pg := b.get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid email", "state": "xyz"}))
	if !strings.Contains(pg.body, "Library asks for [openid][email] state=xyz") {
		t.Fatalf("overlay not used:\n%s", pg.body)
	}
	if got := callback(t, b.consent(pg, true)); got.Get("code") == "" || got.Get("state") != "xyz" {
		t.Fatalf("consent through the custom page: %v", got)
	}
}
