package op_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// testIP lets a test choose the client IP the provider sees.
func testIP(r *http.Request) string {
	if ip := r.Header.Get("X-Test-IP"); ip != "" {
		return ip
	}
	return "192.0.2.1"
}

// SECURITY E6: guessing a client's secret is cut off per (client, IP),
// without locking the client out for other addresses.
func TestClientAuthThrottle(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) {
		c.ClientIP = testIP
		c.ClientAuthMaxFailures = 5
	})
	id, secret := env.client(storage.Client{Scope: []string{"svc"}})
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	post := func(sec, ip string) (int, http.Header) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", env.srv.URL+"/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-IP", ip)
		req.SetBasicAuth(id, sec)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for i := range 5 {
		if st, _ := post("wrong", "198.51.100.7"); st != 401 {
			t.Fatalf("guess %d: %d", i+1, st)
		}
	}
	st, h := post(secret, "198.51.100.7")
	if st != 401 || h.Get("Retry-After") != "60" {
		t.Fatalf("right secret from the guessing IP: %d, Retry-After %q", st, h.Get("Retry-After"))
	}
	if st, _ := post(secret, "203.0.113.9"); st != 200 {
		t.Fatalf("the client from another IP: %d", st)
	}
	env.clock.Add(time.Minute + time.Second)
	if st, _ := post(secret, "198.51.100.7"); st != 200 {
		t.Fatalf("after the window: %d", st)
	}

	// A second node on the same database sees the count once it has seen
	// a failure of that pair itself.
	other, err := op.New(t.Context(), op.Config{
		Issuer: env.srv.URL, Storage: env.store, Users: env.users, Sealer: env.sealer,
		Now: env.clock.Now, ClientIP: testIP, ClientAuthMaxFailures: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		post("wrong", "198.51.100.8")
	}
	call := func(p *op.Provider, sec string) int {
		req, _ := http.NewRequest("POST", "/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-IP", "198.51.100.8")
		req.SetBasicAuth(id, sec)
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		return rec.Code
	}
	if st := call(other, "wrong-again"); st != 401 {
		t.Fatalf("other node, first failure: %d", st)
	}
	if st := call(other, secret); st != 401 {
		t.Fatalf("other node after the shared count is reached: %d", st)
	}
}
