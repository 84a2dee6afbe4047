package op_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/logbuf"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// downStore is a storage whose reads and writes fail with
// storage.ErrUnavailable while down is set, as a database outage looks.
type downStore struct {
	storage.Provider
	down atomic.Bool
}

var errDown = fmt.Errorf("test: connection refused: %w", storage.ErrUnavailable)

func (s *downStore) Client(ctx context.Context, id string) (*storage.Client, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Provider.Client(ctx, id)
}

func (s *downStore) Token(ctx context.Context, hash []byte, now time.Time) (*storage.Token, *storage.Grant, error) {
	if s.down.Load() {
		return nil, nil, errDown
	}
	return s.Provider.Token(ctx, hash, now)
}

func (s *downStore) CreateGrant(ctx context.Context, g *storage.Grant, tokens ...*storage.Token) error {
	if s.down.Load() {
		return errDown
	}
	return s.Provider.CreateGrant(ctx, g, tokens...)
}

// TestStorageUnavailable: while storage cannot be reached, JSON endpoints
// answer 503 temporarily_unavailable with a Retry-After and pages a 503
// error page (never a 500); afterwards everything works again.
func TestStorageUnavailable(t *testing.T) {
	var ds *downStore
	env := newTestEnv(t, func(c *op.Config) {
		ds = &downStore{Provider: c.Storage}
		c.Storage = ds
	})
	id, secret := env.client(storage.Client{Scope: []string{"api", "token_introspection"}})
	other, _ := env.client(storage.Client{})
	ccToken := func() (int, http.Header, map[string]string) {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials&scope=api"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		rec := httptest.NewRecorder()
		env.p.ServeHTTP(rec, req)
		var body map[string]string
		json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, rec.Header(), body
	}
	status, _, body := ccToken()
	if status != http.StatusOK {
		t.Fatalf("token before the outage: %d %v", status, body)
	}
	access := body["access_token"]

	ds.down.Store(true)
	status, hdr, body := ccToken()
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" || hdr.Get("Retry-After") != "5" {
		t.Errorf("token during the outage: %d Retry-After=%q %v", status, hdr.Get("Retry-After"), body)
	}
	if strings.Contains(body["error_description"], "refused") {
		t.Errorf("the cause leaked to the client: %q", body["error_description"])
	}

	req := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	rec := httptest.NewRecorder()
	env.p.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "temporarily_unavailable") {
		t.Errorf("userinfo during the outage: %d %s", rec.Code, rec.Body)
	}

	// Introspection must not call a valid token inactive because storage is down.
	req = httptest.NewRequest(http.MethodPost, "/introspect", strings.NewReader("token="+access))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	rec = httptest.NewRecorder()
	env.p.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), `"active"`) {
		t.Errorf("introspect during the outage: %d %s", rec.Code, rec.Body)
	}

	// The authorization endpoint cannot check the client: an error page, 503.
	q := url.Values{"client_id": {other}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {"openid"}}
	req = httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
	rec = httptest.NewRecorder()
	env.p.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Location") != "" || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("authorize during the outage: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}

	ds.down.Store(false)
	if status, _, body := ccToken(); status != http.StatusOK {
		t.Errorf("token after the outage: %d %v", status, body)
	}
}

// TestClientGoneIsNotAServerError: a request whose client went away (its
// context canceled, as net/http does when the connection closes) is logged
// at info level with status 499, not as a 500 at error level: load
// generators and impatient clients made every such request look like a
// server fault in the log and the 5xx metrics.
func TestClientGoneIsNotAServerError(t *testing.T) {
	var logged logbuf.Buffer
	env := newSQLiteTestEnv(t, func(c *op.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	})
	id, secret := env.client(storage.Client{Scope: []string{"api"}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials&scope=api"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	rec := httptest.NewRecorder()
	env.p.ServeHTTP(rec, req)
	if rec.Code != 499 {
		t.Errorf("status %d for a request whose client went away, want 499", rec.Code)
	}
	log := logged.String()
	if !strings.Contains(log, `level=INFO msg="request failed"`) || !strings.Contains(log, "context canceled") || strings.Contains(log, "level=ERROR") {
		t.Errorf("a request whose client went away was logged as:\n%s", log)
	}
}
