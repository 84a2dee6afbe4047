package op_test

import (
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
	env := newTestEnv(f, nil)
	id, _ := env.client(op.ClientSpec{ResponseTypes: []string{"code", "id_token token", "code id_token"}})
	pub, _ := env.client(op.ClientSpec{Type: storage.Public})
	for _, seed := range []string{
		"client_id=" + id + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&response_type=code&scope=openid&state=s",
		"client_id=" + id + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&response_type=id_token%20token&scope=openid&nonce=n&response_mode=form_post",
		"client_id=" + pub + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&response_type=code&scope=openid&code_challenge=abc&code_challenge_method=S256",
		"client_id=" + id + "&redirect_uri=" + url.QueryEscape(rpCallback) + "&prompt=none%20login&max_age=x&scope=openid%20openid",
		"client_id=&redirect_uri=%zz", "a=1&a=2", ";;;&&&==",
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
	env := newTestEnv(f, nil)
	id, secret := env.client(op.ClientSpec{})
	for _, seed := range []string{
		"grant_type=authorization_code&code=abc&redirect_uri=" + url.QueryEscape(rpCallback) + "&client_id=" + id + "&client_secret=" + secret,
		"grant_type=refresh_token&refresh_token=abc&scope=openid&client_id=" + id + "&client_secret=" + secret,
		"grant_type=authorization_code&code_verifier=" + strings.Repeat("a", 43) + "&client_id=" + id,
		"client_id=%zz", "grant_type=&grant_type=", strings.Repeat("a=b&", 100),
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
