package storagetest

import (
	"testing"

	"github.com/oidcd/oidcd/storage"
)

// Run runs the conformance suite: every subtest gets a fresh, empty store
// from newStore, which must register its own cleanup (closing the store,
// removing its database) with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

type subtest struct {
	name string
	run  func(t *testing.T, s storage.Storage)
}

var tests = []subtest{
	{"Ping", testPing},

	{"ClientRoundTrip", testClientRoundTrip},
	{"ClientCreateDuplicate", testClientCreateDuplicate},
	{"ClientNotFound", testClientNotFound},
	{"ClientUpdate", testClientUpdate},
	{"ClientList", testClientList},
	{"ClientDeleteCascades", testClientDeleteCascades},

	{"CodeRoundTrip", testCodeRoundTrip},
	{"CodeCreateDuplicate", testCodeCreateDuplicate},
	{"CodeNotFound", testCodeNotFound},
	{"CodeExpired", testCodeExpired},
	{"CodeLookup", testCodeLookup},
	{"CodeReplayRevokesGrant", testCodeReplayRevokesGrant},
	{"CodeReplayBeforeGrantCreated", testCodeReplayBeforeGrantCreated},

	{"GrantRoundTrip", testGrantRoundTrip},
	{"GrantClientCredentials", testGrantClientCredentials},
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

	{"SessionRoundTrip", testSessionRoundTrip},
	{"SessionCreateDuplicate", testSessionCreateDuplicate},
	{"SessionNotFound", testSessionNotFound},
	{"SessionExpired", testSessionExpired},
	{"SessionDelete", testSessionDelete},
	{"DeleteUserSessions", testDeleteUserSessions},

	{"UserRoundTrip", testUserRoundTrip},
	{"UserCreateDuplicate", testUserCreateDuplicate},
	{"UserNotFound", testUserNotFound},
	{"UserByUsername", testUserByUsername},
	{"UserUpdate", testUserUpdate},
	{"UserList", testUserList},
	{"UserDeleteCascades", testUserDeleteCascades},

	{"ThrottleWindow", testThrottleWindow},
	{"ThrottleReset", testThrottleReset},

	{"DeleteExpired", testDeleteExpired},

	{"ConcurrentConsumeCode", testConcurrentConsumeCode},
	{"ConcurrentRedeemWithGrant", testConcurrentRedeemWithGrant},
	{"ConcurrentRotateRefreshToken", testConcurrentRotateRefreshToken},
	{"ConcurrentAddFailure", testConcurrentAddFailure},
	{"ConcurrentCreateFirstKey", testConcurrentCreateFirstKey},
	{"ConcurrentRotateAndRevoke", testConcurrentRotateAndRevoke},
}

func testPing(t *testing.T, s storage.Storage) {
	ok(t, s.Ping(t.Context()), "Ping")
}
