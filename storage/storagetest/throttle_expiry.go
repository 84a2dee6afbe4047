package storagetest

import (
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func failures(t *testing.T, s storage.Provider, key string, since time.Time) int {
	t.Helper()
	n, err := s.Failures(t.Context(), key, since)
	ok(t, err, "Failures")
	return n
}

func testThrottleWindow(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	const window = 10 * time.Minute
	add := func(key string, now time.Time, want int) {
		t.Helper()
		n, err := s.AddFailure(ctx, key, now, now.Add(-window))
		ok(t, err, "AddFailure")
		if n != want {
			t.Fatalf("AddFailure(%s, %v) = %d, want %d", key, now.Sub(t0), n, want)
		}
	}
	if n := failures(t, s, "k", at(-time.Hour)); n != 0 {
		t.Fatalf("Failures of an unknown key = %d", n)
	}
	add("k", t0, 1)
	add("k", at(time.Minute), 2)
	add("k", at(2*time.Minute), 3)

	for _, c := range []struct {
		since time.Time
		want  int
	}{
		{at(-window), 3},
		{t0, 3},                   // at or after: inclusive
		{at(time.Microsecond), 2}, // just after the first
		{at(time.Minute), 2},
		{at(90 * time.Second), 1},
		{at(2 * time.Minute), 1},
		{at(3 * time.Minute), 0},
	} {
		if n := failures(t, s, "k", c.since); n != c.want {
			t.Errorf("Failures(k, t0%+v) = %d, want %d", c.since.Sub(t0), n, c.want)
		}
	}

	// The window slides: at t0+11m30s only the failures at or after
	// t0+1m30s count.
	add("k", at(11*time.Minute+30*time.Second), 2)
	// Keys are independent.
	add("k2", at(time.Minute), 1)
	if n := failures(t, s, "k", at(90*time.Second)); n != 2 {
		t.Errorf("Failures(k) after k2 = %d, want 2", n)
	}
}

func testThrottleReset(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	for range 3 {
		_, err := s.AddFailure(ctx, "k", t0, at(-time.Hour))
		ok(t, err, "AddFailure")
	}
	_, err := s.AddFailure(ctx, "other", t0, at(-time.Hour))
	ok(t, err, "AddFailure")
	ok(t, s.ResetFailures(ctx, "k"), "ResetFailures")
	if n := failures(t, s, "k", at(-day)); n != 0 {
		t.Errorf("Failures after reset = %d, want 0", n)
	}
	if n := failures(t, s, "other", at(-day)); n != 1 {
		t.Errorf("Failures of another key after reset = %d, want 1", n)
	}
	ok(t, s.ResetFailures(ctx, "unknown"), "ResetFailures unknown")

	// A key is any string, including what a hostile login form may send.
	const odd = "login:\x00\xff'; --"
	n, err := s.AddFailure(ctx, odd, t0, at(-time.Hour))
	ok(t, err, "AddFailure with an odd key")
	if n != 1 || failures(t, s, odd, at(-time.Hour)) != 1 {
		t.Errorf("odd key counted %d", n)
	}
	ok(t, s.ResetFailures(ctx, odd), "ResetFailures with an odd key")

	n, err = s.AddFailure(ctx, "k", at(time.Second), at(-time.Hour))
	ok(t, err, "AddFailure after reset")
	if n != 1 {
		t.Errorf("AddFailure after reset = %d, want 1", n)
	}
}

// DeleteExpired removes what expired and keeps what lives. Removal is seen by
// asking with an earlier now, at which the removed rows were still valid.
func testDeleteExpired(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	before := at(-150 * time.Minute) // a time at which everything below was valid

	// Codes.
	deadCode := fullCode(c.ID, "alice")
	deadCode.CreatedAt, deadCode.ExpiresAt = at(-3*time.Hour), at(-time.Minute)
	ok(t, s.CreateCode(ctx, deadCode), "CreateCode expired")
	liveCode := mustCode(t, s, c.ID, "alice")

	// Tokens: an expired access token in a live grant; a live token in an
	// expired grant.
	g := fullGrant(c.ID, "alice")
	deadAccess := newToken(g, storage.AccessToken, at(-3*time.Hour))
	liveRefresh := newToken(g, storage.RefreshToken, at(-3*time.Hour))
	ok(t, s.CreateGrant(ctx, g, deadAccess, liveRefresh), "CreateGrant")
	deadGrant := fullGrant(c.ID, "alice")
	deadGrant.CreatedAt, deadGrant.ExpiresAt = at(-3*time.Hour), at(-time.Hour)
	deadGrantToken := newToken(deadGrant, storage.RefreshToken, at(-3*time.Hour))
	ok(t, s.CreateGrant(ctx, deadGrant, deadGrantToken), "CreateGrant expired")

	// Consents.
	c2 := mustClient(t, s, "rp2")
	deadConsent := fullConsent("alice", c2.ID)
	deadConsent.GivenAt, deadConsent.ExpiresAt = at(-3*time.Hour), at(-time.Minute)
	ok(t, s.SaveConsent(ctx, deadConsent), "SaveConsent expired")
	ok(t, s.SaveConsent(ctx, fullConsent("alice", c.ID)), "SaveConsent")

	// Throttle failures: one whose 10-minute window is long over, one inside.
	_, err := s.AddFailure(ctx, "old", at(-2*time.Hour), at(-2*time.Hour-10*time.Minute))
	ok(t, err, "AddFailure old")
	_, err = s.AddFailure(ctx, "new", at(-time.Minute), at(-11*time.Minute))
	ok(t, err, "AddFailure new")

	// Preconditions, at the earlier time.
	tokenFound(t, s, deadAccess.Hash, before, "expired token, before")
	tokenFound(t, s, deadGrantToken.Hash, before, "token of expired grant, before")

	n, err := s.DeleteExpired(ctx, t0)
	ok(t, err, "DeleteExpired")
	// code, access token, grant (and its token), consent, failure
	if n < 5 {
		t.Errorf("DeleteExpired = %d, want at least 5", n)
	}

	_, err = s.ConsumeCode(ctx, deadCode.Hash, before, nil)
	is(t, err, storage.ErrNotFound, "expired code after DeleteExpired")
	tokenGone(t, s, deadAccess.Hash, before, "expired token after DeleteExpired")
	tokenGone(t, s, deadGrantToken.Hash, before, "token of expired grant after DeleteExpired")
	_, err = s.Grant(ctx, deadGrant.ID)
	is(t, err, storage.ErrNotFound, "expired grant after DeleteExpired")
	l, err := s.ListConsents(ctx, "alice")
	ok(t, err, "ListConsents")
	if len(l) != 1 || l[0].ClientID != c.ID {
		t.Errorf("consents after DeleteExpired = %v, want only the live one", l)
	}
	if n := failures(t, s, "old", at(-day)); n != 0 {
		t.Errorf("old failures after DeleteExpired = %d, want 0", n)
	}
	if n := failures(t, s, "new", at(-day)); n != 1 {
		t.Errorf("recent failures after DeleteExpired = %d, want 1", n)
	}

	// Everything live survives.
	_, err = s.Grant(ctx, g.ID)
	ok(t, err, "live Grant")
	tokenFound(t, s, liveRefresh.Hash, t0, "live token")
	_, err = s.Consent(ctx, "alice", c.ID, t0)
	ok(t, err, "live Consent")
	_, err = s.ConsumeCode(ctx, liveCode.Hash, t0, nil)
	ok(t, err, "live code")

	n, err = s.DeleteExpired(ctx, t0)
	ok(t, err, "DeleteExpired again")
	if n != 0 {
		t.Errorf("second DeleteExpired = %d, want 0", n)
	}
}
