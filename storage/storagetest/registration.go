package storagetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func testRegistrationTokenUses(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	once := &storage.RegistrationToken{Hash: newHash(), UsesLeft: 1, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	twice := &storage.RegistrationToken{Hash: newHash(), UsesLeft: 2, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	unlimited := &storage.RegistrationToken{Hash: newHash(), UsesLeft: 0, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	for _, rt := range []*storage.RegistrationToken{once, twice, unlimited} {
		ok(t, s.CreateRegistrationToken(ctx, rt), "CreateRegistrationToken")
	}
	is(t, s.CreateRegistrationToken(ctx, &storage.RegistrationToken{Hash: once.Hash, UsesLeft: 1, ExpiresAt: at(time.Hour)}),
		storage.ErrAlreadyExists, "CreateRegistrationToken duplicate")
	got, err := s.RegistrationToken(ctx, twice.Hash, at(time.Minute))
	ok(t, err, "RegistrationToken")
	if got.UsesLeft != 2 || !got.ExpiresAt.Equal(twice.ExpiresAt) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("RegistrationToken = %+v", got)
	}
	ok(t, s.UseRegistrationToken(ctx, once.Hash, at(time.Minute)), "use once")
	is(t, s.UseRegistrationToken(ctx, once.Hash, at(time.Minute)), storage.ErrNotFound, "use once again")
	_, err = s.RegistrationToken(ctx, once.Hash, at(time.Minute))
	is(t, err, storage.ErrNotFound, "RegistrationToken used up")
	ok(t, s.UseRegistrationToken(ctx, twice.Hash, at(time.Minute)), "use twice 1")
	if got, _ := s.RegistrationToken(ctx, twice.Hash, at(time.Minute)); got == nil || got.UsesLeft != 1 {
		t.Fatalf("after one use: %+v", got)
	}
	ok(t, s.UseRegistrationToken(ctx, twice.Hash, at(time.Minute)), "use twice 2")
	is(t, s.UseRegistrationToken(ctx, twice.Hash, at(time.Minute)), storage.ErrNotFound, "use twice 3")
	for range 5 {
		ok(t, s.UseRegistrationToken(ctx, unlimited.Hash, at(time.Minute)), "use unlimited")
	}
	is(t, s.UseRegistrationToken(ctx, newHash(), at(time.Minute)), storage.ErrNotFound, "use unknown")
	// A truncated digest is not found (SECURITY B7).
	is(t, s.UseRegistrationToken(ctx, unlimited.Hash[:16], at(time.Minute)), storage.ErrNotFound, "use truncated")
}

func testRegistrationTokenExpiry(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	rt := &storage.RegistrationToken{Hash: newHash(), UsesLeft: 0, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	ok(t, s.CreateRegistrationToken(ctx, rt), "CreateRegistrationToken")
	is(t, s.UseRegistrationToken(ctx, rt.Hash, at(time.Hour)), storage.ErrNotFound, "use at expiry")
	_, err := s.RegistrationToken(ctx, rt.Hash, at(2*time.Hour))
	is(t, err, storage.ErrNotFound, "RegistrationToken expired")
	ok(t, s.UseRegistrationToken(ctx, rt.Hash, at(time.Minute)), "use before expiry")
	n, err := s.DeleteExpired(ctx, at(2*time.Hour))
	ok(t, err, "DeleteExpired")
	if n < 1 {
		t.Fatalf("DeleteExpired removed %d rows, want the expired token", n)
	}
	_, err = s.RegistrationToken(ctx, rt.Hash, at(time.Minute))
	is(t, err, storage.ErrNotFound, "RegistrationToken after DeleteExpired")
}

// testConcurrentUseRegistrationToken: a token with 3 uses admits exactly 3
// of 20 concurrent registrations.
func testConcurrentUseRegistrationToken(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	rt := &storage.RegistrationToken{Hash: newHash(), UsesLeft: 3, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	ok(t, s.CreateRegistrationToken(ctx, rt), "CreateRegistrationToken")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.UseRegistrationToken(ctx, rt.Hash, at(time.Minute)); err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 3 {
		t.Fatalf("%d of 20 concurrent uses succeeded, want 3", wins.Load())
	}
}

func testUseOnce(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	k, other := newHash(), newHash()
	ok(t, s.UseOnce(ctx, k, t0, at(time.Minute)), "UseOnce")
	is(t, s.UseOnce(ctx, k, at(30*time.Second), at(2*time.Minute)), storage.ErrReused, "UseOnce replayed")
	ok(t, s.UseOnce(ctx, other, at(30*time.Second), at(2*time.Minute)), "UseOnce another key")
	// After it expires the value may be recorded again (its own expiry then
	// refuses it anyway where it matters).
	ok(t, s.UseOnce(ctx, k, at(time.Minute), at(3*time.Minute)), "UseOnce after expiry")
	is(t, s.UseOnce(ctx, k, at(2*time.Minute), at(4*time.Minute)), storage.ErrReused, "UseOnce replayed again")
	n, err := s.DeleteExpired(ctx, at(5*time.Minute))
	ok(t, err, "DeleteExpired")
	if n < 2 {
		t.Fatalf("DeleteExpired removed %d rows, want the two one-time values", n)
	}
	ok(t, s.UseOnce(ctx, k, at(5*time.Minute), at(6*time.Minute)), "UseOnce after DeleteExpired")

	// The read side, where a backend offers it: recorded until it expires.
	if l, isLookups := s.(storage.ReplayLookups); isLookups {
		for _, c := range []struct {
			key  []byte
			now  time.Time
			want bool
		}{
			{k, at(5 * time.Minute), true}, {k, at(6*time.Minute - time.Microsecond), true},
			{k, at(6 * time.Minute), false}, {other, at(5 * time.Minute), false}, {newHash(), t0, false},
		} {
			got, err := l.Recorded(ctx, c.key, c.now)
			ok(t, err, "Recorded")
			if got != c.want {
				t.Errorf("Recorded at %v: %v, want %v", c.now.Sub(t0), got, c.want)
			}
		}
	}
}

// testConcurrentUseOnce: of 20 concurrent uses of one value exactly one wins.
func testConcurrentUseOnce(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	k := newHash()
	var wins, reused atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := s.UseOnce(ctx, k, t0, at(time.Minute)); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, storage.ErrReused):
				reused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || reused.Load() != 19 {
		t.Fatalf("%d wins, %d replays refused; want 1 and 19", wins.Load(), reused.Load())
	}
}

func testPushedRequest(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	mustClient(t, s, "rp")
	r := &storage.PushedRequest{Hash: newHash(), ClientID: "rp", Params: "client_id=rp&scope=openid+profile&state=%22x%22",
		CreatedAt: t0, ExpiresAt: at(time.Minute)}
	complete(t, "pushed request", r)
	ok(t, s.CreatePushedRequest(ctx, r), "CreatePushedRequest")
	is(t, s.CreatePushedRequest(ctx, r), storage.ErrAlreadyExists, "CreatePushedRequest duplicate")
	got, err := s.PushedRequest(ctx, r.Hash, at(time.Second))
	ok(t, err, "PushedRequest")
	same(t, "pushed request", r, got)
	// Reading does not use it up; consuming does, once.
	_, err = s.PushedRequest(ctx, r.Hash, at(time.Second))
	ok(t, err, "PushedRequest again")
	ok(t, s.ConsumePushedRequest(ctx, r.Hash, at(time.Second)), "ConsumePushedRequest")
	is(t, s.ConsumePushedRequest(ctx, r.Hash, at(time.Second)), storage.ErrNotFound, "ConsumePushedRequest again")
	_, err = s.PushedRequest(ctx, r.Hash, at(time.Second))
	is(t, err, storage.ErrNotFound, "PushedRequest consumed")

	// Expiry.
	old := &storage.PushedRequest{Hash: newHash(), ClientID: "rp", Params: "a=b", CreatedAt: t0, ExpiresAt: at(time.Minute)}
	ok(t, s.CreatePushedRequest(ctx, old), "CreatePushedRequest old")
	_, err = s.PushedRequest(ctx, old.Hash, at(time.Minute))
	is(t, err, storage.ErrNotFound, "PushedRequest expired")
	is(t, s.ConsumePushedRequest(ctx, old.Hash, at(2*time.Minute)), storage.ErrNotFound, "ConsumePushedRequest expired")
	n, err := s.DeleteExpired(ctx, at(2*time.Minute))
	ok(t, err, "DeleteExpired")
	if n < 1 {
		t.Fatalf("DeleteExpired removed %d rows", n)
	}
	// A deleted client takes its pushed requests along.
	gone := &storage.PushedRequest{Hash: newHash(), ClientID: "rp", Params: "a=b", CreatedAt: t0, ExpiresAt: at(time.Hour)}
	ok(t, s.CreatePushedRequest(ctx, gone), "CreatePushedRequest gone")
	ok(t, s.DeleteClient(ctx, "rp"), "DeleteClient")
	_, err = s.PushedRequest(ctx, gone.Hash, at(time.Second))
	is(t, err, storage.ErrNotFound, "PushedRequest of a deleted client")
}

// testConcurrentConsumePushedRequest: of 20 concurrent uses exactly one wins.
func testConcurrentConsumePushedRequest(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	mustClient(t, s, "rp")
	r := &storage.PushedRequest{Hash: newHash(), ClientID: "rp", Params: "a=b", CreatedAt: t0, ExpiresAt: at(time.Hour)}
	ok(t, s.CreatePushedRequest(ctx, r), "CreatePushedRequest")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.ConsumePushedRequest(ctx, r.Hash, at(time.Second)) == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of 20 concurrent consumptions won, want 1", wins.Load())
	}
}
