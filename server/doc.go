// Package server is what the oidcd server adds to the op library: user
// accounts with argon2id passwords, browser sessions, the login and logout
// pages (with CSRF protection and a brute-force throttle shared by every node
// through storage), a health endpoint, and the HTTP plumbing around the
// provider (access log without query strings, panic recovery, client IPs
// from trusted proxies only).
//
// It imports op, storage, keys and web. It must not import a storage
// backend (sqlstore) or anything of cmd: the binary wires a backend in.
//
// docs/architecture.md describes the layering.
package server
