package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with %w.
var (
	// ErrNotFound means the requested row does not exist (or has expired where
	// the method says so).
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists means a row with the same unique key exists.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrReused means a one-time artefact (authorization code, refresh token)
	// was presented again after it had been used. The method that returns it has
	// already revoked the grant the artefact belongs to.
	ErrReused = errors.New("storage: already used")
	// ErrUnavailable means the backend could not be reached (connection
	// refused or lost, database shutting down or starting up). The operation
	// may or may not have taken effect if the connection was lost during a
	// commit; it is safe to retry later. Callers answer 503.
	ErrUnavailable = errors.New("storage: unavailable")
)

// Provider is what the OpenID Provider engine (package op) needs from a
// backend: clients, authorization codes, grants with their tokens, consents,
// signing keys, the failure throttle and the logout queue. A host application that embeds op
// with its own users implements only this (or uses storage/memstore or
// storage/sqlstore); storagetest.RunProvider checks an implementation.
type Provider interface {
	Clients
	Codes
	Grants
	Consents
	Keys
	Throttle
	RegistrationTokens
	Replays
	DeviceAuths
	PushedRequests
	Logouts
	// DeleteExpired removes codes, device authorizations, tokens, grants,
	// consents, throttle counters, initial access tokens, one-time values,
	// pushed requests, session clients and logout messages (and, in a
	// backend that also implements Accounts, sessions, and audit records
	// when it is given a retention: sqlstore.Store.SetAuditExpire) whose
	// lifetime ended at or before now, and returns how many rows it
	// removed. Safe to run on several nodes at once.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
	// Ping reports whether the backend is reachable: an error wrapping
	// ErrUnavailable when it is not.
	Ping(ctx context.Context) error
}

// Accounts is what the oidcd server (package server) adds on top of
// Provider: its own user accounts and browser login sessions. A host with its
// own users never implements it; storagetest.RunAccounts checks an
// implementation.
type Accounts interface {
	Users
	Sessions
	Audit
}

// Storage is a complete backend of the oidcd server: the provider's data,
// the server's accounts and sessions, and Close. storagetest.Run checks all
// of it.
type Storage interface {
	Provider
	Accounts
	Close() error
}

// Clients stores relying parties.
type Clients interface {
	// CreateClient returns ErrAlreadyExists if the id is taken.
	CreateClient(ctx context.Context, c *Client) error
	// Client returns ErrNotFound if no client has this id.
	Client(ctx context.Context, id string) (*Client, error)
	// UpdateClient replaces every field of an existing client; ErrNotFound if none.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient removes the client and every code, grant, token and consent
	// it holds; ErrNotFound if none.
	DeleteClient(ctx context.Context, id string) error
	// ListClients returns all clients ordered by creation time.
	ListClients(ctx context.Context) ([]*Client, error)
	// RevokeClientTokens revokes every grant of the client (its tokens
	// deleted) and sets its TokensRevokedAt to now, in one transaction;
	// ErrNotFound if there is no such client.
	RevokeClientTokens(ctx context.Context, clientID string, now time.Time) error
}

// Codes stores authorization codes.
type Codes interface {
	// CreateCode returns ErrAlreadyExists on a hash collision.
	CreateCode(ctx context.Context, c *AuthCode) error
	// Code returns the code with this hash, consumed or not (ConsumedAt
	// tells), without changing it. ErrNotFound if none exists or it expired
	// before now.
	Code(ctx context.Context, hash []byte, now time.Time) (*AuthCode, error)
	// ConsumeCode marks the code as used and returns it, atomically: of any
	// number of concurrent calls for one hash exactly one succeeds. When g is
	// not nil, the grant and tokens are created in the same transaction, so
	// the winner's tokens exist before any replay can be noticed. It returns
	// ErrNotFound if no such code exists or it expired before now, and
	// ErrReused (with the code) if it was consumed before; in that case it
	// also revokes the code's grant (RFC 6749 §4.1.2).
	ConsumeCode(ctx context.Context, hash []byte, now time.Time, g *Grant, tokens ...*Token) (*AuthCode, error)
}

// DeviceAuths stores device authorization requests (RFC 8628).
type DeviceAuths interface {
	// CreateDeviceAuth stores d; ErrAlreadyExists if its device code or user
	// code digest is taken (the caller draws a new user code). The client
	// must exist.
	CreateDeviceAuth(ctx context.Context, d *DeviceAuth) error
	// DeviceAuthByUserCode returns the pending or decided authorization with
	// this user code digest; ErrNotFound if none exists or it expired before
	// now.
	DeviceAuthByUserCode(ctx context.Context, userCodeHash []byte, now time.Time) (*DeviceAuth, error)
	// DecideDeviceAuth records a user's decision on a pending, unexpired
	// authorization, atomically: of concurrent calls at most one succeeds.
	// ErrNotFound if none is pending under this user code digest.
	DecideDeviceAuth(ctx context.Context, userCodeHash []byte, now time.Time, d DeviceDecision) error
	// PollDeviceAuth records a poll of the device code at now and returns the
	// authorization as it stands, expired or not. tooSoon reports a poll less
	// than Interval after the previous one; the stored Interval then grows by
	// 5 seconds (RFC 8628 §3.5 slow_down), the returned value included.
	// ErrNotFound if no such device code exists.
	PollDeviceAuth(ctx context.Context, deviceCodeHash []byte, now time.Time) (d *DeviceAuth, tooSoon bool, err error)
	// ConsumeDeviceAuth marks an approved, unexpired authorization used and
	// stores g with its tokens in the same transaction: of any number of
	// concurrent calls for one device code exactly one succeeds. ErrReused
	// if its tokens were issued before; ErrNotFound if it is unknown,
	// expired, pending or denied.
	ConsumeDeviceAuth(ctx context.Context, deviceCodeHash []byte, now time.Time, g *Grant, tokens ...*Token) (*DeviceAuth, error)
}

// Grants stores grants (one user's authorization of one client, or one
// client-credentials issuance) and the access and refresh tokens issued under them.
type Grants interface {
	// CreateGrant stores a grant together with its first tokens, in one
	// transaction.
	CreateGrant(ctx context.Context, g *Grant, tokens ...*Token) error
	// Grant returns ErrNotFound if no such grant exists or it was revoked.
	Grant(ctx context.Context, id string) (*Grant, error)
	// Token returns the token with this hash. It returns ErrNotFound if none
	// exists, it expired before now, it was already rotated (refresh tokens) or
	// its grant is revoked.
	Token(ctx context.Context, hash []byte, now time.Time) (*Token, *Grant, error)
	// RotateRefreshToken atomically marks the refresh token oldHash used,
	// deletes the other access tokens of its grant, and stores next (a new
	// access token and usually a new refresh token of the same grant).
	// ErrNotFound if the token is unknown, expired or its grant revoked;
	// ErrReused if it was rotated before (the grant is then revoked).
	// Of concurrent calls for one hash at most one succeeds.
	RotateRefreshToken(ctx context.Context, oldHash []byte, now time.Time, next ...*Token) (*Token, *Grant, error)
	// RevokeGrant marks the grant revoked and deletes its tokens. Revoking a
	// revoked or unknown grant is not an error.
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	// DeleteToken deletes one token; unknown tokens are not an error.
	DeleteToken(ctx context.Context, hash []byte) error
	// RevokeUserGrants revokes every grant of a user (password change, admin).
	RevokeUserGrants(ctx context.Context, userID string, now time.Time) error
	// RevokeSessionGrants revokes every grant made in one browser session
	// (logout). An empty session id is an error.
	RevokeSessionGrants(ctx context.Context, sessionID string, now time.Time) error
	// ListGrants returns the live grants (not revoked, ExpiresAt zero or
	// after now) that q selects, newest first.
	ListGrants(ctx context.Context, q GrantQuery, now time.Time) ([]*Grant, error)
}

// Consents stores what scopes a user allowed a client.
type Consents interface {
	// SaveConsent inserts or replaces the consent of (UserID, ClientID).
	SaveConsent(ctx context.Context, c *Consent) error
	// Consent returns ErrNotFound if none exists or it expired before now.
	Consent(ctx context.Context, userID, clientID string, now time.Time) (*Consent, error)
	// ListConsents returns a user's consents (expired ones included).
	ListConsents(ctx context.Context, userID string) ([]*Consent, error)
	// DeleteConsent returns ErrNotFound if none exists.
	DeleteConsent(ctx context.Context, userID, clientID string) error
	// ListClientConsents returns the consents given to a client (expired
	// ones included), ordered by user id.
	ListClientConsents(ctx context.Context, clientID string) ([]*Consent, error)
	// RevokeConsent takes back what a user gave a client, in one atomic
	// step: it deletes the consent and revokes every grant of the user to
	// the client (deleting their tokens). It reports whether there was
	// anything to take back; neither existing is not an error.
	RevokeConsent(ctx context.Context, userID, clientID string, now time.Time) (bool, error)
}

// Keys stores signing keys.
type Keys interface {
	// CreateKey returns ErrAlreadyExists if the id is taken.
	CreateKey(ctx context.Context, k *SigningKey) error
	// CreateFirstKey stores k only if no key exists at all, atomically across
	// nodes; it reports whether k was stored.
	CreateFirstKey(ctx context.Context, k *SigningKey) (bool, error)
	// ListKeys returns every key, newest first.
	ListKeys(ctx context.Context) ([]*SigningKey, error)
	// RetireKey sets RetiredAt on an active key; ErrNotFound if none.
	RetireKey(ctx context.Context, id string, at time.Time) error
	// DeleteKey returns ErrNotFound if none.
	DeleteKey(ctx context.Context, id string) error
}

// Sessions stores browser login sessions of the oidcd server.
type Sessions interface {
	// CreateSession returns ErrAlreadyExists on a hash collision.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns ErrNotFound if none exists or it expired before now.
	Session(ctx context.Context, hash []byte, now time.Time) (*Session, error)
	// DeleteSession deletes one session; unknown sessions are not an error.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions deletes every session of a user.
	DeleteUserSessions(ctx context.Context, userID string) error
	// ListSessions returns the live sessions q selects, newest first.
	ListSessions(ctx context.Context, q SessionQuery, now time.Time) ([]*Session, error)
	// DeleteSessionByID deletes the session with this public id (the sid);
	// ErrNotFound if none.
	DeleteSessionByID(ctx context.Context, id string) error
}

// Users stores the oidcd server's user accounts.
type Users interface {
	// CreateUser returns ErrAlreadyExists if the id or username is taken.
	CreateUser(ctx context.Context, u *User) error
	// User returns ErrNotFound if none.
	User(ctx context.Context, id string) (*User, error)
	// UserByUsername matches the username exactly; ErrNotFound if none.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// UpdateUser replaces every field of an existing user; ErrNotFound if none.
	UpdateUser(ctx context.Context, u *User) error
	// SetPassword changes a password in one atomic step: it sets the user's
	// PasswordHash and UpdatedAt (to now), revokes every grant of the user
	// (deleting their tokens), deletes the user's unredeemed authorization
	// codes and every session of the user. Either all of it happens or none:
	// old grants never survive under a new password. ErrNotFound (and no
	// change) if no user has this id.
	SetPassword(ctx context.Context, userID, passwordHash string, now time.Time) error
	// DeleteUser removes the user with its sessions, consents and grants;
	// ErrNotFound if none.
	DeleteUser(ctx context.Context, id string) error
	// ListUsers returns all users ordered by username.
	ListUsers(ctx context.Context) ([]*User, error)
	// SearchUsers returns the page of users q selects, ordered by
	// username, and how many users match q in all.
	SearchUsers(ctx context.Context, q UserQuery) ([]*User, int, error)
}

// Audit keeps the trail of administrative changes.
type Audit interface {
	// AddAuditRecord stores r; ErrAlreadyExists if its ID is taken.
	AddAuditRecord(ctx context.Context, r *AuditRecord) error
	// AuditRecords returns the records q selects, newest first.
	AuditRecords(ctx context.Context, q AuditQuery) ([]*AuditRecord, error)
}

// Throttle counts failures (login attempts, client authentication) in a
// sliding window shared by every node.
type Throttle interface {
	// AddFailure records one failure for key at now and returns how many
	// failures key has at or after since, the new one included. Callers use
	// it to reserve an attempt before checking a secret (SECURITY L7), so it
	// is atomic across every node: concurrent calls never lose an increment
	// and never return the same count.
	AddFailure(ctx context.Context, key string, now, since time.Time) (int, error)
	// ReleaseFailure removes one failure of key recorded at exactly at, if
	// any: the reservation of an attempt that succeeded.
	ReleaseFailure(ctx context.Context, key string, at time.Time) error
	// Failures returns how many failures key has at or after since.
	Failures(ctx context.Context, key string, since time.Time) (int, error)
	// ResetFailures forgets every failure of key.
	ResetFailures(ctx context.Context, key string) error
}

// Logouts remembers which clients took part in each browser session and
// queues back-channel logout messages durably, so that a node that stops
// while delivering loses nothing (Back-Channel Logout 1.0 §2.3, §2.5).
type Logouts interface {
	// AddSessionClient records that sc.ClientID took part in sc.SessionID;
	// recording a pair again only moves its ExpiresAt.
	AddSessionClient(ctx context.Context, sc *SessionClient) error
	// TakeSessionClients removes and returns the unexpired clients of a
	// session, atomically: of concurrent calls for one session, each client
	// is returned to exactly one. An empty session id is an error.
	TakeSessionClients(ctx context.Context, sessionID string, now time.Time) ([]*SessionClient, error)
	// EnqueueLogouts stores messages; ErrAlreadyExists if an id is taken
	// (then none is stored).
	EnqueueLogouts(ctx context.Context, msgs ...*LogoutMessage) error
	// LeaseLogout claims the due message (NextAttemptAt at or before now,
	// no lease or a lapsed one) that has waited longest: it sets LeaseUntil
	// to until, counts one more attempt and returns it. Of concurrent
	// callers, on any number of nodes, at most one obtains a message while
	// its lease holds. ErrNotFound if no message is due.
	LeaseLogout(ctx context.Context, now, until time.Time) (*LogoutMessage, error)
	// RetryLogout releases a leased message and makes it due again at next.
	// ErrNotFound if it no longer exists.
	RetryLogout(ctx context.Context, id string, next time.Time, lastError string) error
	// DeleteLogout removes a message (delivered, or given up); removing an
	// unknown message is not an error.
	DeleteLogout(ctx context.Context, id string) error
	// LogoutMessages returns every queued message, oldest first (for
	// operators and tests).
	LogoutMessages(ctx context.Context) ([]*LogoutMessage, error)
}
