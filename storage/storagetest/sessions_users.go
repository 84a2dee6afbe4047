package storagetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func testSessionRoundTrip(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	ss := fullSession("alice")
	complete(t, "session", ss)
	ok(t, s.CreateSession(ctx, ss), "CreateSession")
	got, err := s.Session(ctx, ss.Hash, at(time.Minute))
	ok(t, err, "Session")
	same(t, "session", ss, got)

	bare := &storage.Session{Hash: newHash(), ExpiresAt: at(time.Hour)}
	ok(t, s.CreateSession(ctx, bare), "CreateSession bare")
	got, err = s.Session(ctx, bare.Hash, t0)
	ok(t, err, "Session bare")
	same(t, "bare session", bare, got)
}

func testSessionCreateDuplicate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	ss := fullSession("alice")
	ok(t, s.CreateSession(ctx, ss), "CreateSession")
	dup := fullSession("mallory")
	dup.Hash = bytes.Clone(ss.Hash)
	is(t, s.CreateSession(ctx, dup), storage.ErrAlreadyExists, "CreateSession with a taken hash")
	got, err := s.Session(ctx, ss.Hash, t0)
	ok(t, err, "Session")
	same(t, "session after failed duplicate", ss, got)
}

func testSessionNotFound(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	ss := fullSession("alice")
	ok(t, s.CreateSession(ctx, ss), "CreateSession")
	_, err := s.Session(ctx, newHash(), t0)
	is(t, err, storage.ErrNotFound, "Session unknown")
	for name, h := range near(ss.Hash) { // SECURITY B7
		_, err := s.Session(ctx, h, t0)
		is(t, err, storage.ErrNotFound, "Session with "+name+" hash")
	}
}

func testSessionExpired(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	ss := fullSession("alice")
	ok(t, s.CreateSession(ctx, ss), "CreateSession")
	_, err := s.Session(ctx, ss.Hash, ss.ExpiresAt.Add(-time.Microsecond))
	ok(t, err, "Session just before ExpiresAt")
	_, err = s.Session(ctx, ss.Hash, ss.ExpiresAt)
	is(t, err, storage.ErrNotFound, "Session at ExpiresAt")
	_, err = s.Session(ctx, ss.Hash, ss.ExpiresAt.Add(time.Hour))
	is(t, err, storage.ErrNotFound, "Session after ExpiresAt")

	zero := fullSession("alice")
	zero.ExpiresAt = time.Time{}
	ok(t, s.CreateSession(ctx, zero), "CreateSession zero expiry")
	_, err = s.Session(ctx, zero.Hash, t0)
	is(t, err, storage.ErrNotFound, "Session with zero ExpiresAt")
}

func testSessionDelete(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	ss := fullSession("alice")
	other := fullSession("alice")
	ok(t, s.CreateSession(ctx, ss), "CreateSession")
	ok(t, s.CreateSession(ctx, other), "CreateSession")
	ok(t, s.DeleteSession(ctx, ss.Hash[:16]), "DeleteSession with a truncated hash")
	_, err := s.Session(ctx, ss.Hash, t0)
	ok(t, err, "Session whose truncated hash was deleted")
	ok(t, s.DeleteSession(ctx, ss.Hash), "DeleteSession")
	_, err = s.Session(ctx, ss.Hash, t0)
	is(t, err, storage.ErrNotFound, "Session after delete")
	ok(t, s.DeleteSession(ctx, ss.Hash), "DeleteSession twice")
	ok(t, s.DeleteSession(ctx, newHash()), "DeleteSession unknown")
	_, err = s.Session(ctx, other.Hash, t0)
	ok(t, err, "other Session")
}

func testDeleteUserSessions(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	a1, a2, b := fullSession("alice"), fullSession("alice"), fullSession("bob")
	for _, ss := range []*storage.Session{a1, a2, b} {
		ok(t, s.CreateSession(ctx, ss), "CreateSession")
	}
	ok(t, s.DeleteUserSessions(ctx, "alice"), "DeleteUserSessions")
	for _, ss := range []*storage.Session{a1, a2} {
		_, err := s.Session(ctx, ss.Hash, t0)
		is(t, err, storage.ErrNotFound, "alice's Session after DeleteUserSessions")
	}
	_, err := s.Session(ctx, b.Hash, t0)
	ok(t, err, "bob's Session")
	ok(t, s.DeleteUserSessions(ctx, "nobody"), "DeleteUserSessions of a user without sessions")
}

func testUserRoundTrip(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	u := fullUser("u-1", "alice")
	complete(t, "user", u)
	ok(t, s.CreateUser(ctx, u), "CreateUser")
	got, err := s.User(ctx, u.ID)
	ok(t, err, "User")
	same(t, "user", u, got)
	got, err = s.UserByUsername(ctx, "alice")
	ok(t, err, "UserByUsername")
	same(t, "user by username", u, got)

	bare := &storage.User{ID: "u-0", Username: "bare"}
	ok(t, s.CreateUser(ctx, bare), "CreateUser bare")
	got, err = s.User(ctx, bare.ID)
	ok(t, err, "User bare")
	same(t, "bare user", bare, got)
}

func testUserCreateDuplicate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	u := fullUser("u-1", "alice")
	ok(t, s.CreateUser(ctx, u), "CreateUser")
	is(t, s.CreateUser(ctx, fullUser("u-1", "alice2")), storage.ErrAlreadyExists, "CreateUser with a taken id")
	is(t, s.CreateUser(ctx, fullUser("u-2", "alice")), storage.ErrAlreadyExists, "CreateUser with a taken username")
	_, err := s.User(ctx, "u-2")
	is(t, err, storage.ErrNotFound, "User whose creation failed")
	got, err := s.User(ctx, "u-1")
	ok(t, err, "User")
	same(t, "user after failed duplicates", u, got)
}

func testUserNotFound(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	mustUser(t, s, "alice")
	_, err := s.User(ctx, "nope")
	is(t, err, storage.ErrNotFound, "User unknown")
	_, err = s.UserByUsername(ctx, "nope")
	is(t, err, storage.ErrNotFound, "UserByUsername unknown")
	is(t, s.UpdateUser(ctx, fullUser("nope", "nope")), storage.ErrNotFound, "UpdateUser unknown")
	is(t, s.DeleteUser(ctx, "nope"), storage.ErrNotFound, "DeleteUser unknown")
}

func testUserByUsername(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	u := mustUser(t, s, "alice")
	mustUser(t, s, "alice.b")
	for _, name := range []string{"Alice", "ALICE", "alice ", " alice", "alic", "alice%", "alic_", "alice\x00", "alice\xff"} {
		_, err := s.UserByUsername(ctx, name)
		is(t, err, storage.ErrNotFound, "UserByUsername("+name+")")
	}
	got, err := s.UserByUsername(ctx, "alice")
	ok(t, err, "UserByUsername")
	if got.ID != u.ID {
		t.Errorf("UserByUsername(alice) = %s, want %s", got.ID, u.ID)
	}
}

func testUserUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	u := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")

	upd := &storage.User{
		ID:           u.ID,
		Username:     "alice2",
		PasswordHash: "$argon2id$new",
		Admin:        false,
		CreatedAt:    u.CreatedAt,
		Claims: storage.Claims{
			Name:                "A",
			GivenName:           "B",
			FamilyName:          "C",
			MiddleName:          "D",
			Nickname:            "E",
			PreferredUsername:   "F",
			Profile:             "G",
			Picture:             "H",
			Website:             "I",
			Gender:              "J",
			Birthdate:           "0000-01-02",
			Zoneinfo:            "UTC",
			Locale:              "fr",
			Email:               "x@y.example",
			EmailVerified:       false,
			PhoneNumber:         "+1",
			PhoneNumberVerified: false,
			Address:             storage.Address{Country: "FR"},
			UpdatedAt:           at(time.Hour),
			Localized:           map[string]string{"nickname#fr": "Lili"},
		},
	}
	ok(t, s.UpdateUser(ctx, upd), "UpdateUser")
	got, err := s.User(ctx, u.ID)
	ok(t, err, "User")
	same(t, "updated user", upd, got)
	_, err = s.UserByUsername(ctx, "alice")
	is(t, err, storage.ErrNotFound, "UserByUsername of the old name")
	_, err = s.UserByUsername(ctx, "alice2")
	ok(t, err, "UserByUsername of the new name")

	taken := *upd
	taken.Username = bob.Username
	is(t, s.UpdateUser(ctx, &taken), storage.ErrAlreadyExists, "UpdateUser to a taken username")
	got, err = s.User(ctx, bob.ID)
	ok(t, err, "User bob")
	same(t, "bob after a clash", bob, got)
}

func testUserList(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	l, err := s.ListUsers(ctx)
	ok(t, err, "ListUsers empty")
	if len(l) != 0 {
		t.Fatalf("ListUsers on an empty store returned %d users", len(l))
	}
	carol := mustUser(t, s, "carol")
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	l, err = s.ListUsers(ctx)
	ok(t, err, "ListUsers")
	want := []*storage.User{alice, bob, carol}
	if len(l) != len(want) {
		t.Fatalf("ListUsers returned %d users, want %d", len(l), len(want))
	}
	for i := range want {
		same(t, "ListUsers (by username) ["+want[i].Username+"]", want[i], l[i])
	}
}

func testUserDeleteCascades(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")

	aSess, bSess := fullSession(alice.ID), fullSession(bob.ID)
	ok(t, s.CreateSession(ctx, aSess), "CreateSession")
	ok(t, s.CreateSession(ctx, bSess), "CreateSession")
	ok(t, s.SaveConsent(ctx, fullConsent(alice.ID, c.ID)), "SaveConsent")
	ok(t, s.SaveConsent(ctx, fullConsent(bob.ID, c.ID)), "SaveConsent")
	ag, aAccess, aRefresh := mustGrant(t, s, c.ID, alice.ID)
	bg, bAccess, _ := mustGrant(t, s, c.ID, bob.ID)

	ok(t, s.DeleteUser(ctx, alice.ID), "DeleteUser")
	_, err := s.User(ctx, alice.ID)
	is(t, err, storage.ErrNotFound, "User after delete")
	_, err = s.UserByUsername(ctx, "alice")
	is(t, err, storage.ErrNotFound, "UserByUsername after delete")
	is(t, s.DeleteUser(ctx, alice.ID), storage.ErrNotFound, "DeleteUser twice")
	_, err = s.Session(ctx, aSess.Hash, t0)
	is(t, err, storage.ErrNotFound, "Session of deleted user")
	l, err := s.ListConsents(ctx, alice.ID)
	ok(t, err, "ListConsents")
	if len(l) != 0 {
		t.Errorf("deleted user still has %d consents", len(l))
	}
	_, err = s.Grant(ctx, ag.ID)
	is(t, err, storage.ErrNotFound, "Grant of deleted user")
	tokenGone(t, s, aAccess.Hash, t0, "access token of deleted user")
	tokenGone(t, s, aRefresh.Hash, t0, "refresh token of deleted user")

	_, err = s.Session(ctx, bSess.Hash, t0)
	ok(t, err, "bob's Session")
	_, err = s.Consent(ctx, bob.ID, c.ID, t0)
	ok(t, err, "bob's Consent")
	_, err = s.Grant(ctx, bg.ID)
	ok(t, err, "bob's Grant")
	tokenFound(t, s, bAccess.Hash, t0, "bob's token")
	users, err := s.ListUsers(ctx)
	ok(t, err, "ListUsers")
	if len(users) != 1 || users[0].ID != bob.ID {
		t.Errorf("ListUsers after delete = %v, want only bob", users)
	}
}

// SetPassword changes the hash and ends everything the old password
// opened — grants with their tokens, unredeemed codes, sessions — in one
// step; for an unknown user it changes nothing at all.
func testUserSetPassword(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	aSess, bSess := fullSession(alice.ID), fullSession(bob.ID)
	ok(t, s.CreateSession(ctx, aSess), "CreateSession")
	ok(t, s.CreateSession(ctx, bSess), "CreateSession")
	ag, aAccess, aRefresh := mustGrant(t, s, c.ID, alice.ID)
	bg, bAccess, _ := mustGrant(t, s, c.ID, bob.ID)
	pending := mustCode(t, s, c.ID, alice.ID)
	redeemed := mustCode(t, s, c.ID, alice.ID)
	_, err := s.ConsumeCode(ctx, redeemed.Hash, t0, nil)
	ok(t, err, "ConsumeCode")
	ok(t, s.SaveConsent(ctx, fullConsent(alice.ID, c.ID)), "SaveConsent")
	// A grant of a user id without an account, to see that a failed call
	// changes nothing.
	ghost, ghostAccess, _ := mustGrant(t, s, c.ID, "ghost")

	is(t, s.SetPassword(ctx, "ghost", "$argon2id$x", t0), storage.ErrNotFound, "SetPassword of an unknown user")
	_, err = s.Grant(ctx, ghost.ID)
	ok(t, err, "grant after a failed SetPassword")
	tokenFound(t, s, ghostAccess.Hash, t0, "token after a failed SetPassword")

	later := at(time.Hour)
	ok(t, s.SetPassword(ctx, alice.ID, "$argon2id$new", later), "SetPassword")
	got, err := s.User(ctx, alice.ID)
	ok(t, err, "User")
	want := *alice
	want.PasswordHash, want.UpdatedAt = "$argon2id$new", later
	same(t, "user after SetPassword", &want, got)
	_, err = s.Session(ctx, aSess.Hash, t0)
	is(t, err, storage.ErrNotFound, "alice's Session after SetPassword")
	_, err = s.Grant(ctx, ag.ID)
	is(t, err, storage.ErrNotFound, "alice's Grant after SetPassword")
	tokenGone(t, s, aAccess.Hash, t0, "alice's access token after SetPassword")
	tokenGone(t, s, aRefresh.Hash, t0, "alice's refresh token after SetPassword")
	_, err = s.ConsumeCode(ctx, pending.Hash, t0, nil)
	is(t, err, storage.ErrNotFound, "alice's unredeemed code after SetPassword")
	_, err = s.ConsumeCode(ctx, redeemed.Hash, t0, nil)
	is(t, err, storage.ErrReused, "alice's redeemed code after SetPassword (still a replay)")
	_, err = s.Consent(ctx, alice.ID, c.ID, t0)
	ok(t, err, "alice's Consent (a password change does not withdraw consent)")

	_, err = s.Session(ctx, bSess.Hash, t0)
	ok(t, err, "bob's Session")
	_, err = s.Grant(ctx, bg.ID)
	ok(t, err, "bob's Grant")
	tokenFound(t, s, bAccess.Hash, t0, "bob's token")
	got, err = s.User(ctx, bob.ID)
	ok(t, err, "User bob")
	same(t, "bob after alice's SetPassword", bob, got)
}
