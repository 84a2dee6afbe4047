// Package dpop checks DPoP proofs (OAuth 2.0 Demonstrating Proof of
// Possession, RFC 9449): the proof JWT's header and signature, its htm, htu,
// iat, ath and nonce claims, and single use of each jti across nodes within
// the window in which a proof is accepted. It also makes and checks the
// server's DPoP nonces, which are stateless (a MAC over a time step), so
// that every node accepts every node's nonces.
//
// It imports storage (for the replay store) and keys (for the MAC) only; it
// never imports op.
package dpop
