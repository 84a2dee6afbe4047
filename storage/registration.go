package storage

import (
	"context"
	"time"
)

// RegistrationToken is an initial access token for dynamic client
// registration (RFC 7591 §3), stored by its digest.
type RegistrationToken struct {
	Hash []byte
	// UsesLeft is how many registrations it still allows; 0 means no limit.
	UsesLeft  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// RegistrationTokens stores initial access tokens.
type RegistrationTokens interface {
	// CreateRegistrationToken returns ErrAlreadyExists on a hash collision.
	CreateRegistrationToken(ctx context.Context, t *RegistrationToken) error
	// RegistrationToken returns the token without using it; ErrNotFound if
	// none exists, it expired before now or it has no use left.
	RegistrationToken(ctx context.Context, hash []byte, now time.Time) (*RegistrationToken, error)
	// UseRegistrationToken takes one use of the token, atomically: of
	// concurrent calls for a token with n uses left at most n succeed; the
	// last use deletes it. ErrNotFound as for RegistrationToken.
	UseRegistrationToken(ctx context.Context, hash []byte, now time.Time) error
}

// Replays remembers values that may be used once within their lifetime:
// the jti of client assertions (RFC 7523 §3), of DPoP proofs.
type Replays interface {
	// UseOnce records key (a digest naming the value and its kind) until
	// expiresAt. It returns ErrReused if key is recorded and not expired at
	// now. Of concurrent calls for one key on any number of nodes exactly
	// one succeeds.
	UseOnce(ctx context.Context, key []byte, now, expiresAt time.Time) error
}

// ReplayLookups is the read side of Replays, optional: whether key is
// recorded and not expired at now. The provider needs it for stateless
// access tokens (op.Config.StatelessClientCredentials), whose revocation is
// a recorded key that every node reads.
type ReplayLookups interface {
	Recorded(ctx context.Context, key []byte, now time.Time) (bool, error)
}

// PushedRequest is a pushed authorization request (RFC 9126), stored by
// the digest of its request_uri.
type PushedRequest struct {
	Hash     []byte
	ClientID string
	// Params are the authorization request's parameters, form-encoded.
	Params    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PushedRequests stores pushed authorization requests.
type PushedRequests interface {
	// CreatePushedRequest returns ErrAlreadyExists on a hash collision.
	CreatePushedRequest(ctx context.Context, r *PushedRequest) error
	// PushedRequest returns the request without using it up; ErrNotFound if
	// none exists, it expired before now or it was consumed.
	PushedRequest(ctx context.Context, hash []byte, now time.Time) (*PushedRequest, error)
	// ConsumePushedRequest uses the request up, atomically: of concurrent
	// calls for one hash on any number of nodes exactly one succeeds; the
	// others, and every later call, get ErrNotFound (as for an unknown or
	// expired request).
	ConsumePushedRequest(ctx context.Context, hash []byte, now time.Time) error
}
