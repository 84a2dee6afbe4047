// Package storage holds oidcd's domain types (clients, codes, grants, tokens,
// consents, signing keys, browser sessions, user accounts) and the interfaces a
// storage backend implements, cut by who needs them:
//
//   - Provider: what the op library needs (clients, codes, grants and
//     tokens, consents, signing keys, the failure throttle, DeleteExpired,
//     Ping). A host application with its own users implements only this.
//   - Accounts: what the oidcd server adds (user accounts, browser sessions).
//   - Storage: both, plus Close; what the oidcd server runs on.
//
// Each is made of small per-entity interfaces (Clients, Codes, Grants...) so
// that a consumer can take the narrowest piece.
//
// It imports nothing else of oidcd. Backends live in sub-packages (memstore
// implements Provider in memory, sqlstore implements Storage on SQLite and
// PostgreSQL) and prove themselves with the conformance suites in
// storagetest (RunProvider, RunAccounts, Run).
//
// Secrets never reach this package in usable form: codes and tokens are stored
// as SHA-256 digests, client secrets as a digest plus a copy sealed with the
// system key, private keys sealed with the system key. Sealing is the caller's job.
//
// docs/storage.md states the guarantees every backend keeps.
package storage
