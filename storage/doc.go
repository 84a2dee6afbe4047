// Package storage holds oidcd's domain types (clients, codes, grants, tokens,
// consents, signing keys, browser sessions, user accounts) and the interfaces a
// storage backend implements.
//
// It imports nothing else of oidcd. Backends live in sub-packages (sqlstore) and
// prove themselves with the conformance suite in storagetest.
//
// Secrets never reach this package in usable form: codes and tokens are stored
// as SHA-256 digests, client secrets as a digest plus a copy sealed with the
// system key, private keys sealed with the system key. Sealing is the caller's job.
package storage
