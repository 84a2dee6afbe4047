package storagetest

import (
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// Every change that ends a token is seen by the next lookup through the
// same store, even right after the token was looked up: a backend that
// keeps found tokens for a while (sqlstore's token cache) must forget them
// on each of these changes.
func testTokenEndsAtOnce(t *testing.T, s storage.Storage) {
	now := at(time.Minute)
	type tokens struct {
		g               *storage.Grant
		access, refresh *storage.Token
		user            *storage.User
		clientID        string
		codeHash        []byte
	}
	cases := []struct {
		name string
		// code: the grant comes from redeeming a code (for the replay case).
		code   bool
		change func(t *testing.T, x tokens)
		// refreshLives: the refresh token stays valid (its grant is not ended).
		refreshLives bool
	}{
		{name: "RevokeGrant", change: func(t *testing.T, x tokens) {
			ok(t, s.RevokeGrant(t.Context(), x.g.ID, now), "RevokeGrant")
		}},
		{name: "DeleteToken", refreshLives: true, change: func(t *testing.T, x tokens) {
			ok(t, s.DeleteToken(t.Context(), x.access.Hash), "DeleteToken")
		}},
		{name: "RevokeUserGrants", change: func(t *testing.T, x tokens) {
			ok(t, s.RevokeUserGrants(t.Context(), x.user.ID, now), "RevokeUserGrants")
		}},
		{name: "RevokeSessionGrants", change: func(t *testing.T, x tokens) {
			ok(t, s.RevokeSessionGrants(t.Context(), x.g.SessionID, now), "RevokeSessionGrants")
		}},
		{name: "RevokeConsent", change: func(t *testing.T, x tokens) {
			_, err := s.RevokeConsent(t.Context(), x.user.ID, x.clientID, now)
			ok(t, err, "RevokeConsent")
		}},
		{name: "RevokeClientTokens", change: func(t *testing.T, x tokens) {
			ok(t, s.RevokeClientTokens(t.Context(), x.clientID, now), "RevokeClientTokens")
		}},
		{name: "DeleteClient", change: func(t *testing.T, x tokens) {
			ok(t, s.DeleteClient(t.Context(), x.clientID), "DeleteClient")
		}},
		{name: "DeleteUser", change: func(t *testing.T, x tokens) {
			ok(t, s.DeleteUser(t.Context(), x.user.ID), "DeleteUser")
		}},
		{name: "SetPassword", change: func(t *testing.T, x tokens) {
			ok(t, s.SetPassword(t.Context(), x.user.ID, "$argon2id$v=19$m=65536,t=1,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", now), "SetPassword")
		}},
		{name: "RotateRefreshToken", change: func(t *testing.T, x tokens) {
			_, _, err := s.RotateRefreshToken(t.Context(), x.refresh.Hash, now, newToken(x.g, storage.AccessToken, now))
			ok(t, err, "RotateRefreshToken")
		}},
		{name: "CodeReplay", code: true, change: func(t *testing.T, x tokens) {
			_, err := s.ConsumeCode(t.Context(), x.codeHash, now, nil)
			is(t, err, storage.ErrReused, "ConsumeCode replayed")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			x := tokens{clientID: newID("rp")}
			mustClient(t, s, x.clientID)
			x.user = mustUser(t, s, newID("alice"))
			if tc.code {
				code := fullCode(x.clientID, x.user.ID)
				ok(t, s.CreateCode(ctx, code), "CreateCode")
				x.codeHash = code.Hash
				x.g = grantFromCode(code)
				x.access = newToken(x.g, storage.AccessToken, t0)
				x.refresh = newToken(x.g, storage.RefreshToken, t0)
				_, err := s.ConsumeCode(ctx, code.Hash, t0, x.g, x.access, x.refresh)
				ok(t, err, "ConsumeCode")
			} else {
				x.g, x.access, x.refresh = mustGrant(t, s, x.clientID, x.user.ID)
			}
			// Another grant of another client and user, untouched by the change.
			otherClient := newID("rp")
			mustClient(t, s, otherClient)
			_, other, _ := mustGrant(t, s, otherClient, newID("bob"))

			for range 2 { // the second lookup may be served from a cache
				tokenFound(t, s, x.access.Hash, t0, "access token before the change")
				tokenFound(t, s, x.refresh.Hash, t0, "refresh token before the change")
				tokenFound(t, s, other.Hash, t0, "other grant's token before the change")
			}
			tc.change(t, x)
			tokenGone(t, s, x.access.Hash, now, "access token after "+tc.name)
			if tc.refreshLives {
				tokenFound(t, s, x.refresh.Hash, now, "refresh token after "+tc.name)
			} else {
				tokenGone(t, s, x.refresh.Hash, now, "refresh token after "+tc.name)
			}
			tokenFound(t, s, other.Hash, now, "other grant's token after "+tc.name)
		})
	}
}
