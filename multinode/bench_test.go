package multinode_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// benchUsers is a host application where alice is always logged in.
type benchUsers struct{}

func (benchUsers) CurrentUser(*http.Request) (*op.User, error) {
	return &op.User{ID: "alice", AuthTime: time.Now().Add(-time.Minute), SessionID: "sid-bench"}, nil
}

func (benchUsers) Claims(_ context.Context, _ string, c *op.Claims) error {
	c.Name, c.Email, c.EmailVerified = "Alice", "alice@example.com", true
	return nil
}

// benchEnv is a provider on one backend with a confidential client.
type benchEnv struct {
	p          *op.Provider
	id, secret string
	backend    string
}

// newBenchEnv builds a provider on a fresh durable SQLite file or a fresh
// PostgreSQL database, with the default RS256 key.
func newBenchEnv(b *testing.B, backend string) *benchEnv {
	b.Helper()
	ctx := b.Context()
	dsn := "sqlite:" + b.TempDir() + "/bench.db"
	if backend == "postgres" {
		dsn = pgtest.NewDatabase(b, pgtest.URL())
	}
	store, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	sealer, err := keys.NewSealer([]byte(secret[:32]))
	if err != nil {
		b.Fatal(err)
	}
	p, err := op.New(ctx, op.Config{Issuer: "http://op.example", Storage: store, Users: benchUsers{}, Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	c, sec, err := op.NewClient(storage.Client{Name: "Bench", RedirectURIs: []string{callback}, Scope: []string{"openid", "api"}}, sealer, time.Now(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := store.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	return &benchEnv{p: p, id: c.ID, secret: sec, backend: backend}
}

func (e *benchEnv) post(b *testing.B, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.id, e.secret)
	rec := httptest.NewRecorder()
	e.p.ServeHTTP(rec, req)
	return rec
}

// codes mints n authorization codes (the client needs no consent).
func (e *benchEnv) codes(b *testing.B, n int) []string {
	b.Helper()
	q := url.Values{"client_id": {e.id}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"openid profile email"}, "nonce": {"n"}}
	out := make([]string, n)
	for i := range out {
		rec := httptest.NewRecorder()
		e.p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if out[i] = loc.Query().Get("code"); out[i] == "" {
			b.Fatalf("no code: %d %s", rec.Code, rec.Body)
		}
	}
	return out
}

var backends = []string{"sqlite", "postgres"}

// BenchmarkCodeExchange measures the token endpoint's authorization_code
// grant with an RS256 ID token, in parallel, on a durable SQLite file and on
// PostgreSQL (the multi-node backend).
func BenchmarkCodeExchange(b *testing.B) {
	for _, backend := range backends {
		env := newBenchEnv(b, backend)
		b.Run(backend, func(b *testing.B) {
			codes := env.codes(b, b.N)
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					code := codes[next.Add(1)-1]
					rec := env.post(b, "/token", "grant_type=authorization_code&redirect_uri="+url.QueryEscape(callback)+"&code="+code)
					if rec.Code != http.StatusOK {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

// BenchmarkClientCredentials measures client_credentials token issuance,
// in parallel, on a durable SQLite file and on PostgreSQL.
func BenchmarkClientCredentials(b *testing.B) {
	for _, backend := range backends {
		env := newBenchEnv(b, backend)
		b.Run(backend, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec := env.post(b, "/token", "grant_type=client_credentials&scope=api")
					if rec.Code != http.StatusOK {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
