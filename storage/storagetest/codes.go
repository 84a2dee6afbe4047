package storagetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func testCodeRoundTrip(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := fullCode(c.ID, "user-1")
	complete(t, "code", code, "ConsumedAt")
	ok(t, s.CreateCode(ctx, code), "CreateCode")

	now := at(time.Minute)
	got, err := s.ConsumeCode(ctx, code.Hash, now, nil)
	ok(t, err, "ConsumeCode")
	want := *code
	want.ConsumedAt = now
	same(t, "consumed code", &want, got)

	// Zero values round-trip as zero values.
	bare := &storage.AuthCode{Hash: newHash(), ClientID: c.ID, ExpiresAt: at(codeTTL)}
	ok(t, s.CreateCode(ctx, bare), "CreateCode bare")
	got, err = s.ConsumeCode(ctx, bare.Hash, t0, nil)
	ok(t, err, "ConsumeCode bare")
	want = *bare
	want.ConsumedAt = t0
	same(t, "bare code", &want, got)
}

func testCodeCreateDuplicate(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := mustCode(t, s, c.ID, "user-1")
	dup := fullCode(c.ID, "user-2")
	dup.Hash = bytes.Clone(code.Hash)
	is(t, s.CreateCode(ctx, dup), storage.ErrAlreadyExists, "CreateCode with a taken hash")
	got, err := s.ConsumeCode(ctx, code.Hash, t0, nil)
	ok(t, err, "ConsumeCode")
	if got.UserID != "user-1" {
		t.Errorf("duplicate CreateCode replaced the code: user %q", got.UserID)
	}
}

func testCodeNotFound(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := mustCode(t, s, c.ID, "user-1")
	_, err := s.ConsumeCode(ctx, newHash(), t0, nil)
	is(t, err, storage.ErrNotFound, "ConsumeCode unknown")
	for name, h := range near(code.Hash) { // SECURITY B7
		_, err := s.ConsumeCode(ctx, h, t0, nil)
		is(t, err, storage.ErrNotFound, "ConsumeCode with "+name+" hash")
	}
	// None of that consumed the real code.
	_, err = s.ConsumeCode(ctx, code.Hash, t0, nil)
	ok(t, err, "ConsumeCode after near misses")
}

func testCodeExpired(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := mustCode(t, s, c.ID, "user-1")
	_, err := s.ConsumeCode(ctx, code.Hash, code.ExpiresAt, nil)
	is(t, err, storage.ErrNotFound, "ConsumeCode at ExpiresAt")
	_, err = s.ConsumeCode(ctx, code.Hash, code.ExpiresAt.Add(time.Hour), nil)
	is(t, err, storage.ErrNotFound, "ConsumeCode after ExpiresAt")
	// An expired attempt neither consumes the code nor counts as a replay.
	_, err = s.ConsumeCode(ctx, code.Hash, code.ExpiresAt.Add(-time.Microsecond), nil)
	ok(t, err, "ConsumeCode just before ExpiresAt")

	// A zero ExpiresAt never redeems.
	zero := fullCode(c.ID, "user-1")
	zero.ExpiresAt = time.Time{}
	ok(t, s.CreateCode(ctx, zero), "CreateCode zero expiry")
	_, err = s.ConsumeCode(ctx, zero.Hash, t0, nil)
	is(t, err, storage.ErrNotFound, "ConsumeCode of a code with zero ExpiresAt")
}

// SECURITY B3, B4: a replayed code is refused and its grant revoked.
func testCodeReplayRevokesGrant(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := mustCode(t, s, c.ID, "user-1")
	_, err := s.ConsumeCode(ctx, code.Hash, t0, nil)
	ok(t, err, "ConsumeCode")

	g := grantFromCode(code)
	access := newToken(g, storage.AccessToken, t0)
	refresh := newToken(g, storage.RefreshToken, t0)
	ok(t, s.CreateGrant(ctx, g, access, refresh), "CreateGrant")
	other, otherAccess, _ := mustGrant(t, s, c.ID, "user-1")
	tokenFound(t, s, access.Hash, t0, "access token before replay")

	now := at(time.Minute)
	got, err := s.ConsumeCode(ctx, code.Hash, now, nil)
	is(t, err, storage.ErrReused, "ConsumeCode replayed")
	if got == nil {
		t.Fatal("ConsumeCode replayed returned no code with ErrReused")
	}
	if !bytes.Equal(got.Hash, code.Hash) || got.GrantID != code.GrantID || got.ClientID != code.ClientID {
		t.Errorf("ConsumeCode replayed returned %+v, want the code", got)
	}
	if !got.ConsumedAt.Equal(t0) {
		t.Errorf("replayed code ConsumedAt = %v, want the first redemption %v", got.ConsumedAt, t0)
	}

	_, err = s.Grant(ctx, g.ID)
	is(t, err, storage.ErrNotFound, "Grant of replayed code")
	tokenGone(t, s, access.Hash, now, "access token of replayed code")
	tokenGone(t, s, refresh.Hash, now, "refresh token of replayed code")
	_, _, err = s.RotateRefreshToken(ctx, refresh.Hash, now, newToken(g, storage.AccessToken, now))
	if err == nil {
		t.Error("RotateRefreshToken of a replayed code's grant succeeded")
	}

	// Still refused the third time; other grants untouched.
	_, err = s.ConsumeCode(ctx, code.Hash, now, nil)
	is(t, err, storage.ErrReused, "ConsumeCode replayed again")
	_, err = s.Grant(ctx, other.ID)
	ok(t, err, "other Grant")
	tokenFound(t, s, otherAccess.Hash, now, "other grant's token")
}

// A replay that lands between the first redemption and the creation of its
// grant must still leave no usable grant behind.
func testCodeReplayBeforeGrantCreated(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := mustCode(t, s, c.ID, "user-1")
	_, err := s.ConsumeCode(ctx, code.Hash, t0, nil)
	ok(t, err, "ConsumeCode")
	_, err = s.ConsumeCode(ctx, code.Hash, t0, nil)
	is(t, err, storage.ErrReused, "ConsumeCode replayed")

	g := grantFromCode(code)
	access := newToken(g, storage.AccessToken, t0)
	if err := s.CreateGrant(ctx, g, access); err != nil {
		return // refused: fine
	}
	tokenGone(t, s, access.Hash, t0, "token of a grant created after its code was replayed")
	_, err = s.Grant(ctx, g.ID)
	is(t, err, storage.ErrNotFound, "grant created after its code was replayed")
}

// Code reads without consuming, reports consumption, and hides expired codes.
func testCodeLookup(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	code := mustCode(t, s, c.ID, "alice")
	got, err := s.Code(ctx, code.Hash, t0)
	ok(t, err, "Code")
	same(t, "Code", code, got)
	got, err = s.Code(ctx, code.Hash, t0)
	ok(t, err, "Code twice")
	if !got.ConsumedAt.IsZero() {
		t.Fatal("Code consumed the code")
	}
	_, err = s.Code(ctx, code.Hash, code.ExpiresAt)
	is(t, err, storage.ErrNotFound, "Code at ExpiresAt")
	for name, h := range near(code.Hash) {
		_, err := s.Code(ctx, h, t0)
		is(t, err, storage.ErrNotFound, "Code with "+name+" hash")
	}
	g := grantFromCode(code)
	tok := newToken(g, storage.AccessToken, t0)
	_, err = s.ConsumeCode(ctx, code.Hash, t0, g, tok)
	ok(t, err, "ConsumeCode with grant")
	tokenFound(t, s, tok.Hash, t0, "token created with the redemption")
	got, err = s.Code(ctx, code.Hash, t0)
	ok(t, err, "Code after redemption")
	if got.ConsumedAt.IsZero() {
		t.Fatal("Code does not report the redemption")
	}
	// A grant that cannot be stored leaves the code unconsumed.
	code2 := mustCode(t, s, c.ID, "alice")
	bad := grantFromCode(code2)
	bad.ID = ""
	_, err = s.ConsumeCode(ctx, code2.Hash, t0, bad)
	if err == nil {
		t.Fatal("ConsumeCode accepted a grant without id")
	}
	_, err = s.ConsumeCode(ctx, code2.Hash, t0, grantFromCode(code2))
	ok(t, err, "ConsumeCode after a failed attempt")
}

// A redemption is one unit with the grant and tokens it creates: when the
// database refuses one of them the code stays unused and nothing of the
// grant is kept, and a code that cannot be redeemed creates no grant.
func testCodeRedemptionIsAtomic(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")

	// The refresh token's hash is taken by another grant's token.
	other := grantFromCode(mustCode(t, s, c.ID, "bob"))
	taken := newToken(other, storage.AccessToken, t0)
	ok(t, s.CreateGrant(ctx, other, taken), "CreateGrant other")
	code := mustCode(t, s, c.ID, "alice")
	g := grantFromCode(code)
	access, refresh := newToken(g, storage.AccessToken, t0), newToken(g, storage.RefreshToken, t0)
	refresh.Hash = bytes.Clone(taken.Hash)
	if _, err := s.ConsumeCode(ctx, code.Hash, t0, g, access, refresh); err == nil {
		t.Fatal("ConsumeCode stored a token under a taken hash")
	}
	got, err := s.Code(ctx, code.Hash, t0)
	ok(t, err, "Code after a refused redemption")
	if !got.ConsumedAt.IsZero() {
		t.Fatal("a refused redemption consumed the code")
	}
	_, err = s.Grant(ctx, g.ID)
	is(t, err, storage.ErrNotFound, "grant of a refused redemption")
	tokenGone(t, s, access.Hash, t0, "access token of a refused redemption")

	// The same code then redeems, with both tokens.
	refresh = newToken(g, storage.RefreshToken, t0)
	_, err = s.ConsumeCode(ctx, code.Hash, t0, g, access, refresh)
	ok(t, err, "ConsumeCode after a refused redemption")
	tokenFound(t, s, access.Hash, t0, "access token")
	tokenFound(t, s, refresh.Hash, t0, "refresh token")

	// An expired code creates nothing.
	late := mustCode(t, s, c.ID, "alice")
	lg := grantFromCode(late)
	lt := newToken(lg, storage.AccessToken, late.ExpiresAt)
	_, err = s.ConsumeCode(ctx, late.Hash, late.ExpiresAt, lg, lt)
	is(t, err, storage.ErrNotFound, "ConsumeCode of an expired code")
	_, err = s.Grant(ctx, lg.ID)
	is(t, err, storage.ErrNotFound, "grant of an expired code")
	tokenGone(t, s, lt.Hash, late.ExpiresAt, "token of an expired code")
}
