package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// parallel runs fn(i) for i in [0, n) in n goroutines released together and
// returns their errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// SECURITY B3: of 50 concurrent redemptions exactly one succeeds; the others
// see a replay.
func testConcurrentConsumeCode(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := mustCode(t, s, c.ID, "alice")
	const n = 50
	errs := parallel(n, func(int) error {
		_, err := s.ConsumeCode(ctx, code.Hash, t0, nil)
		return err
	})
	exactlyOneWins(t, "ConsumeCode", errs)
}

// SECURITY D4: of 20 concurrent rotations of one refresh token at most one
// succeeds.
func testConcurrentRotateRefreshToken(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g, _, refresh := mustGrant(t, s, c.ID, "alice")
	const n = 20
	now := at(time.Minute)
	next := make([][]*storage.Token, n)
	for i := range next {
		next[i] = []*storage.Token{newToken(g, storage.AccessToken, now), newToken(g, storage.RefreshToken, now)}
	}
	errs := parallel(n, func(i int) error {
		_, _, err := s.RotateRefreshToken(ctx, refresh.Hash, now, next[i]...)
		return err
	})
	var won []int
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, i)
		case errors.Is(err, storage.ErrReused), errors.Is(err, storage.ErrNotFound):
		default:
			t.Errorf("concurrent RotateRefreshToken: unexpected error %v", err)
		}
	}
	if len(won) > 1 {
		t.Fatalf("%d of %d concurrent RotateRefreshToken calls succeeded, want at most 1", len(won), n)
	}
	tokenGone(t, s, refresh.Hash, now, "rotated refresh token")
	// Only the winner's tokens can have been stored.
	for i := range next {
		if len(won) == 1 && won[0] == i {
			continue
		}
		for _, tok := range next[i] {
			tokenGone(t, s, tok.Hash, now, fmt.Sprintf("token of losing rotation %d", i))
		}
	}
}

// 100 concurrent failures of one key are all counted.
func testConcurrentAddFailure(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	const n = 100
	counts := make([]int, n)
	errs := parallel(n, func(i int) error {
		var err error
		counts[i], err = s.AddFailure(ctx, "alice", t0, at(-time.Hour))
		return err
	})
	for i, err := range errs {
		ok(t, err, "concurrent AddFailure")
		if counts[i] < 1 || counts[i] > n {
			t.Errorf("concurrent AddFailure returned %d, want 1..%d", counts[i], n)
		}
	}
	if got := failures(t, s, "alice", at(-time.Hour)); got != n {
		t.Fatalf("Failures after %d concurrent AddFailure = %d (lost increments)", n, got)
	}
	// AddFailure is a reservation taken before a secret is checked
	// (SECURITY L7): concurrent calls must see distinct counts, or more than
	// the limit could pass as "below the limit".
	seen := make([]bool, n+1)
	for _, c := range counts {
		if c >= 1 && c <= n {
			if seen[c] {
				t.Fatalf("two concurrent AddFailure calls both returned %d: the count is not atomic", c)
			}
			seen[c] = true
		}
	}
}

// ReleaseFailure removes exactly one failure: the reservation of an attempt
// that succeeded.
func testReleaseFailure(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	for i := range 3 {
		_, err := s.AddFailure(ctx, "k", at(time.Duration(i)*time.Second), at(-time.Hour))
		ok(t, err, "AddFailure")
	}
	_, err := s.AddFailure(ctx, "k", at(time.Second), at(-time.Hour)) // a second row at the same time
	ok(t, err, "AddFailure")
	ok(t, s.ReleaseFailure(ctx, "k", at(time.Second)), "ReleaseFailure")
	if n := failures(t, s, "k", at(-time.Hour)); n != 3 {
		t.Fatalf("Failures after releasing one of 4 = %d, want 3", n)
	}
	ok(t, s.ReleaseFailure(ctx, "k", at(time.Hour)), "ReleaseFailure of no row")
	ok(t, s.ReleaseFailure(ctx, "other", at(0)), "ReleaseFailure of another key")
	if n := failures(t, s, "k", at(-time.Hour)); n != 3 {
		t.Fatalf("Failures after releasing nothing = %d, want 3", n)
	}
}

// Of 10 nodes starting at once exactly one stores the first key.
func testConcurrentCreateFirstKey(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	const n = 10
	keys := make([]*storage.SigningKey, n)
	for i := range keys {
		keys[i] = fullKey(fmt.Sprintf("kid-%d", i), t0)
	}
	created := make([]bool, n)
	errs := parallel(n, func(i int) error {
		var err error
		created[i], err = s.CreateFirstKey(ctx, keys[i])
		return err
	})
	winner := -1
	for i, err := range errs {
		ok(t, err, "concurrent CreateFirstKey")
		if created[i] {
			if winner >= 0 {
				t.Fatalf("CreateFirstKey returned true for both %d and %d", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent CreateFirstKey returned true")
	}
	l, err := s.ListKeys(ctx)
	ok(t, err, "ListKeys")
	if len(l) != 1 {
		t.Fatalf("ListKeys after concurrent CreateFirstKey returned %d keys, want 1", len(l))
	}
	same(t, "first key", keys[winner], l[0])
}

// A revocation racing a rotation always wins: whatever the interleaving, no
// token of the grant is usable afterwards and RevokeGrant does not fail.
func testConcurrentRotateAndRevoke(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	now := at(time.Minute)
	for round := range 10 {
		g, access, refresh := mustGrant(t, s, c.ID, "alice")
		next := []*storage.Token{newToken(g, storage.AccessToken, now), newToken(g, storage.RefreshToken, now)}
		errs := parallel(2, func(i int) error {
			if i == 0 {
				return s.RevokeGrant(ctx, g.ID, now)
			}
			_, _, err := s.RotateRefreshToken(ctx, refresh.Hash, now, next...)
			if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrReused) {
				return nil
			}
			return err
		})
		for _, err := range errs {
			ok(t, err, fmt.Sprintf("round %d: concurrent RevokeGrant and RotateRefreshToken", round))
		}
		for _, tok := range append(next, access, refresh) {
			tokenGone(t, s, tok.Hash, now, fmt.Sprintf("round %d: token after RevokeGrant", round))
		}
		_, err := s.Grant(ctx, g.ID)
		is(t, err, storage.ErrNotFound, fmt.Sprintf("round %d: Grant after RevokeGrant", round))
	}
}

// SECURITY B3 + B4 together: 50 concurrent redemptions that each bring the
// grant to create. Exactly one wins and its grant exists when the replays are
// noticed, so the replays revoke it: none of its tokens survives.
func testConcurrentRedeemWithGrant(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := mustCode(t, s, c.ID, "alice")
	const n = 50
	var mu sync.Mutex
	var winnerTokens [][]byte
	errs := parallel(n, func(int) error {
		g := grantFromCode(code)
		tok := newToken(g, storage.AccessToken, t0)
		_, err := s.ConsumeCode(ctx, code.Hash, t0, g, tok)
		if err == nil {
			mu.Lock()
			winnerTokens = append(winnerTokens, tok.Hash)
			mu.Unlock()
		}
		return err
	})
	exactlyOneWins(t, "ConsumeCode with grant", errs)
	tokenGone(t, s, winnerTokens[0], t0, "winner's token after 49 replays")
	_, err := s.Grant(ctx, code.GrantID)
	is(t, err, storage.ErrNotFound, "grant after replays")
}

// exactlyOneWins fails t unless exactly one of the concurrent calls'
// results is a success and every other one is ErrReused (SECURITY B3).
func exactlyOneWins(t *testing.T, what string, errs []error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, storage.ErrReused):
		default:
			t.Errorf("concurrent %s: unexpected error %v", what, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent %s calls succeeded, want exactly 1", wins, len(errs), what)
	}
}
