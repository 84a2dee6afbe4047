// Package keys owns cryptographic material: the system key that seals secrets
// at rest (the Sealer interface, so that the key may live in a KMS or HSM;
// SecretSealer is the default), signing-key generation and parsing, and the published key
// set (Set) that signs JWTs and serves a precomputed JWKS.
//
// It imports storage for the SigningKey type and nothing else of oidcd.
package keys
