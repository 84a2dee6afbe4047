package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// The listings and revocations the console and the command line use.

func grantIDs(gs []*storage.Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

func testListGrants(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	mustClient(t, s, "rp-a")
	mustClient(t, s, "rp-b")
	g1, _, _ := mustGrant(t, s, "rp-a", "user-1")
	g2 := fullGrant("rp-b", "user-1")
	g2.CreatedAt = at(time.Minute)
	ok(t, s.CreateGrant(ctx, g2), "CreateGrant g2")
	g3, _, _ := mustGrant(t, s, "rp-a", "user-2")
	revoked, _, _ := mustGrant(t, s, "rp-a", "user-1")
	ok(t, s.RevokeGrant(ctx, revoked.ID, t0), "RevokeGrant")
	expired := fullGrant("rp-a", "user-1")
	expired.ExpiresAt = at(time.Second)
	ok(t, s.CreateGrant(ctx, expired), "CreateGrant expired")
	cc := fullGrant("rp-a", "")
	ok(t, s.CreateGrant(ctx, cc), "CreateGrant client_credentials")

	now := at(2 * time.Second)
	for _, tc := range []struct {
		q    storage.GrantQuery
		want []string
	}{
		{storage.GrantQuery{UserID: "user-1"}, []string{g2.ID, g1.ID}},
		{storage.GrantQuery{ClientID: "rp-a", UserID: "user-1"}, []string{g1.ID}},
		{storage.GrantQuery{UserID: "user-2"}, []string{g3.ID}},
		{storage.GrantQuery{UserID: "nobody"}, nil},
	} {
		got, err := s.ListGrants(ctx, tc.q, now)
		ok(t, err, "ListGrants")
		if !slices.Equal(grantIDs(got), tc.want) {
			t.Errorf("ListGrants(%+v) = %v, want %v (newest first; revoked and expired left out)", tc.q, grantIDs(got), tc.want)
		}
	}
	got, err := s.ListGrants(ctx, storage.GrantQuery{ClientID: "rp-a"}, now)
	ok(t, err, "ListGrants by client")
	ids := grantIDs(got)
	slices.Sort(ids)
	want := []string{g1.ID, g3.ID, cc.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("ListGrants(client rp-a) = %v, want %v", ids, want)
	}
	for _, g := range got {
		if g.ID == g1.ID {
			same(t, "listed grant", g1, g)
		}
	}
}

func testListClientConsents(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	mustClient(t, s, "rp-a")
	mustClient(t, s, "rp-b")
	c2 := fullConsent("user-2", "rp-a")
	c1 := fullConsent("user-1", "rp-a")
	for _, c := range []*storage.Consent{c2, c1, fullConsent("user-1", "rp-b")} {
		ok(t, s.SaveConsent(ctx, c), "SaveConsent")
	}
	got, err := s.ListClientConsents(ctx, "rp-a")
	ok(t, err, "ListClientConsents")
	if len(got) != 2 {
		t.Fatalf("ListClientConsents(rp-a) returned %d consents, want 2", len(got))
	}
	same(t, "first consent (by user id)", c1, got[0])
	same(t, "second consent", c2, got[1])
	got, err = s.ListClientConsents(ctx, "rp-none")
	ok(t, err, "ListClientConsents unknown client")
	if len(got) != 0 {
		t.Errorf("ListClientConsents(unknown) = %d consents, want none", len(got))
	}
}

// RevokeConsent deletes the consent and revokes the user's grants to that
// client (their tokens stop working), and nothing else.
func testRevokeConsent(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	mustClient(t, s, "rp-a")
	mustClient(t, s, "rp-b")
	ok(t, s.SaveConsent(ctx, fullConsent("user-1", "rp-a")), "SaveConsent")
	ok(t, s.SaveConsent(ctx, fullConsent("user-1", "rp-b")), "SaveConsent other client")
	ok(t, s.SaveConsent(ctx, fullConsent("user-2", "rp-a")), "SaveConsent other user")
	_, access, refresh := mustGrant(t, s, "rp-a", "user-1")
	_, otherClient, _ := mustGrant(t, s, "rp-b", "user-1")
	_, otherUser, _ := mustGrant(t, s, "rp-a", "user-2")

	found, err := s.RevokeConsent(ctx, "user-1", "rp-a", at(time.Second))
	ok(t, err, "RevokeConsent")
	if !found {
		t.Error("RevokeConsent reported nothing revoked")
	}
	_, err = s.Consent(ctx, "user-1", "rp-a", at(time.Second))
	is(t, err, storage.ErrNotFound, "Consent after RevokeConsent")
	for _, h := range [][]byte{access.Hash, refresh.Hash} {
		_, _, err := s.Token(ctx, h, at(2*time.Second))
		is(t, err, storage.ErrNotFound, "token of a revoked consent's grant")
	}
	for _, h := range [][]byte{otherClient.Hash, otherUser.Hash} {
		_, _, err := s.Token(ctx, h, at(2*time.Second))
		ok(t, err, "token of another grant")
	}
	for _, k := range [][2]string{{"user-1", "rp-b"}, {"user-2", "rp-a"}} {
		_, err := s.Consent(ctx, k[0], k[1], at(time.Second))
		ok(t, err, fmt.Sprintf("Consent %v", k))
	}
	found, err = s.RevokeConsent(ctx, "user-1", "rp-a", at(3*time.Second))
	ok(t, err, "RevokeConsent again")
	if found {
		t.Error("RevokeConsent of nothing reported something revoked")
	}
}

func sessionIDs(ss []*storage.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func testListSessions(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	mustClient(t, s, "rp-a")
	older := fullSession("user-1")
	newer := fullSession("user-1")
	newer.CreatedAt = at(time.Minute)
	other := fullSession("user-2")
	expired := fullSession("user-1")
	expired.ExpiresAt = at(time.Second)
	for _, ss := range []*storage.Session{older, newer, other, expired} {
		ok(t, s.CreateSession(ctx, ss), "CreateSession")
	}
	ok(t, s.AddSessionClient(ctx, &storage.SessionClient{SessionID: older.ID, ClientID: "rp-a", UserID: "user-1", CreatedAt: t0, ExpiresAt: at(day)}), "AddSessionClient")
	ok(t, s.AddSessionClient(ctx, &storage.SessionClient{SessionID: other.ID, ClientID: "rp-a", UserID: "user-2", CreatedAt: t0, ExpiresAt: at(day)}), "AddSessionClient")
	now := at(2 * time.Second)
	for _, tc := range []struct {
		q    storage.SessionQuery
		want []string
	}{
		{storage.SessionQuery{UserID: "user-1"}, []string{newer.ID, older.ID}},
		{storage.SessionQuery{UserID: "user-1", ClientID: "rp-a"}, []string{older.ID}},
		{storage.SessionQuery{ID: other.ID}, []string{other.ID}},
		{storage.SessionQuery{ID: expired.ID}, nil},
		{storage.SessionQuery{UserID: "nobody"}, nil},
	} {
		got, err := s.ListSessions(ctx, tc.q, now)
		ok(t, err, "ListSessions")
		if !slices.Equal(sessionIDs(got), tc.want) {
			t.Errorf("ListSessions(%+v) = %v, want %v", tc.q, sessionIDs(got), tc.want)
		}
	}
	got, err := s.ListSessions(ctx, storage.SessionQuery{ClientID: "rp-a"}, now)
	ok(t, err, "ListSessions by client")
	if len(got) != 2 {
		t.Errorf("ListSessions(client) = %v, want the two sessions rp-a took part in", sessionIDs(got))
	}
	got, _ = s.ListSessions(ctx, storage.SessionQuery{ID: older.ID}, now)
	if len(got) == 1 {
		same(t, "listed session", older, got[0])
	}

	ok(t, s.DeleteSessionByID(ctx, older.ID), "DeleteSessionByID")
	_, err = s.Session(ctx, older.Hash, now)
	is(t, err, storage.ErrNotFound, "Session after DeleteSessionByID")
	_, err = s.Session(ctx, newer.Hash, now)
	ok(t, err, "the user's other session")
	is(t, s.DeleteSessionByID(ctx, older.ID), storage.ErrNotFound, "DeleteSessionByID again")
	is(t, s.DeleteSessionByID(ctx, ""), storage.ErrNotFound, "DeleteSessionByID empty")
}

func testSearchUsers(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	var names []string
	for i := range 12 {
		u := fullUser(newID("user"), fmt.Sprintf("user%02d", i))
		u.Name = fmt.Sprintf("Person %d", i)
		u.Email = fmt.Sprintf("p%d@example.com", i)
		if i == 7 {
			u.Name, u.Email = "Zoë 100%_Special", "ZOE@Example.ORG"
		}
		ok(t, s.CreateUser(ctx, u), "CreateUser")
		names = append(names, u.Username)
	}
	usernames := func(us []*storage.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	for _, tc := range []struct {
		q     storage.UserQuery
		want  []string
		total int
	}{
		{storage.UserQuery{}, names, 12},
		{storage.UserQuery{Limit: 5}, names[:5], 12},
		{storage.UserQuery{Offset: 10, Limit: 5}, names[10:], 12},
		{storage.UserQuery{Offset: 10}, names[10:], 12},
		{storage.UserQuery{Search: "USER1"}, names[10:], 2},
		{storage.UserQuery{Search: "zoe@example"}, []string{"user07"}, 1},
		{storage.UserQuery{Search: "100%_"}, []string{"user07"}, 1},
		{storage.UserQuery{Search: "%"}, []string{"user07"}, 1},
		{storage.UserQuery{Search: "_"}, []string{"user07"}, 1},
		{storage.UserQuery{Search: "person 1", Limit: 1}, []string{"user01"}, 3},
		{storage.UserQuery{Search: "nobody"}, nil, 0},
	} {
		got, total, err := s.SearchUsers(ctx, tc.q)
		ok(t, err, "SearchUsers")
		if !slices.Equal(usernames(got), tc.want) || total != tc.total {
			t.Errorf("SearchUsers(%+v) = %v (total %d), want %v (total %d)", tc.q, usernames(got), total, tc.want, tc.total)
		}
	}
}

func testAuditRecords(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	var recs []*storage.AuditRecord
	for i := range 5 {
		r := &storage.AuditRecord{
			ID: fmt.Sprintf("%016x-%d", i, i), At: at(time.Duration(i/2) * time.Second),
			ActorID: "admin-1", Actor: "admin ✓", IP: "192.0.2.1",
			Action: "admin.client_updated", Target: "client:rp-a", Detail: "changed redirect_uris",
		}
		if i == 4 {
			r.ActorID, r.Actor, r.IP, r.Action, r.Target = "", "cli:root", "", "admin.key_created", "key:k1"
		}
		ok(t, s.AddAuditRecord(ctx, r), "AddAuditRecord")
		recs = append(recs, r)
	}
	is(t, s.AddAuditRecord(ctx, recs[0]), storage.ErrAlreadyExists, "AddAuditRecord duplicate id")
	got, err := s.AuditRecords(ctx, storage.AuditQuery{})
	ok(t, err, "AuditRecords")
	if len(got) != 5 {
		t.Fatalf("AuditRecords returned %d records, want 5", len(got))
	}
	for i, r := range got {
		same(t, "audit record (newest first)", recs[4-i], r)
	}
	page, err := s.AuditRecords(ctx, storage.AuditQuery{Limit: 2})
	ok(t, err, "AuditRecords page 1")
	page2, err := s.AuditRecords(ctx, storage.AuditQuery{Limit: 2, Before: page[1].At, BeforeID: page[1].ID})
	ok(t, err, "AuditRecords page 2")
	if len(page2) != 2 || page2[0].ID != recs[2].ID || page2[1].ID != recs[1].ID {
		t.Errorf("second page = %v, want records 2 and 1", page2)
	}
	byTarget, err := s.AuditRecords(ctx, storage.AuditQuery{Target: "key:k1"})
	ok(t, err, "AuditRecords by target")
	byActor, err := s.AuditRecords(ctx, storage.AuditQuery{ActorID: "admin-1", Action: "admin.client_updated"})
	ok(t, err, "AuditRecords by actor and action")
	if len(byTarget) != 1 || byTarget[0].ID != recs[4].ID || len(byActor) != 4 {
		t.Errorf("filters: by target %d records, by actor %d; want 1 and 4", len(byTarget), len(byActor))
	}
}
