// Package op is the OpenID Connect Provider engine: an http.Handler serving
// the authorization, token, userinfo, discovery and JWKS endpoints, mounted
// under any prefix of a host application.
//
// The host supplies storage (storage.Provider: clients, codes, grants,
// consents, keys and throttle counters, never user accounts; storage/memstore
// and storage/sqlstore implement it) and its users (Users: who is logged in
// on a request, and a user's claims). op contains no SQL, no command
// line and no admin pages; it imports storage, keys, web,
// internal/ttlcache, internal/safehttp and its own op/internal packages only.
//
// docs/architecture.md places op among the other packages and follows a
// request through it; docs/storage.md lists what a storage backend must
// guarantee.
package op
