package storagetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func testGrantRoundTrip(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g := fullGrant(c.ID, "user-1")
	complete(t, "grant", g, "RevokedAt")
	access := newToken(g, storage.AccessToken, t0)
	refresh := newToken(g, storage.RefreshToken, t0)
	refresh.Scope = []string{"openid"}
	access.Audience = []string{"api-b", "api-c"}
	access.JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	complete(t, "token", access, "UsedAt")
	ok(t, s.CreateGrant(ctx, g, access, refresh), "CreateGrant")

	got, err := s.Grant(ctx, g.ID)
	ok(t, err, "Grant")
	same(t, "grant", g, got)

	for _, want := range []*storage.Token{access, refresh} {
		tok, tg, err := s.Token(ctx, want.Hash, at(time.Minute))
		ok(t, err, "Token "+string(want.Kind))
		same(t, string(want.Kind)+" token", want, tok)
		same(t, "grant of "+string(want.Kind)+" token", g, tg)
	}

	// A grant may be created without tokens.
	empty := fullGrant(c.ID, "user-2")
	ok(t, s.CreateGrant(ctx, empty), "CreateGrant without tokens")
	got, err = s.Grant(ctx, empty.ID)
	ok(t, err, "Grant without tokens")
	same(t, "grant without tokens", empty, got)
}

// A client_credentials grant has no user, session or auth time; a zero
// ExpiresAt on a grant means it is not bounded.
func testGrantClientCredentials(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g := &storage.Grant{ID: newID("grant"), ClientID: c.ID, Scope: []string{"api:read"}, CreatedAt: t0}
	access := newToken(g, storage.AccessToken, t0)
	ok(t, s.CreateGrant(ctx, g, access), "CreateGrant")
	got, err := s.Grant(ctx, g.ID)
	ok(t, err, "Grant")
	same(t, "client_credentials grant", g, got)
	tok, tg, err := s.Token(ctx, access.Hash, at(time.Minute))
	ok(t, err, "Token")
	same(t, "client_credentials token", access, tok)
	same(t, "client_credentials token's grant", g, tg)
}

func testGrantCreateDuplicate(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g, access, _ := mustGrant(t, s, c.ID, "user-1")

	dup := fullGrant(c.ID, "user-2")
	dup.ID = g.ID
	is(t, s.CreateGrant(ctx, dup, newToken(dup, storage.AccessToken, t0)), storage.ErrAlreadyExists, "CreateGrant with a taken id")
	got, err := s.Grant(ctx, g.ID)
	ok(t, err, "Grant")
	same(t, "grant after failed duplicate", g, got)

	// A token hash collision fails the whole CreateGrant: no grant is left.
	g2 := fullGrant(c.ID, "user-2")
	fresh := newToken(g2, storage.RefreshToken, t0)
	clash := newToken(g2, storage.AccessToken, t0)
	clash.Hash = bytes.Clone(access.Hash)
	is(t, s.CreateGrant(ctx, g2, fresh, clash), storage.ErrAlreadyExists, "CreateGrant with a taken token hash")
	_, err = s.Grant(ctx, g2.ID)
	is(t, err, storage.ErrNotFound, "Grant after failed CreateGrant")
	tokenGone(t, s, fresh.Hash, t0, "token of failed CreateGrant")
	tok := tokenFound(t, s, access.Hash, t0, "original token after clash")
	if tok.GrantID != g.ID {
		t.Errorf("token clash moved the token to grant %q", tok.GrantID)
	}
}

func testGrantNotFound(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g, _, _ := mustGrant(t, s, c.ID, "user-1")
	_, err := s.Grant(ctx, "nope")
	is(t, err, storage.ErrNotFound, "Grant unknown")
	_, err = s.Grant(ctx, g.ID+"x")
	is(t, err, storage.ErrNotFound, "Grant with extended id")
}

func testTokenNotFound(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	_, access, refresh := mustGrant(t, s, c.ID, "user-1")
	tokenGone(t, s, newHash(), t0, "unknown token")
	for _, tok := range []*storage.Token{access, refresh} {
		for name, h := range near(tok.Hash) { // SECURITY B7
			tokenGone(t, s, h, t0, string(tok.Kind)+" token with "+name+" hash")
		}
		tokenFound(t, s, tok.Hash, t0, string(tok.Kind)+" token")
	}
	_, _, err := s.Token(ctx, nil, t0)
	is(t, err, storage.ErrNotFound, "Token(nil)")
}

func testTokenExpired(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	_, access, refresh := mustGrant(t, s, c.ID, "user-1")
	for _, tok := range []*storage.Token{access, refresh} {
		tokenFound(t, s, tok.Hash, tok.ExpiresAt.Add(-time.Microsecond), string(tok.Kind)+" token just before ExpiresAt")
		tokenGone(t, s, tok.Hash, tok.ExpiresAt, string(tok.Kind)+" token at ExpiresAt")
		tokenGone(t, s, tok.Hash, tok.ExpiresAt.Add(time.Hour), string(tok.Kind)+" token after ExpiresAt")
	}
	_, _, err := s.RotateRefreshToken(ctx, refresh.Hash, refresh.ExpiresAt)
	is(t, err, storage.ErrNotFound, "RotateRefreshToken at ExpiresAt")

	// A zero ExpiresAt is never valid.
	g := fullGrant(c.ID, "user-1")
	zero := newToken(g, storage.AccessToken, t0)
	zero.ExpiresAt = time.Time{}
	ok(t, s.CreateGrant(ctx, g, zero), "CreateGrant")
	tokenGone(t, s, zero.Hash, t0, "token with zero ExpiresAt")
}

// Tokens cannot outlive their grant: once the grant's ExpiresAt has passed
// they are not found, as DeleteExpired will remove them.
func testTokenOfExpiredGrant(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g := fullGrant(c.ID, "user-1")
	g.ExpiresAt = at(time.Hour)
	refresh := newToken(g, storage.RefreshToken, t0) // outlives the grant
	ok(t, s.CreateGrant(ctx, g, refresh), "CreateGrant")
	tokenFound(t, s, refresh.Hash, at(time.Hour-time.Second), "token before its grant expires")
	tokenGone(t, s, refresh.Hash, at(time.Hour), "token once its grant expired")
	_, _, err := s.RotateRefreshToken(ctx, refresh.Hash, at(2*time.Hour), newToken(g, storage.AccessToken, at(2*time.Hour)))
	is(t, err, storage.ErrNotFound, "RotateRefreshToken of an expired grant")
}

// SECURITY D4: rotation on use.
func testRotateRefreshToken(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g := fullGrant(c.ID, "user-1")
	a1 := newToken(g, storage.AccessToken, t0)
	a2 := newToken(g, storage.AccessToken, t0)
	r1 := newToken(g, storage.RefreshToken, t0)
	ok(t, s.CreateGrant(ctx, g, a1, a2, r1), "CreateGrant")
	other, otherAccess, otherRefresh := mustGrant(t, s, c.ID, "user-1")

	now := at(time.Minute)
	a3 := newToken(g, storage.AccessToken, now)
	r2 := newToken(g, storage.RefreshToken, now)
	old, og, err := s.RotateRefreshToken(ctx, r1.Hash, now, a3, r2)
	ok(t, err, "RotateRefreshToken")
	want := *r1
	want.UsedAt = now
	same(t, "rotated token", &want, old)
	same(t, "grant of rotated token", g, og)

	tokenGone(t, s, r1.Hash, now, "rotated refresh token")
	tokenGone(t, s, a1.Hash, now, "older access token 1")
	tokenGone(t, s, a2.Hash, now, "older access token 2")
	for _, tok := range []*storage.Token{a3, r2} {
		got := tokenFound(t, s, tok.Hash, now, "new "+string(tok.Kind)+" token")
		same(t, "new "+string(tok.Kind)+" token", tok, got)
	}
	tokenFound(t, s, otherAccess.Hash, now, "other grant's access token")
	tokenFound(t, s, otherRefresh.Hash, now, "other grant's refresh token")

	// The new refresh token rotates in turn; the grant stays.
	later := at(2 * time.Minute)
	a4 := newToken(g, storage.AccessToken, later)
	r3 := newToken(g, storage.RefreshToken, later)
	_, _, err = s.RotateRefreshToken(ctx, r2.Hash, later, a4, r3)
	ok(t, err, "RotateRefreshToken of the new token")
	tokenGone(t, s, a3.Hash, later, "access token of the previous rotation")
	tokenFound(t, s, a4.Hash, later, "access token of the second rotation")
	tokenFound(t, s, r3.Hash, later, "refresh token of the second rotation")
	_, err = s.Grant(ctx, g.ID)
	ok(t, err, "Grant after rotations")
	_, err = s.Grant(ctx, other.ID)
	ok(t, err, "other Grant after rotations")

	// Rotation with only an access token (no new refresh token).
	_, _, err = s.RotateRefreshToken(ctx, r3.Hash, later, newToken(g, storage.AccessToken, later))
	ok(t, err, "RotateRefreshToken without a new refresh token")
	tokenGone(t, s, r3.Hash, later, "refresh token rotated without successor")
}

// SECURITY D4: presenting a rotated refresh token revokes the whole grant.
func testRotateRefreshTokenReuse(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g, _, r1 := mustGrant(t, s, c.ID, "user-1")
	other, otherAccess, _ := mustGrant(t, s, c.ID, "user-1")

	now := at(time.Minute)
	a2 := newToken(g, storage.AccessToken, now)
	r2 := newToken(g, storage.RefreshToken, now)
	_, _, err := s.RotateRefreshToken(ctx, r1.Hash, now, a2, r2)
	ok(t, err, "RotateRefreshToken")

	later := at(2 * time.Minute)
	a3 := newToken(g, storage.AccessToken, later)
	r3 := newToken(g, storage.RefreshToken, later)
	_, _, err = s.RotateRefreshToken(ctx, r1.Hash, later, a3, r3)
	is(t, err, storage.ErrReused, "RotateRefreshToken of a rotated token")

	_, err = s.Grant(ctx, g.ID)
	is(t, err, storage.ErrNotFound, "Grant after reuse")
	for name, h := range map[string][]byte{"a2": a2.Hash, "r2": r2.Hash, "a3": a3.Hash, "r3": r3.Hash, "r1": r1.Hash} {
		tokenGone(t, s, h, later, "token "+name+" after reuse")
	}
	_, _, err = s.RotateRefreshToken(ctx, r2.Hash, later, newToken(g, storage.AccessToken, later))
	if err == nil {
		t.Error("RotateRefreshToken of the successor succeeded after reuse revoked the grant")
	}
	_, err = s.Grant(ctx, other.ID)
	ok(t, err, "other Grant")
	tokenFound(t, s, otherAccess.Hash, later, "other grant's token")
}

func testRotateRefreshTokenNotFound(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g, access, refresh := mustGrant(t, s, c.ID, "user-1")
	next := func() *storage.Token { return newToken(g, storage.AccessToken, t0) }

	_, _, err := s.RotateRefreshToken(ctx, newHash(), t0, next())
	is(t, err, storage.ErrNotFound, "RotateRefreshToken unknown")
	for name, h := range near(refresh.Hash) { // SECURITY B7
		_, _, err := s.RotateRefreshToken(ctx, h, t0, next())
		is(t, err, storage.ErrNotFound, "RotateRefreshToken with "+name+" hash")
	}
	_, _, err = s.RotateRefreshToken(ctx, access.Hash, t0, next())
	is(t, err, storage.ErrNotFound, "RotateRefreshToken of an access token")
	tokenFound(t, s, access.Hash, t0, "access token presented for rotation")

	_, _, err = s.RotateRefreshToken(ctx, refresh.Hash, refresh.ExpiresAt.Add(time.Second), next())
	is(t, err, storage.ErrNotFound, "RotateRefreshToken expired")
	_, err = s.Grant(ctx, g.ID)
	ok(t, err, "Grant after an expired refresh (not a reuse)")

	// None of the above used the token up.
	n := next()
	_, _, err = s.RotateRefreshToken(ctx, refresh.Hash, t0, n)
	ok(t, err, "RotateRefreshToken after failures")
	tokenFound(t, s, n.Hash, t0, "new access token")

	// Revoked grant.
	g2, _, r2 := mustGrant(t, s, c.ID, "user-1")
	ok(t, s.RevokeGrant(ctx, g2.ID, t0), "RevokeGrant")
	_, _, err = s.RotateRefreshToken(ctx, r2.Hash, t0, newToken(g2, storage.AccessToken, t0))
	is(t, err, storage.ErrNotFound, "RotateRefreshToken of a revoked grant")
}

func testRevokeGrant(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g, access, refresh := mustGrant(t, s, c.ID, "user-1")
	other, otherAccess, _ := mustGrant(t, s, c.ID, "user-1")

	ok(t, s.RevokeGrant(ctx, g.ID, at(time.Minute)), "RevokeGrant")
	_, err := s.Grant(ctx, g.ID)
	is(t, err, storage.ErrNotFound, "Grant after revoke")
	tokenGone(t, s, access.Hash, at(time.Minute), "access token after revoke")
	tokenGone(t, s, refresh.Hash, at(time.Minute), "refresh token after revoke")
	_, _, err = s.RotateRefreshToken(ctx, refresh.Hash, at(time.Minute), newToken(g, storage.AccessToken, t0))
	if err == nil {
		t.Error("RotateRefreshToken succeeded after RevokeGrant")
	}

	ok(t, s.RevokeGrant(ctx, g.ID, at(2*time.Minute)), "RevokeGrant twice")
	ok(t, s.RevokeGrant(ctx, "nope", t0), "RevokeGrant unknown")
	_, err = s.Grant(ctx, other.ID)
	ok(t, err, "other Grant")
	tokenFound(t, s, otherAccess.Hash, at(time.Minute), "other grant's token")
}

func testDeleteToken(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g, access, refresh := mustGrant(t, s, c.ID, "user-1")
	ok(t, s.DeleteToken(ctx, access.Hash), "DeleteToken")
	tokenGone(t, s, access.Hash, t0, "deleted token")
	tokenFound(t, s, refresh.Hash, t0, "sibling token")
	_, err := s.Grant(ctx, g.ID)
	ok(t, err, "Grant after DeleteToken")
	ok(t, s.DeleteToken(ctx, access.Hash), "DeleteToken twice")
	ok(t, s.DeleteToken(ctx, newHash()), "DeleteToken unknown")
	ok(t, s.DeleteToken(ctx, refresh.Hash[:16]), "DeleteToken with a truncated hash")
	tokenFound(t, s, refresh.Hash, t0, "token whose truncated hash was deleted")
}

func testRevokeUserGrants(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c1 := mustClient(t, s, "rp1")
	c2 := mustClient(t, s, "rp2")
	g1, a1, r1 := mustGrant(t, s, c1.ID, "alice")
	g2, a2, _ := mustGrant(t, s, c2.ID, "alice")
	gb, ab, _ := mustGrant(t, s, c1.ID, "bob")
	cc := &storage.Grant{ID: newID("grant"), ClientID: c1.ID, CreatedAt: t0, ExpiresAt: at(grantTTL)}
	ccAccess := newToken(cc, storage.AccessToken, t0)
	ok(t, s.CreateGrant(ctx, cc, ccAccess), "CreateGrant client_credentials")

	now := at(time.Minute)
	ok(t, s.RevokeUserGrants(ctx, "alice", now), "RevokeUserGrants")
	for _, g := range []*storage.Grant{g1, g2} {
		_, err := s.Grant(ctx, g.ID)
		is(t, err, storage.ErrNotFound, "alice's Grant after RevokeUserGrants")
	}
	for _, h := range [][]byte{a1.Hash, r1.Hash, a2.Hash} {
		tokenGone(t, s, h, now, "alice's token after RevokeUserGrants")
	}
	_, err := s.Grant(ctx, gb.ID)
	ok(t, err, "bob's Grant")
	tokenFound(t, s, ab.Hash, now, "bob's token")
	tokenFound(t, s, ccAccess.Hash, now, "client_credentials token")

	// An empty user id must not match the user-less client_credentials grants.
	_ = s.RevokeUserGrants(ctx, "", now)
	tokenFound(t, s, ccAccess.Hash, now, "client_credentials token after RevokeUserGrants(\"\")")

	// Revocation is of existing grants only: alice can authorize again.
	_, a3, _ := mustGrant(t, s, c1.ID, "alice")
	tokenFound(t, s, a3.Hash, now, "alice's new token")
	ok(t, s.RevokeUserGrants(ctx, "nobody", now), "RevokeUserGrants of a user without grants")
}

// Logout ends the tokens of one browser session and no others (SECURITY D8).
func testRevokeSessionGrants(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	g1, a1, r1 := mustGrant(t, s, c.ID, "alice")
	g2 := fullGrant(c.ID, "alice")
	g2.SessionID = "another-session"
	a2 := newToken(g2, storage.AccessToken, t0)
	ok(t, s.CreateGrant(ctx, g2, a2), "CreateGrant in another session")
	now := at(time.Minute)
	ok(t, s.RevokeSessionGrants(ctx, g1.SessionID, now), "RevokeSessionGrants")
	_, err := s.Grant(ctx, g1.ID)
	is(t, err, storage.ErrNotFound, "Grant of the ended session")
	tokenGone(t, s, a1.Hash, now, "access token of the ended session")
	tokenGone(t, s, r1.Hash, now, "refresh token of the ended session")
	tokenFound(t, s, a2.Hash, now, "token of another session")
	if err := s.RevokeSessionGrants(ctx, "", now); err == nil {
		t.Fatal("RevokeSessionGrants accepted an empty session id")
	}
	tokenFound(t, s, a2.Hash, now, "token after RevokeSessionGrants(\"\")")
}

// Resources (RFC 8707) are stored as a space-separated list, like scopes:
// a value that is empty or holds white space is refused before anything
// is written, for codes, grants and device authorizations alike.
func testResourcesRefuseWhiteSpace(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	for _, bad := range [][]string{{"https://api.example/a b"}, {""}, {"https://ok.example/", "x\ty"}} {
		g := fullGrant(c.ID, "user-1")
		g.Resources = bad
		if err := s.CreateGrant(ctx, g, newToken(g, storage.AccessToken, t0)); err == nil {
			t.Errorf("CreateGrant with resources %q: accepted", bad)
		}
		if _, err := s.Grant(ctx, g.ID); err == nil {
			t.Errorf("CreateGrant with resources %q left a grant behind", bad)
		}
		code := fullCode(c.ID, "user-1")
		code.Resources = bad
		if err := s.CreateCode(ctx, code); err == nil {
			t.Errorf("CreateCode with resources %q: accepted", bad)
		}
		d := fullDeviceAuth(c.ID)
		d.Resources = bad
		if err := s.CreateDeviceAuth(ctx, d); err == nil {
			t.Errorf("CreateDeviceAuth with resources %q: accepted", bad)
		}
	}
}
