// Package memstore is an in-memory storage.Provider: clients, codes, grants
// and tokens, consents, signing keys and throttle counters in maps behind one
// mutex. It is a real backend, not a mock: it keeps the guarantees the
// provider conformance suite (storagetest.RunProvider) checks — single use of
// codes and refresh tokens with grant revocation on replay, exact-match
// digest lookups, expiry, cascading deletes, no lost throttle increments —
// for the goroutines of one process. Like every backend it sees only the
// SHA-256 digests of codes and tokens, never their values.
//
// Use it where nothing needs to outlive the process or be shared between
// processes: tests, examples, a single-node development provider. Everything
// is lost when the process ends (signing keys included, so tokens issued
// before a restart no longer verify); several nodes need storage/sqlstore on
// PostgreSQL. Run the provider's background work (Provider.Run) so that
// expired rows are deleted and memory stays bounded.
//
// memstore imports only the storage package of oidcd.
package memstore
