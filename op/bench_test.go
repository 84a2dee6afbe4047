package op_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// BenchmarkRSASignCeiling is the ceiling the code exchange is measured
// against: the target is at least 85% of parallel RSA-2048 PKCS #1 v1.5
// signing (README "Performance").
func BenchmarkRSASignCeiling(b *testing.B) {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	sum := sha256.Sum256([]byte("payload"))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// codes mints n authorization codes for a client directly through the
// handler (login and consent are not what this measures).
func benchCodes(b *testing.B, env *testEnv, id string, n int) []string {
	b.Helper()
	jar := env.browser()
	jar.get(env.srv.URL + "/login?next=/")
	u, _ := url.Parse(env.srv.URL)
	cookies := jar.http.Jar.Cookies(u)
	q := url.Values{"client_id": {id}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {"openid profile email"}}
	codes := make([]string, n)
	for i := range codes {
		req := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		env.p.ServeHTTP(rec, req)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		codes[i] = loc.Query().Get("code")
		if codes[i] == "" {
			b.Fatalf("no code: %d %s", rec.Code, rec.Body)
		}
	}
	return codes
}

// BenchmarkCodeExchange measures the token endpoint's authorization_code
// grant on a durable SQLite file, in parallel, per ID-token algorithm.
func BenchmarkCodeExchange(b *testing.B) {
	for _, alg := range []string{keys.RS256, keys.ES256, keys.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			env := newSQLiteTestEnv(b, nil)
			if alg != keys.RS256 {
				env.addKey(alg)
			}
			id, secret := env.client(storage.Client{JWTAlg: alg})
			codes := benchCodes(b, env, id, b.N)
			var next atomicCounter
			// Like a server under load, keep more requests in flight than
			// cores, so that one waiting for its commit leaves no core idle.
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					code := codes[next.add()-1]
					body := "grant_type=authorization_code&redirect_uri=" + url.QueryEscape(rpCallback) + "&code=" + code
					req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth(id, secret)
					rec := httptest.NewRecorder()
					env.p.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

// BenchmarkUserinfo measures userinfo with a valid token.
func BenchmarkUserinfo(b *testing.B) {
	env := newSQLiteTestEnv(b, nil)
	id, secret := env.client(storage.Client{RedirectURIs: []string{rpCallback}})
	relying := env.rp(id, secret)
	tok, err := relying.oauth.Exchange(b.Context(), env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			rec := httptest.NewRecorder()
			env.p.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}

// benchPost runs POST path with the form body as client id, in parallel,
// expecting 200.
func benchPost(b *testing.B, env *testEnv, path, id, secret, body string) {
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(id, secret)
			rec := httptest.NewRecorder()
			env.p.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkClientCredentials measures client_credentials token issuance
// on a durable SQLite file: client authentication, a grant and its token
// written (group commit), the JSON answer.
func BenchmarkClientCredentials(b *testing.B) {
	env := newSQLiteTestEnv(b, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	benchPost(b, env, "/token", id, secret, "grant_type=client_credentials&scope=api")
}

// BenchmarkClientCredentialsStateless is BenchmarkClientCredentials with
// stateless tokens (Config.StatelessClientCredentials): nothing written.
func BenchmarkClientCredentialsStateless(b *testing.B) {
	env := newSQLiteTestEnv(b, stateless)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	benchPost(b, env, "/token", id, secret, "grant_type=client_credentials&scope=api")
}

// BenchmarkIntrospect measures introspection (RFC 7662) of an active
// access token by a resource server, on a durable SQLite file.
func BenchmarkIntrospect(b *testing.B) {
	env := newSQLiteTestEnv(b, nil)
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	rsID, rsSecret := env.client(storage.Client{Name: "RS", Scope: []string{"token_introspection", id}})
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials&scope=api"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	rec := httptest.NewRecorder()
	env.p.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	benchPost(b, env, "/introspect", rsID, rsSecret, "token="+tok.AccessToken)
}
