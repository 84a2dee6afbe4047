// Package storagetest is the conformance suite every oidcd storage backend
// passes, in two parts cut by who needs them:
//
//   - RunProvider(t, newStore) checks a storage.Provider, what the op library
//     needs; a host application's own backend runs it with one call
//     (storage/memstore's test is the smallest example);
//   - RunAccounts(t, newStore) checks the oidcd server's accounts and
//     sessions (storage.Accounts) on a complete storage.Storage;
//   - Run(t, newStore) runs both (storage/sqlstore's tests).
//
// Each runs a named list of subtests, each on a fresh store, covering every
// method, its error contracts
// (storage.ErrNotFound, ErrAlreadyExists, ErrReused, checked with errors.Is),
// the round trip of every field of every type, expiry, one-time use of codes
// and refresh tokens with grant revocation on replay (SECURITY B3, B4, D4),
// exact-match lookups of digests (B7), cascading deletes, DeleteExpired, the
// throttle window, and concurrent use (one winner among racing redemptions,
// rotations and first-key creations; no lost throttle increments).
//
// Beyond the interface comments, the suite fixes these conventions:
//   - times round-trip at microsecond precision and load in UTC; the zero
//     time round-trips as zero; nil and empty slices are equivalent;
//   - a code, token, session or consent is valid while now < ExpiresAt, and
//     one with a zero ExpiresAt is never valid;
//   - a grant's zero ExpiresAt means unbounded; once a non-zero one has passed
//     its tokens are no longer found;
//   - RotateRefreshToken returns the old refresh token (UsedAt set) and its
//     grant;
//   - a code's client must exist (fixtures create clients first).
//
// It imports only the storage package of oidcd, and testing; backends call it
// from their own tests (see memstore's and sqlstore's tests).
package storagetest
