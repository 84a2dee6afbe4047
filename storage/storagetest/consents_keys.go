package storagetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func testConsentRoundTrip(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	want := fullConsent("alice", c.ID)
	complete(t, "consent", want)
	ok(t, s.SaveConsent(ctx, want), "SaveConsent")
	got, err := s.Consent(ctx, "alice", c.ID, at(time.Minute))
	ok(t, err, "Consent")
	same(t, "consent", want, got)
}

func testConsentReplace(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	ok(t, s.SaveConsent(ctx, fullConsent("alice", c.ID)), "SaveConsent")
	repl := &storage.Consent{
		UserID: "alice", ClientID: c.ID,
		Scope:   []string{"openid", "email", "phone"},
		Claims:  []string{"address"},
		GivenAt: at(time.Hour), ExpiresAt: at(30 * day),
	}
	ok(t, s.SaveConsent(ctx, repl), "SaveConsent again")
	got, err := s.Consent(ctx, "alice", c.ID, at(time.Hour))
	ok(t, err, "Consent")
	same(t, "replaced consent", repl, got)
	l, err := s.ListConsents(ctx, "alice")
	ok(t, err, "ListConsents")
	if len(l) != 1 {
		t.Fatalf("ListConsents after replace returned %d consents, want 1", len(l))
	}
}

func testConsentExpired(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	co := fullConsent("alice", c.ID)
	ok(t, s.SaveConsent(ctx, co), "SaveConsent")
	_, err := s.Consent(ctx, "alice", c.ID, co.ExpiresAt.Add(-time.Microsecond))
	ok(t, err, "Consent just before ExpiresAt")
	_, err = s.Consent(ctx, "alice", c.ID, co.ExpiresAt)
	is(t, err, storage.ErrNotFound, "Consent at ExpiresAt")
	_, err = s.Consent(ctx, "alice", c.ID, co.ExpiresAt.Add(day))
	is(t, err, storage.ErrNotFound, "Consent after ExpiresAt")
}

func testConsentList(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c1 := mustClient(t, s, "rp1")
	c2 := mustClient(t, s, "rp2")
	live := fullConsent("alice", c1.ID)
	expired := fullConsent("alice", c2.ID)
	expired.GivenAt, expired.ExpiresAt = at(-2*day), at(-day)
	ok(t, s.SaveConsent(ctx, live), "SaveConsent")
	ok(t, s.SaveConsent(ctx, expired), "SaveConsent expired")
	ok(t, s.SaveConsent(ctx, fullConsent("bob", c1.ID)), "SaveConsent bob")

	l, err := s.ListConsents(ctx, "alice")
	ok(t, err, "ListConsents")
	slices.SortFunc(l, func(a, b *storage.Consent) int { return strings.Compare(a.ClientID, b.ClientID) })
	if len(l) != 2 {
		t.Fatalf("ListConsents returned %d consents, want 2 (expired ones included)", len(l))
	}
	same(t, "listed consent", live, l[0])
	same(t, "listed expired consent", expired, l[1])

	l, err = s.ListConsents(ctx, "carol")
	ok(t, err, "ListConsents of a user without consents")
	if len(l) != 0 {
		t.Errorf("ListConsents of a user without consents returned %d", len(l))
	}
}

func testConsentDelete(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c1 := mustClient(t, s, "rp1")
	c2 := mustClient(t, s, "rp2")
	ok(t, s.SaveConsent(ctx, fullConsent("alice", c1.ID)), "SaveConsent")
	ok(t, s.SaveConsent(ctx, fullConsent("alice", c2.ID)), "SaveConsent")
	ok(t, s.SaveConsent(ctx, fullConsent("bob", c1.ID)), "SaveConsent")
	ok(t, s.DeleteConsent(ctx, "alice", c1.ID), "DeleteConsent")
	_, err := s.Consent(ctx, "alice", c1.ID, t0)
	is(t, err, storage.ErrNotFound, "Consent after delete")
	is(t, s.DeleteConsent(ctx, "alice", c1.ID), storage.ErrNotFound, "DeleteConsent twice")
	is(t, s.DeleteConsent(ctx, "nobody", c1.ID), storage.ErrNotFound, "DeleteConsent unknown")
	_, err = s.Consent(ctx, "alice", c2.ID, t0)
	ok(t, err, "alice's other Consent")
	_, err = s.Consent(ctx, "bob", c1.ID, t0)
	ok(t, err, "bob's Consent")
}

func testKeyRoundTrip(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	k := fullKey("kid-1", t0)
	k.RetiredAt = at(time.Hour)
	k.ActivatesAt = at(time.Minute)
	complete(t, "key", k)
	ok(t, s.CreateKey(ctx, k), "CreateKey")
	bare := &storage.SigningKey{ID: "kid-0", Alg: "EdDSA"}
	ok(t, s.CreateKey(ctx, bare), "CreateKey bare")
	l, err := s.ListKeys(ctx)
	ok(t, err, "ListKeys")
	if len(l) != 2 {
		t.Fatalf("ListKeys returned %d keys, want 2", len(l))
	}
	same(t, "key", k, l[0])
	same(t, "bare key", bare, l[1])
}

func testKeyCreateDuplicate(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	k := fullKey("kid-1", t0)
	ok(t, s.CreateKey(ctx, k), "CreateKey")
	is(t, s.CreateKey(ctx, fullKey("kid-1", at(time.Hour))), storage.ErrAlreadyExists, "CreateKey with a taken id")
	l, err := s.ListKeys(ctx)
	ok(t, err, "ListKeys")
	if len(l) != 1 {
		t.Fatalf("ListKeys returned %d keys, want 1", len(l))
	}
	same(t, "key after failed duplicate", k, l[0])
}

func testKeyList(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	l, err := s.ListKeys(ctx)
	ok(t, err, "ListKeys empty")
	if len(l) != 0 {
		t.Fatalf("ListKeys on an empty store returned %d keys", len(l))
	}
	mid := fullKey("b", at(-day))
	old := fullKey("c", at(-2*day))
	newest := fullKey("a", t0)
	for _, k := range []*storage.SigningKey{mid, old, newest} {
		ok(t, s.CreateKey(ctx, k), "CreateKey")
	}
	l, err = s.ListKeys(ctx)
	ok(t, err, "ListKeys")
	want := []*storage.SigningKey{newest, mid, old}
	if len(l) != len(want) {
		t.Fatalf("ListKeys returned %d keys, want %d", len(l), len(want))
	}
	for i := range want {
		same(t, "ListKeys (newest first) ["+want[i].ID+"]", want[i], l[i])
	}
}

func testKeyRetire(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	k := fullKey("kid-1", t0)
	other := fullKey("kid-2", at(-day))
	ok(t, s.CreateKey(ctx, k), "CreateKey")
	ok(t, s.CreateKey(ctx, other), "CreateKey")
	ok(t, s.RetireKey(ctx, k.ID, at(time.Hour)), "RetireKey")
	is(t, s.RetireKey(ctx, k.ID, at(2*time.Hour)), storage.ErrNotFound, "RetireKey of a retired key")
	is(t, s.RetireKey(ctx, "nope", t0), storage.ErrNotFound, "RetireKey unknown")
	l, err := s.ListKeys(ctx)
	ok(t, err, "ListKeys")
	if len(l) != 2 {
		t.Fatalf("ListKeys returned %d keys, want 2", len(l))
	}
	want := *k
	want.RetiredAt = at(time.Hour)
	same(t, "retired key", &want, l[0])
	same(t, "active key", other, l[1])
}

func testKeyDelete(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	ok(t, s.CreateKey(ctx, fullKey("kid-1", t0)), "CreateKey")
	ok(t, s.CreateKey(ctx, fullKey("kid-2", t0)), "CreateKey")
	ok(t, s.DeleteKey(ctx, "kid-1"), "DeleteKey")
	is(t, s.DeleteKey(ctx, "kid-1"), storage.ErrNotFound, "DeleteKey twice")
	is(t, s.DeleteKey(ctx, "nope"), storage.ErrNotFound, "DeleteKey unknown")
	l, err := s.ListKeys(ctx)
	ok(t, err, "ListKeys")
	if len(l) != 1 || l[0].ID != "kid-2" {
		t.Errorf("ListKeys after delete = %v, want only kid-2", l)
	}
}

func testCreateFirstKey(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	first := fullKey("kid-1", t0)
	created, err := s.CreateFirstKey(ctx, first)
	ok(t, err, "CreateFirstKey")
	if !created {
		t.Fatal("CreateFirstKey on an empty store returned false")
	}
	created, err = s.CreateFirstKey(ctx, fullKey("kid-2", at(time.Second)))
	ok(t, err, "CreateFirstKey again")
	if created {
		t.Error("second CreateFirstKey returned true")
	}
	l, err := s.ListKeys(ctx)
	ok(t, err, "ListKeys")
	if len(l) != 1 {
		t.Fatalf("ListKeys returned %d keys, want 1", len(l))
	}
	same(t, "first key", first, l[0])

	// Any existing key, retired or not, prevents a "first" key.
	ok(t, s.RetireKey(ctx, first.ID, at(time.Hour)), "RetireKey")
	created, err = s.CreateFirstKey(ctx, fullKey("kid-3", at(time.Hour)))
	ok(t, err, "CreateFirstKey with a retired key present")
	if created {
		t.Error("CreateFirstKey with a retired key present returned true")
	}
}
