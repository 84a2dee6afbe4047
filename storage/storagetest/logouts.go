package storagetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func sessionClient(sid, clientID string, ttl time.Duration) *storage.SessionClient {
	return &storage.SessionClient{SessionID: sid, ClientID: clientID, UserID: "alice", CreatedAt: t0, ExpiresAt: at(ttl)}
}

func logoutMessage(clientID string, due time.Duration) *storage.LogoutMessage {
	return &storage.LogoutMessage{
		ID: newID("jti"), ClientID: clientID, URI: "https://rp.example/bc?x=1",
		Subject: "alice", SessionID: newID("sid"), NextAttemptAt: at(due),
		CreatedAt: t0, ExpiresAt: at(day),
	}
}

// Back-Channel Logout 1.0 §2.3: the clients of a session are remembered
// once each, and taken by exactly one logout.
func testSessionClients(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	a := mustClient(t, s, "rp-a")
	b := mustClient(t, s, "rp-b")
	ok(t, s.AddSessionClient(ctx, sessionClient("sid-1", a.ID, time.Hour)), "AddSessionClient a")
	ok(t, s.AddSessionClient(ctx, sessionClient("sid-1", a.ID, 2*time.Hour)), "AddSessionClient a again")
	ok(t, s.AddSessionClient(ctx, sessionClient("sid-1", b.ID, -time.Minute)), "AddSessionClient b (expired)")
	ok(t, s.AddSessionClient(ctx, sessionClient("sid-2", b.ID, time.Hour)), "AddSessionClient other session")

	got, err := s.TakeSessionClients(ctx, "sid-1", t0)
	ok(t, err, "TakeSessionClients")
	if len(got) != 1 || got[0].ClientID != a.ID {
		t.Fatalf("TakeSessionClients: got %d clients, want only %s", len(got), a.ID)
	}
	same(t, "session client", sessionClient("sid-1", a.ID, 2*time.Hour), got[0])
	got, err = s.TakeSessionClients(ctx, "sid-1", t0)
	ok(t, err, "TakeSessionClients again")
	if len(got) != 0 {
		t.Fatalf("a session's clients were taken twice: %d", len(got))
	}
	got, err = s.TakeSessionClients(ctx, "sid-2", t0)
	ok(t, err, "TakeSessionClients other session")
	if len(got) != 1 || got[0].ClientID != b.ID {
		t.Fatalf("other session: got %v", got)
	}
	if _, err := s.TakeSessionClients(ctx, "", t0); err == nil {
		t.Fatal("TakeSessionClients with an empty session id succeeded")
	}
}

func testLogoutQueue(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	m1 := logoutMessage(c.ID, 0)
	m1.CreatedAt = at(-time.Minute)
	m2 := logoutMessage(c.ID, time.Minute)
	complete(t, "logout message", m1, "Attempts", "LeaseUntil", "LastError")
	ok(t, s.EnqueueLogouts(ctx, m1, m2), "EnqueueLogouts")
	dup := logoutMessage(c.ID, 0)
	dup.ID = m1.ID
	is(t, s.EnqueueLogouts(ctx, logoutMessage(c.ID, 0), dup), storage.ErrAlreadyExists, "EnqueueLogouts with a taken id")
	list, err := s.LogoutMessages(ctx)
	ok(t, err, "LogoutMessages")
	if len(list) != 2 {
		t.Fatalf("a failed enqueue stored part of its messages: %d queued", len(list))
	}
	same(t, "queued message", m1, list[0])

	got, err := s.LeaseLogout(ctx, t0, at(30*time.Second))
	ok(t, err, "LeaseLogout")
	if got.ID != m1.ID || got.Attempts != 1 || !got.LeaseUntil.Equal(at(30*time.Second)) {
		t.Fatalf("LeaseLogout: got %s attempts %d lease %v", got.ID, got.Attempts, got.LeaseUntil)
	}
	_, err = s.LeaseLogout(ctx, t0, at(30*time.Second))
	is(t, err, storage.ErrNotFound, "LeaseLogout with the only due message leased")

	ok(t, s.RetryLogout(ctx, m1.ID, at(2*time.Minute), "connection refused"), "RetryLogout")
	is(t, s.RetryLogout(ctx, "jti-unknown", at(time.Minute), "x"), storage.ErrNotFound, "RetryLogout unknown")
	// At +1m only m2 is due; at +2m m1 again, with its error remembered.
	got, err = s.LeaseLogout(ctx, at(time.Minute), at(time.Minute+30*time.Second))
	ok(t, err, "LeaseLogout m2")
	if got.ID != m2.ID {
		t.Fatalf("LeaseLogout at +1m: got %s, want m2", got.ID)
	}
	ok(t, s.DeleteLogout(ctx, m2.ID), "DeleteLogout")
	ok(t, s.DeleteLogout(ctx, m2.ID), "DeleteLogout again")
	got, err = s.LeaseLogout(ctx, at(2*time.Minute), at(3*time.Minute))
	ok(t, err, "LeaseLogout m1 again")
	if got.ID != m1.ID || got.Attempts != 2 || got.LastError != "connection refused" {
		t.Fatalf("retried message: %s attempts %d error %q", got.ID, got.Attempts, got.LastError)
	}
}

// A node that dies holding a lease loses nothing: the message is due again
// when the lease lapses.
func testLogoutLease(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	m := logoutMessage(c.ID, 0)
	ok(t, s.EnqueueLogouts(ctx, m), "EnqueueLogouts")
	_, err := s.LeaseLogout(ctx, t0, at(10*time.Second))
	ok(t, err, "LeaseLogout")
	_, err = s.LeaseLogout(ctx, at(10*time.Second-time.Microsecond), at(20*time.Second))
	is(t, err, storage.ErrNotFound, "LeaseLogout before the lease lapses")
	got, err := s.LeaseLogout(ctx, at(10*time.Second), at(20*time.Second))
	ok(t, err, "LeaseLogout after the lease lapsed")
	if got.ID != m.ID || got.Attempts != 2 {
		t.Fatalf("lapsed lease: got %s attempts %d", got.ID, got.Attempts)
	}
}

func testLogoutExpiryAndCascade(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	a := mustClient(t, s, "rp-a")
	b := mustClient(t, s, "rp-b")
	old := logoutMessage(a.ID, 0)
	old.ExpiresAt = at(time.Hour)
	fresh := logoutMessage(a.ID, 0)
	ofB := logoutMessage(b.ID, 0)
	ok(t, s.EnqueueLogouts(ctx, old, fresh, ofB), "EnqueueLogouts")
	ok(t, s.AddSessionClient(ctx, sessionClient("sid-old", a.ID, time.Hour)), "AddSessionClient")
	ok(t, s.AddSessionClient(ctx, sessionClient("sid-b", b.ID, 2*day)), "AddSessionClient b")
	_, err := s.DeleteExpired(ctx, at(time.Hour))
	ok(t, err, "DeleteExpired")
	list, err := s.LogoutMessages(ctx)
	ok(t, err, "LogoutMessages")
	ids := []string{}
	for _, m := range list {
		ids = append(ids, m.ID)
	}
	if slices.Contains(ids, old.ID) || !slices.Contains(ids, fresh.ID) || !slices.Contains(ids, ofB.ID) {
		t.Fatalf("after DeleteExpired: %v", ids)
	}
	got, err := s.TakeSessionClients(ctx, "sid-old", t0)
	ok(t, err, "TakeSessionClients")
	if len(got) != 0 {
		t.Fatal("an expired session client survived DeleteExpired")
	}
	ok(t, s.DeleteClient(ctx, b.ID), "DeleteClient")
	list, err = s.LogoutMessages(ctx)
	ok(t, err, "LogoutMessages")
	if len(list) != 1 || list[0].ID != fresh.ID {
		t.Fatalf("deleting a client left its messages: %d queued", len(list))
	}
	got, err = s.TakeSessionClients(ctx, "sid-b", t0)
	ok(t, err, "TakeSessionClients b")
	if len(got) != 0 {
		t.Fatal("deleting a client left its session clients")
	}
}

// Several nodes delivering: 20 concurrent leases of 5 due messages hand out
// each message exactly once.
func testConcurrentLeaseLogout(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	var want []string
	for range 5 {
		m := logoutMessage(c.ID, 0)
		ok(t, s.EnqueueLogouts(ctx, m), "EnqueueLogouts")
		want = append(want, m.ID)
	}
	var mu sync.Mutex
	var got []string
	errs := parallel(20, func(int) error {
		m, err := s.LeaseLogout(ctx, t0, at(time.Minute))
		if err != nil {
			return err
		}
		mu.Lock()
		got = append(got, m.ID)
		mu.Unlock()
		return nil
	})
	for _, err := range errs {
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LeaseLogout: %v", err)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("leased %v, want each of %v once", got, want)
	}
}

func testConcurrentTakeSessionClients(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	a := mustClient(t, s, "rp-a")
	b := mustClient(t, s, "rp-b")
	ok(t, s.AddSessionClient(ctx, sessionClient("sid", a.ID, time.Hour)), "AddSessionClient")
	ok(t, s.AddSessionClient(ctx, sessionClient("sid", b.ID, time.Hour)), "AddSessionClient")
	var total int
	var mu sync.Mutex
	errs := parallel(10, func(int) error {
		got, err := s.TakeSessionClients(ctx, "sid", t0)
		mu.Lock()
		total += len(got)
		mu.Unlock()
		return err
	})
	for _, err := range errs {
		ok(t, err, "TakeSessionClients")
	}
	if total != 2 {
		t.Fatalf("10 concurrent logouts took %d session clients, want 2", total)
	}
}
