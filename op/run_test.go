package op_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// waitFor polls cond every few milliseconds until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runInBackground starts p.Run and returns a channel with its result.
func runInBackground(ctx context.Context, p *op.Provider) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return done
}

func returned(t *testing.T, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// TestRunDeletesExpiredAndReloadsKeys: Run deletes expired rows every
// CleanupInterval and re-reads the signing keys every KeyRefresh without any
// request (the test clock stands still, so no request-driven reload can
// happen); cancelling its context ends it with nil.
func TestRunDeletesExpiredAndReloadsKeys(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) {
		c.CleanupInterval = 10 * time.Millisecond
		c.KeyRefresh = 10 * time.Millisecond
	})
	ctx := t.Context()
	id, _ := env.client(storage.Client{})
	now := env.clock.Now()
	expired := &storage.AuthCode{Hash: make([]byte, 32), GrantID: "g", ClientID: id, UserID: "alice",
		CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}
	expired.Hash[0] = 1
	live := &storage.AuthCode{Hash: make([]byte, 32), GrantID: "g2", ClientID: id, UserID: "alice",
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	live.Hash[0] = 2
	for _, c := range []*storage.AuthCode{expired, live} {
		if err := env.store.CreateCode(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	k, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := keys.NewSigningKey(k, env.sealer, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.store.CreateKey(ctx, sk); err != nil {
		t.Fatal(err)
	}
	jwks := func() string {
		resp, err := http.Get(env.srv.URL + "/jwks")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if strings.Contains(jwks(), sk.ID) {
		t.Fatal("the new key is published before any reload")
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := runInBackground(runCtx, env.p)
	waitFor(t, "the expired code to be deleted", func() bool {
		// Asked at a time when it was still valid: only deletion hides it.
		_, err := env.store.Code(ctx, expired.Hash, now.Add(-2*time.Minute))
		return errors.Is(err, storage.ErrNotFound)
	})
	if _, err := env.store.Code(ctx, live.Hash, now); err != nil {
		t.Fatalf("the live code was deleted: %v", err)
	}
	waitFor(t, "the new key in the JWKS", func() bool { return strings.Contains(jwks(), sk.ID) })
	cancel()
	if err := returned(t, "Run after cancel", done); err != nil {
		t.Fatalf("Run returned %v after its context ended, want nil", err)
	}
}

// TestRunEndsOnClose: Close ends a running Run and waits for it; Run on a
// closed provider refuses with ErrClosed; Close twice is fine.
func TestRunEndsOnClose(t *testing.T) {
	var ck *countingKeys
	env := newTestEnv(t, func(c *op.Config) {
		ck = &countingKeys{Provider: c.Storage}
		c.Storage = ck
		c.KeyRefresh = 5 * time.Millisecond
	})
	before := ck.n.Load()
	done := runInBackground(t.Context(), env.p)
	// Run is running once it has re-read the keys (the test clock stands
	// still, so nothing else reads them).
	waitFor(t, "Run to re-read the keys", func() bool { return ck.n.Load() > before })
	if err := env.p.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for Run's work: from now on nothing re-reads the keys,
	// although KeyRefresh has passed many times over. (Run's result reaches
	// the channel a moment after its work ends, so the channel alone cannot
	// tell.)
	after := ck.n.Load()
	time.Sleep(20 * 5 * time.Millisecond)
	if n := ck.n.Load(); n != after {
		t.Fatalf("keys re-read %d times after Close returned", n-after)
	}
	if err := returned(t, "Run after Close", done); err != nil {
		t.Fatalf("Run returned %v after Close, want nil", err)
	}
	if err := env.p.Run(t.Context()); !errors.Is(err, op.ErrClosed) {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
	if err := env.p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The handler still answers with the keys it holds.
	resp, err := http.Get(env.srv.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("jwks after Close: %d", resp.StatusCode)
	}
}

// countingKeys counts ListKeys calls.
type countingKeys struct {
	storage.Provider
	n atomic.Int64
}

func (s *countingKeys) ListKeys(ctx context.Context) ([]*storage.SigningKey, error) {
	s.n.Add(1)
	return s.Provider.ListKeys(ctx)
}

// slowKeys is a storage whose ListKeys, once armed, blocks until its
// context ends, as a hung database would.
type slowKeys struct {
	storage.Provider
	armed     atomic.Bool
	entered   chan struct{}
	cancelled atomic.Bool
}

func (s *slowKeys) ListKeys(ctx context.Context) ([]*storage.SigningKey, error) {
	if !s.armed.Load() {
		return s.Provider.ListKeys(ctx)
	}
	close(s.entered)
	<-ctx.Done()
	s.cancelled.Store(true)
	return nil, ctx.Err()
}

// TestCloseStopsKeyReload: a request that finds the keys stale starts a
// reload in the background; Close cancels it and returns only once it has
// ended, and a closed provider starts no new reload.
func TestCloseStopsKeyReload(t *testing.T) {
	var sk *slowKeys
	env := newTestEnv(t, func(c *op.Config) {
		sk = &slowKeys{Provider: c.Storage, entered: make(chan struct{})}
		c.Storage = sk
		c.KeyRefresh = time.Minute
	})
	sk.armed.Store(true)
	env.clock.Add(2 * time.Minute) // the keys are now stale
	resp, err := http.Get(env.srv.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("jwks while reloading: %d", resp.StatusCode)
	}
	select {
	case <-sk.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no background reload started")
	}
	env.p.Close()
	if !sk.cancelled.Load() {
		t.Fatal("Close returned before the background reload ended")
	}
	// Stale keys on a closed provider start nothing (ListKeys would panic
	// on closing entered twice).
	resp, err = http.Get(env.srv.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
