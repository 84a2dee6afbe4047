package op_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// FuzzAuthorize sends arbitrary query strings to /authorize: the answer is
// always an error page, a login redirect, a consent page or a redirect to the
// registered redirect URI — never a crash, a 5xx or a redirect elsewhere.
func FuzzAuthorize(f *testing.F) {
	env := newTestEnv(f, func(c *op.Config) { c.Resources = []op.Resource{{URI: resOrders}, {URI: resMCP}} })
	id, _ := env.client(storage.Client{ResponseTypes: []string{"code", "id_token token", "code id_token"}})
	pub, _ := env.client(storage.Client{Type: storage.Public})
	for _, seed := range []string{
		"client_id=" + id + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&response_type=code&scope=openid&state=s",
		"client_id=" + id + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&response_type=id_token%20token&scope=openid&nonce=n&response_mode=form_post",
		"client_id=" + pub + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&response_type=code&scope=openid&code_challenge=abc&code_challenge_method=S256",
		"client_id=" + id + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&prompt=none%20login&max_age=x&scope=openid%20openid",
		"client_id=&redirect_uri=%zz", "a=1&a=2", ";;;&&&==",
		"client_id=" + id + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&response_type=code&scope=openid&resource=" + url.QueryEscape(resOrders) + "&resource=" + url.QueryEscape(resMCP),
		"client_id=" + id + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&response_type=code&scope=openid&resource=https:&resource=%23x&resource=urn:a",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		env.p.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest:
		case http.StatusFound:
			loc := rec.Header().Get("Location")
			if !strings.HasPrefix(loc, rpCallback) && !strings.HasPrefix(loc, "/login?") && !strings.HasPrefix(loc, "http://127.0.0.1") {
				t.Fatalf("redirect to %q for %q", loc, query)
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, query, rec.Body)
		}
	})
}

// FuzzToken posts arbitrary bodies to /token: the answer is always an
// RFC 6749 §5.2 JSON error (or a token), never a crash or a 5xx.
func FuzzToken(f *testing.F) {
	env := newTestEnv(f, func(c *op.Config) { c.Resources = []op.Resource{{URI: resOrders}, {URI: resMCP}} })
	id, secret := env.client(storage.Client{Scope: []string{"openid", "api"}})
	for _, seed := range []string{
		"grant_type=authorization_code&code=abc&redirect_uri=" + url.QueryEscape(rpCallback) + "&client_id=" + id + "&client_secret=" + secret,
		"grant_type=refresh_token&refresh_token=abc&scope=openid&client_id=" + id + "&client_secret=" + secret,
		"grant_type=authorization_code&code_verifier=" + strings.Repeat("a", 43) + "&client_id=" + id,
		"client_id=%zz", "grant_type=&grant_type=", strings.Repeat("a=b&", 100),
		"grant_type=client_credentials&scope=api&resource=" + url.QueryEscape(resOrders) + "&resource=" + url.QueryEscape(resMCP),
		"grant_type=client_credentials&resource=/x&resource=https://a%23b&audience=x&audience=y",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, body string, withBasic bool) {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if withBasic {
			req.SetBasicAuth(id, secret)
		}
		rec := httptest.NewRecorder()
		env.p.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("not JSON for %q: %s", body, rec.Body)
		}
		if rec.Code != http.StatusOK && m["error"] == nil {
			t.Fatalf("error without code for %q: %s", body, rec.Body)
		}
	})
}

// FuzzClientAuth sends arbitrary Authorization headers and client
// credentials in the body to /token: client authentication always answers
// JSON, 400 or 401 with invalid_client/invalid_request, never a crash or 5xx.
func FuzzClientAuth(f *testing.F) {
	env := newTestEnv(f, nil)
	id, secret := env.client(storage.Client{})
	pub, _ := env.client(storage.Client{Type: storage.Public})
	basic := func(u, p string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))
	}
	for _, seed := range [][2]string{
		{basic(id, secret), ""},
		{basic(url.QueryEscape(id), "%zz"), ""},
		{"Basic !!!", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon")), ""},
		{"", "client_id=" + id + "&client_secret=" + secret},
		{"", "client_id=" + pub + "&client_secret=x"},
		{basic(id, secret), "client_id=other"},
		{"Bearer x", "client_id=" + pub},
		{"", "client_id=" + id + "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"},
		{"", "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJub25lIn0.e30."},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, authz, body string) {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body+"&grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		env.p.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %q: %s", rec.Code, authz, body, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("not JSON for %q %q: %s", authz, body, rec.Body)
		}
		if rec.Code != http.StatusOK && m["error"] == nil {
			t.Fatalf("error without code: %s", rec.Body)
		}
	})
}

// authorizeOnly sends one authorization request with extra parameters and
// checks that the answer is a page, a login redirect or a redirect to the
// registered URI.
func authorizeOnly(t *testing.T, env *testEnv, id string, extra url.Values) {
	q := url.Values{"client_id": {id}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	for k, v := range extra {
		q[k] = v
	}
	req := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
	rec := httptest.NewRecorder()
	env.p.ServeHTTP(rec, req)
	switch rec.Code {
	case http.StatusOK, http.StatusBadRequest:
	case http.StatusFound:
		loc := rec.Header().Get("Location")
		if !strings.HasPrefix(loc, rpCallback) && !strings.HasPrefix(loc, "/login?") {
			t.Fatalf("redirect to %q", loc)
		}
	default:
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// FuzzClaims sends arbitrary claims parameters (OIDC Core §5.5).
func FuzzClaims(f *testing.F) {
	env := newTestEnv(f, nil)
	id, _ := env.client(storage.Client{})
	for _, seed := range []string{
		`{"userinfo":{"email":null,"name":{"essential":true}},"id_token":{"auth_time":{"essential":true}}}`,
		`{"userinfo":{"email":{"value":"a@b","values":[1,{"x":[[]]}]}}}`,
		`{"id_token":{"acr":{"values":["urn:x"]}}}`, `[]`, `null`, `{"userinfo":[]}`, `{"userinfo":{"x":1}}`,
		strings.Repeat("[", 50), `{"userinfo":{"email":{"value":"\"}]]]"}}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, claims string) {
		authorizeOnly(t, env, id, url.Values{"claims": {claims}})
	})
}

// FuzzIDTokenHint sends arbitrary id_token_hint values: a forged or broken
// hint is refused or ignored, never a crash.
func FuzzIDTokenHint(f *testing.F) {
	env := newTestEnv(f, nil)
	id, _ := env.client(storage.Client{})
	for _, seed := range []string{
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
		"eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJpc3MiOiJ4In0.c2ln",
		"a.b.c", "....", "", "eyJ9.eyJ9.eyJ9", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
		"eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTEyOENCQy1IUzI1NiJ9..aXY.Y3Q.dGFn", // an encrypted ID token's shape
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, hint string) {
		authorizeOnly(t, env, id, url.Values{"id_token_hint": {hint}})
	})
}

// FuzzRegister posts arbitrary JSON to /register (RFC 7591): the answer is
// a client or an RFC 7591 §3.2.2 JSON error, never a crash or a 5xx.
func FuzzRegister(f *testing.F) {
	env := newTestEnv(f, func(c *op.Config) { c.Registration.Enabled, c.Registration.Open = true, true })
	for _, seed := range []string{
		`{"client_name":"A","redirect_uris":["https://rp.example/cb"]}`,
		`{"redirect_uris":["https://rp.example/cb"],"grant_types":["password"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["http://evil.example/cb#x"],"jwks":{"keys":[{"kty":"EC"}]},"logo_uri":"http://127.0.0.1/x"}`,
		`{"redirect_uris":["https://rp.example/cb"],"id_token_encrypted_response_alg":"ECDH-ES","userinfo_signed_response_alg":"HS256","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"enc"}]}}`,
		`{"redirect_uris":["https://rp.example/cb"],"userinfo_encrypted_response_enc":"A128GCM","id_token_encrypted_response_alg":"RSA-OAEP-256","jwks_uri":"https://169.254.169.254/jwks"}`,
		`{"redirect_uris":"x"}`, `[]`, `null`, `{"scope":"openid token_introspection"}`, `{"a":` + strings.Repeat("[", 100),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		env.p.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("not JSON for %q: %s", body, rec.Body)
		}
	})
}

// FuzzEndSession sends arbitrary RP-Initiated Logout requests (GET query and
// POST body) to /end-session with no session: the answer is the signed-out
// page, the confirmation page, an error page or a redirect to a registered
// post-logout redirect URI — never a crash, a 5xx or a redirect elsewhere
// (SECURITY A7, L6).
func FuzzEndSession(f *testing.F) {
	env := newTestEnv(f, nil)
	const postLogout = "https://rp.example.com/signed-out"
	id, _ := env.client(storage.Client{PostLogoutRedirectURIs: []string{postLogout}})
	for _, seed := range []string{
		"client_id=" + id + "&post_logout_redirect_uri=" + url.QueryEscape(postLogout) + "&state=s",
		"client_id=" + id + "&post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/") + "&state=s",
		"post_logout_redirect_uri=" + url.QueryEscape(postLogout),
		"id_token_hint=eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.&post_logout_redirect_uri=" + url.QueryEscape(postLogout),
		"id_token_hint=a.b.c&client_id=" + id + "&logout_hint=x&ui_locales=fr%20es",
		"client_id=%zz&state=" + strings.Repeat("s", 3000), "state=a&state=b", ";;;&&&==",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, params string, post bool) {
		req := httptest.NewRequest(http.MethodGet, op.PathEndSession, nil)
		if post {
			req = httptest.NewRequest(http.MethodPost, op.PathEndSession, strings.NewReader(params))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.URL.RawQuery = params
		}
		rec := httptest.NewRecorder()
		env.p.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusForbidden:
		case http.StatusFound, http.StatusSeeOther:
			if loc := rec.Header().Get("Location"); !strings.HasPrefix(loc, postLogout+"?") && loc != postLogout {
				t.Fatalf("redirect to %q for %q", loc, params)
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, params, rec.Body)
		}
	})
}
