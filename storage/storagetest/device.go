package storagetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// Device authorizations (RFC 8628; SECURITY L5, M1).

func fullDeviceAuth(clientID string) *storage.DeviceAuth {
	return &storage.DeviceAuth{
		DeviceCodeHash: newHash(),
		UserCodeHash:   newHash(),
		ClientID:       clientID,
		Scope:          []string{"openid", "profile"},
		Status:         storage.DevicePending,
		GrantID:        newID("grant"),
		Resources:      []string{"https://api.example/v1"},
		Interval:       5 * time.Second,
		CreatedAt:      t0,
		ExpiresAt:      at(codeTTL),
	}
}

func mustDeviceAuth(t *testing.T, s storage.Provider, clientID string) *storage.DeviceAuth {
	t.Helper()
	d := fullDeviceAuth(clientID)
	ok(t, s.CreateDeviceAuth(t.Context(), d), "CreateDeviceAuth")
	return d
}

func deviceGrant(d *storage.DeviceAuth, userID string) *storage.Grant {
	return &storage.Grant{ID: d.GrantID, ClientID: d.ClientID, UserID: userID, Scope: d.Scope,
		CreatedAt: t0, ExpiresAt: at(grantTTL)}
}

func testDeviceAuthRoundTrip(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "tv")
	d := fullDeviceAuth(c.ID)
	ok(t, s.CreateDeviceAuth(ctx, d), "CreateDeviceAuth")
	got, err := s.DeviceAuthByUserCode(ctx, d.UserCodeHash, t0)
	ok(t, err, "DeviceAuthByUserCode")
	same(t, "pending device authorization", d, got)

	dec := storage.DeviceDecision{Approved: true, UserID: "alice", SessionID: newID("sid"), AuthTime: at(-time.Minute)}
	ok(t, s.DecideDeviceAuth(ctx, d.UserCodeHash, at(time.Minute), dec), "DecideDeviceAuth")
	polled, tooSoon, err := s.PollDeviceAuth(ctx, d.DeviceCodeHash, at(2*time.Minute))
	ok(t, err, "PollDeviceAuth")
	if tooSoon {
		t.Error("first poll reported as too soon")
	}
	want := *d
	want.Status, want.UserID, want.SessionID, want.AuthTime = storage.DeviceApproved, dec.UserID, dec.SessionID, dec.AuthTime
	want.LastPolledAt = at(2 * time.Minute)
	complete(t, "decided device authorization", &want, "ConsumedAt")
	same(t, "polled device authorization", &want, polled)

	g := deviceGrant(d, "alice")
	tok := newToken(g, storage.AccessToken, t0)
	consumed, err := s.ConsumeDeviceAuth(ctx, d.DeviceCodeHash, at(3*time.Minute), g, tok)
	ok(t, err, "ConsumeDeviceAuth")
	want.ConsumedAt = at(3 * time.Minute)
	same(t, "consumed device authorization", &want, consumed)
	if _, _, err := s.Token(ctx, tok.Hash, at(3*time.Minute)); err != nil {
		t.Errorf("token stored with the device grant: %v", err)
	}
}

func testDeviceAuthDuplicate(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "tv")
	d := mustDeviceAuth(t, s, c.ID)
	sameUser := fullDeviceAuth(c.ID)
	sameUser.UserCodeHash = bytes.Clone(d.UserCodeHash)
	is(t, s.CreateDeviceAuth(ctx, sameUser), storage.ErrAlreadyExists, "CreateDeviceAuth with a taken user code")
	sameDevice := fullDeviceAuth(c.ID)
	sameDevice.DeviceCodeHash = bytes.Clone(d.DeviceCodeHash)
	is(t, s.CreateDeviceAuth(ctx, sameDevice), storage.ErrAlreadyExists, "CreateDeviceAuth with a taken device code")
	if err := s.CreateDeviceAuth(ctx, fullDeviceAuth("no-such-client")); err == nil {
		t.Error("CreateDeviceAuth for an unknown client succeeded")
	}
}

func testDeviceAuthLookup(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "tv")
	d := mustDeviceAuth(t, s, c.ID)
	for name, h := range near(d.UserCodeHash) { // SECURITY B7
		_, err := s.DeviceAuthByUserCode(ctx, h, t0)
		is(t, err, storage.ErrNotFound, "DeviceAuthByUserCode with "+name+" hash")
		is(t, s.DecideDeviceAuth(ctx, h, t0, storage.DeviceDecision{Approved: true, UserID: "x"}),
			storage.ErrNotFound, "DecideDeviceAuth with "+name+" hash")
	}
	for name, h := range near(d.DeviceCodeHash) {
		_, _, err := s.PollDeviceAuth(ctx, h, t0)
		is(t, err, storage.ErrNotFound, "PollDeviceAuth with "+name+" hash")
	}
	// The device code is not a user code, nor the other way round.
	_, err := s.DeviceAuthByUserCode(ctx, d.DeviceCodeHash, t0)
	is(t, err, storage.ErrNotFound, "DeviceAuthByUserCode with the device code")
	_, _, err = s.PollDeviceAuth(ctx, d.UserCodeHash, t0)
	is(t, err, storage.ErrNotFound, "PollDeviceAuth with the user code")
	// Expired: no longer found by user code, cannot be decided; a poll
	// still sees it (to answer expired_token) and consumption fails.
	_, err = s.DeviceAuthByUserCode(ctx, d.UserCodeHash, d.ExpiresAt)
	is(t, err, storage.ErrNotFound, "DeviceAuthByUserCode at expiry")
	is(t, s.DecideDeviceAuth(ctx, d.UserCodeHash, d.ExpiresAt, storage.DeviceDecision{Approved: true, UserID: "x"}),
		storage.ErrNotFound, "DecideDeviceAuth at expiry")
	got, _, err := s.PollDeviceAuth(ctx, d.DeviceCodeHash, d.ExpiresAt)
	ok(t, err, "PollDeviceAuth at expiry")
	if got.ExpiresAt.After(d.ExpiresAt) || got.Status != storage.DevicePending {
		t.Errorf("expired poll: %+v", got)
	}
}

func testDeviceAuthDecideOnce(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "tv")
	d := mustDeviceAuth(t, s, c.ID)
	ok(t, s.DecideDeviceAuth(ctx, d.UserCodeHash, t0, storage.DeviceDecision{Approved: false, UserID: "alice"}), "deny")
	is(t, s.DecideDeviceAuth(ctx, d.UserCodeHash, t0, storage.DeviceDecision{Approved: true, UserID: "mallory"}),
		storage.ErrNotFound, "approve after deny")
	got, err := s.DeviceAuthByUserCode(ctx, d.UserCodeHash, t0)
	ok(t, err, "DeviceAuthByUserCode")
	if got.Status != storage.DeviceDenied || got.UserID != "alice" {
		t.Errorf("after deny then approve: status %q user %q, want denied by alice", got.Status, got.UserID)
	}
	_, err = s.ConsumeDeviceAuth(ctx, d.DeviceCodeHash, t0, deviceGrant(d, "alice"))
	is(t, err, storage.ErrNotFound, "ConsumeDeviceAuth of a denied authorization")
}

// RFC 8628 §3.5: a poll within the interval slows the device down by 5 s.
func testDeviceAuthPollInterval(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "tv")
	d := mustDeviceAuth(t, s, c.ID) // interval 5 s
	steps := []struct {
		after    time.Duration
		tooSoon  bool
		interval time.Duration
	}{
		{0, false, 5 * time.Second},
		{4 * time.Second, true, 10 * time.Second},  // 4 s < 5 s
		{13 * time.Second, true, 15 * time.Second}, // 9 s < 10 s
		{28 * time.Second, false, 15 * time.Second},
	}
	for _, st := range steps {
		got, tooSoon, err := s.PollDeviceAuth(ctx, d.DeviceCodeHash, at(st.after))
		ok(t, err, "PollDeviceAuth")
		if tooSoon != st.tooSoon || got.Interval != st.interval {
			t.Fatalf("poll at +%s: tooSoon %v interval %s, want %v %s", st.after, tooSoon, got.Interval, st.tooSoon, st.interval)
		}
	}
}

func testDeviceAuthConsumeOnce(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "tv")
	d := mustDeviceAuth(t, s, c.ID)
	_, err := s.ConsumeDeviceAuth(ctx, d.DeviceCodeHash, t0, deviceGrant(d, "alice"))
	is(t, err, storage.ErrNotFound, "ConsumeDeviceAuth while pending")
	ok(t, s.DecideDeviceAuth(ctx, d.UserCodeHash, t0, storage.DeviceDecision{Approved: true, UserID: "alice"}), "approve")
	_, err = s.ConsumeDeviceAuth(ctx, d.DeviceCodeHash, d.ExpiresAt, deviceGrant(d, "alice"))
	is(t, err, storage.ErrNotFound, "ConsumeDeviceAuth at expiry")
	_, err = s.ConsumeDeviceAuth(ctx, d.DeviceCodeHash, t0, deviceGrant(d, "alice"))
	ok(t, err, "ConsumeDeviceAuth")
	again := deviceGrant(d, "alice")
	again.ID = newID("grant")
	got, err := s.ConsumeDeviceAuth(ctx, d.DeviceCodeHash, t0, again)
	is(t, err, storage.ErrReused, "second ConsumeDeviceAuth")
	if got == nil || got.ConsumedAt.IsZero() {
		t.Errorf("second ConsumeDeviceAuth returned %+v, want the consumed authorization", got)
	}
	if _, err := s.Grant(ctx, again.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the losing consumption's grant was stored: %v", err)
	}
}

// SECURITY L5: of concurrent redemptions of one device code exactly one
// gets a grant.
func testConcurrentConsumeDeviceAuth(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "tv")
	d := mustDeviceAuth(t, s, c.ID)
	ok(t, s.DecideDeviceAuth(ctx, d.UserCodeHash, t0, storage.DeviceDecision{Approved: true, UserID: "alice"}), "approve")
	const n = 30
	errs := parallel(n, func(i int) error {
		g := deviceGrant(d, "alice")
		g.ID = newID("grant")
		_, err := s.ConsumeDeviceAuth(ctx, d.DeviceCodeHash, t0, g, newToken(g, storage.AccessToken, t0))
		return err
	})
	exactlyOneWins(t, "ConsumeDeviceAuth", errs)
}

func testDeviceAuthExpiryAndClientDelete(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "tv")
	dead := fullDeviceAuth(c.ID)
	dead.ExpiresAt = at(-time.Second)
	ok(t, s.CreateDeviceAuth(ctx, dead), "CreateDeviceAuth expired")
	live := mustDeviceAuth(t, s, c.ID)
	_, err := s.DeleteExpired(ctx, t0)
	ok(t, err, "DeleteExpired")
	_, _, err = s.PollDeviceAuth(ctx, dead.DeviceCodeHash, t0)
	is(t, err, storage.ErrNotFound, "expired device authorization after DeleteExpired")
	_, _, err = s.PollDeviceAuth(ctx, live.DeviceCodeHash, t0)
	ok(t, err, "live device authorization after DeleteExpired")
	ok(t, s.DeleteClient(ctx, c.ID), "DeleteClient")
	_, _, err = s.PollDeviceAuth(ctx, live.DeviceCodeHash, t0)
	is(t, err, storage.ErrNotFound, "device authorization of a deleted client")
	_, err = s.DeviceAuthByUserCode(ctx, live.UserCodeHash, t0)
	is(t, err, storage.ErrNotFound, "user code of a deleted client")
}
