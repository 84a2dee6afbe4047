package storagetest

import (
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// RunProvider runs the provider suite: every method of storage.Provider,
// what the op library needs. Every subtest gets a fresh, empty store from
// newStore, which must register its own cleanup (closing the store,
// removing its database) with t.Cleanup. A host application that embeds op
// with its own storage calls this from one test.
func RunProvider(t *testing.T, newStore func(t *testing.T) storage.Provider) {
	t.Helper()
	for _, tc := range providerTests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// RunAccounts runs the accounts suite: the user accounts and browser
// sessions of the oidcd server (storage.Accounts), and how they meet the
// provider's data (a deleted user takes its grants and consents along,
// DeleteExpired removes sessions). Each subtest gets a fresh store.
func RunAccounts(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	t.Helper()
	for _, tc := range accountTests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// Run runs both suites, for a complete backend of the oidcd server.
func Run(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	t.Helper()
	RunProvider(t, func(t *testing.T) storage.Provider { return newStore(t) })
	RunAccounts(t, newStore)
}

type subtest struct {
	name string
	run  func(t *testing.T, s storage.Provider)
}

type accountTest struct {
	name string
	run  func(t *testing.T, s storage.Storage)
}

var providerTests = []subtest{
	{"ListGrants", testListGrants},
	{"ListClientConsents", testListClientConsents},
	{"RevokeConsent", testRevokeConsent},
	{"Ping", testPing},

	{"ClientRoundTrip", testClientRoundTrip},
	{"ClientCreateDuplicate", testClientCreateDuplicate},
	{"ClientNotFound", testClientNotFound},
	{"ClientUpdate", testClientUpdate},
	{"ClientList", testClientList},
	{"ClientDeleteCascades", testClientDeleteCascades},
	{"RevokeClientTokens", testRevokeClientTokens},
	{"ValuesAreCopies", testValuesAreCopies},

	{"CodeRoundTrip", testCodeRoundTrip},
	{"CodeCreateDuplicate", testCodeCreateDuplicate},
	{"CodeNotFound", testCodeNotFound},
	{"CodeExpired", testCodeExpired},
	{"CodeLookup", testCodeLookup},
	{"CodeRedemptionIsAtomic", testCodeRedemptionIsAtomic},
	{"CodeReplayRevokesGrant", testCodeReplayRevokesGrant},
	{"CodeReplayBeforeGrantCreated", testCodeReplayBeforeGrantCreated},

	{"GrantRoundTrip", testGrantRoundTrip},
	{"GrantClientCredentials", testGrantClientCredentials},
	{"ResourcesRefuseWhiteSpace", testResourcesRefuseWhiteSpace},
	{"GrantCreateDuplicate", testGrantCreateDuplicate},
	{"GrantNotFound", testGrantNotFound},
	{"TokenNotFound", testTokenNotFound},
	{"TokenExpired", testTokenExpired},
	{"TokenOfExpiredGrant", testTokenOfExpiredGrant},
	{"RotateRefreshToken", testRotateRefreshToken},
	{"RotateRefreshTokenReuse", testRotateRefreshTokenReuse},
	{"RotateRefreshTokenNotFound", testRotateRefreshTokenNotFound},
	{"RevokeGrant", testRevokeGrant},
	{"DeleteToken", testDeleteToken},
	{"RevokeUserGrants", testRevokeUserGrants},
	{"RevokeSessionGrants", testRevokeSessionGrants},

	{"ConsentRoundTrip", testConsentRoundTrip},
	{"ConsentReplace", testConsentReplace},
	{"ConsentExpired", testConsentExpired},
	{"ConsentList", testConsentList},
	{"ConsentDelete", testConsentDelete},

	{"KeyRoundTrip", testKeyRoundTrip},
	{"KeyCreateDuplicate", testKeyCreateDuplicate},
	{"KeyList", testKeyList},
	{"KeyRetire", testKeyRetire},
	{"KeyDelete", testKeyDelete},
	{"CreateFirstKey", testCreateFirstKey},

	{"ThrottleWindow", testThrottleWindow},
	{"ThrottleReset", testThrottleReset},

	{"DeleteExpired", testDeleteExpired},

	{"RegistrationTokenUses", testRegistrationTokenUses},
	{"RegistrationTokenExpiry", testRegistrationTokenExpiry},
	{"ConcurrentUseRegistrationToken", testConcurrentUseRegistrationToken},
	{"UseOnce", testUseOnce},
	{"ConcurrentUseOnce", testConcurrentUseOnce},
	{"DeviceAuthRoundTrip", testDeviceAuthRoundTrip},
	{"DeviceAuthDuplicate", testDeviceAuthDuplicate},
	{"DeviceAuthLookup", testDeviceAuthLookup},
	{"DeviceAuthDecideOnce", testDeviceAuthDecideOnce},
	{"DeviceAuthPollInterval", testDeviceAuthPollInterval},
	{"DeviceAuthConsumeOnce", testDeviceAuthConsumeOnce},
	{"DeviceAuthExpiryAndClientDelete", testDeviceAuthExpiryAndClientDelete},
	{"ConcurrentConsumeDeviceAuth", testConcurrentConsumeDeviceAuth},
	{"PushedRequest", testPushedRequest},
	{"ConcurrentConsumePushedRequest", testConcurrentConsumePushedRequest},

	{"SessionClients", testSessionClients},
	{"LogoutQueue", testLogoutQueue},
	{"LogoutLease", testLogoutLease},
	{"LogoutExpiryAndCascade", testLogoutExpiryAndCascade},

	{"ConcurrentConsumeCode", testConcurrentConsumeCode},
	{"ConcurrentRedeemWithGrant", testConcurrentRedeemWithGrant},
	{"ConcurrentRotateRefreshToken", testConcurrentRotateRefreshToken},
	{"ConcurrentAddFailure", testConcurrentAddFailure},
	{"ReleaseFailure", testReleaseFailure},
	{"ConcurrentCreateFirstKey", testConcurrentCreateFirstKey},
	{"ConcurrentRotateAndRevoke", testConcurrentRotateAndRevoke},
	{"ConcurrentLeaseLogout", testConcurrentLeaseLogout},
	{"ConcurrentTakeSessionClients", testConcurrentTakeSessionClients},
}

var accountTests = []accountTest{
	{"ListSessions", testListSessions},
	{"SearchUsers", testSearchUsers},
	{"AuditRecords", testAuditRecords},
	{"SessionRoundTrip", testSessionRoundTrip},
	{"SessionCreateDuplicate", testSessionCreateDuplicate},
	{"SessionNotFound", testSessionNotFound},
	{"SessionExpired", testSessionExpired},
	{"SessionDelete", testSessionDelete},
	{"DeleteUserSessions", testDeleteUserSessions},
	{"SessionSurvivesClientDelete", testSessionSurvivesClientDelete},
	{"DeleteExpiredSessions", testDeleteExpiredSessions},

	{"UserRoundTrip", testUserRoundTrip},
	{"UserCreateDuplicate", testUserCreateDuplicate},
	{"UserNotFound", testUserNotFound},
	{"UserByUsername", testUserByUsername},
	{"UserUpdate", testUserUpdate},
	{"UserList", testUserList},
	{"UserDeleteCascades", testUserDeleteCascades},
	{"UserSetPassword", testUserSetPassword},
	{"TokenEndsAtOnce", testTokenEndsAtOnce},
}

func testPing(t *testing.T, s storage.Provider) {
	ok(t, s.Ping(t.Context()), "Ping")
}

// A session belongs to a user, not to a client: deleting a client leaves
// the browser signed in.
func testSessionSurvivesClientDelete(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	c := mustClient(t, s, "rp-gone")
	sess := fullSession("user-1")
	ok(t, s.CreateSession(ctx, sess), "CreateSession")
	mustGrant(t, s, c.ID, "user-1")
	ok(t, s.DeleteClient(ctx, c.ID), "DeleteClient")
	_, err := s.Session(ctx, sess.Hash, t0)
	ok(t, err, "Session after client delete")
}

// DeleteExpired removes expired sessions and keeps live ones; removal is
// seen by asking with an earlier now, at which the session was valid.
func testDeleteExpiredSessions(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	before := at(-150 * time.Minute)
	dead := fullSession("alice")
	dead.ExpiresAt = at(-time.Minute)
	ok(t, s.CreateSession(ctx, dead), "CreateSession expired")
	live := fullSession("alice")
	ok(t, s.CreateSession(ctx, live), "CreateSession")
	_, err := s.Session(ctx, dead.Hash, before)
	ok(t, err, "expired session, before")

	n, err := s.DeleteExpired(ctx, t0)
	ok(t, err, "DeleteExpired")
	if n < 1 {
		t.Errorf("DeleteExpired = %d, want at least 1", n)
	}
	_, err = s.Session(ctx, dead.Hash, before)
	is(t, err, storage.ErrNotFound, "expired session after DeleteExpired")
	_, err = s.Session(ctx, live.Hash, t0)
	ok(t, err, "live Session")
}
