// Package jwtauth verifies client assertions: the private_key_jwt and
// client_secret_jwt client authentication methods (RFC 7523 §2.2 and §3,
// OpenID Connect Core 1.0 §9, RFC 7521 §4.2). It owns their rules —
// issuer and subject, audience, lifetime and clock skew, single use of each
// jti across nodes, the algorithms allowed for each method — and the cache
// of client key sets fetched from jwks_uri, from which it also picks the
// key a client's ID tokens and userinfo responses are encrypted to (enc.go:
// the key management and content encryption algorithms allowed).
//
// It imports storage (for the replay store) and internal packages only; it
// never imports op.
package jwtauth
