package storagetest

import (
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
