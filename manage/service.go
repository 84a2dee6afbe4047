package manage

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// Errors the service returns besides the storage sentinels
// (storage.ErrNotFound for an unknown client, user, key or session).
var (
	// ErrInvalid wraps every refusal of bad input (a malformed redirect
	// URI, a short password, a username taken); the message says what.
	ErrInvalid = errors.New("manage: invalid input")
	// ErrRefused wraps a valid request the service will not carry out in
	// the current state: deleting a key whose tokens can still be valid,
	// retiring the only signing key of an algorithm, removing the last
	// admin, an actor locking or demoting itself.
	ErrRefused = errors.New("manage: refused")
	// ErrWrongPassword: the current password given to ChangeOwnPassword
	// is not the account's.
	ErrWrongPassword = errors.New("manage: wrong password")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func refusedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// AccountRules are the account rules the service applies: how passwords
// are hashed and checked, what a password, username and claims must be.
// The oidcd server's are server.AccountRules.
type AccountRules interface {
	HashPassword(password string) (string, error)
	CheckPassword(hash, password string) bool
	CheckPasswordPolicy(password string) error
	ValidateUsername(username string) error
	ValidateClaims(u *storage.User) error
}

// Config is what a Service works with. Store, Rules and TokenLifetime
// are required.
type Config struct {
	Store storage.Storage
	// Sealer is the system key, which seals client secrets and signing
	// keys: the methods that make either fail without it (a command that
	// manages only users need not open the secret).
	Sealer keys.Sealer
	Rules  AccountRules
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// KeyActivateAfter is how long a new key of an algorithm that already
	// signs stays "next" (published, not signing): the key refresh interval
	// plus the JWKS cache lifetime (OIDCD_KEY_REFRESH + OIDCD_JWKS_MAX_AGE).
	KeyActivateAfter time.Duration
	// TokenLifetime is the longest a token signed by a server key can be
	// valid: the longer of the ID token and access token lifetimes
	// (OIDCD_IDTOKEN_EXPIRE, OIDCD_TOKEN_EXPIRE). A retired key is deleted
	// only when it has been retired that long. Required.
	TokenLifetime time.Duration
	// ClientCacheTTL is how long a node may keep serving a client as it was
	// before a change (op.Config.ClientCacheTTL); rotations wait at least
	// this long before the old secret stops working.
	ClientCacheTTL time.Duration
	// AllowPrivateTargets lets logo and sector_identifier_uri fetches reach
	// private addresses (OIDCD_ALLOW_PRIVATE_TARGETS).
	AllowPrivateTargets bool
	// InsecureAllowHTTP accepts http redirect URIs on any host
	// (OIDCD_INSECURE_ALLOW_HTTP_REDIRECTS).
	InsecureAllowHTTP bool
	// EndSession, if set, ends a browser session on the provider's side
	// before the session row is deleted: op.Provider.EndSession, which also
	// queues back-channel logout tokens. Without it the session's grants
	// are revoked and no client is notified.
	EndSession func(ctx context.Context, userID, sessionID string) error
	// Emit, if set, receives one event per change after it is stored
	// (op.Provider.Emit in the server: the security log and metrics; the
	// command line logs them with op.LogEvent).
	Emit func(ctx context.Context, e op.Event)
	// Changed, if set, is called after every stored change, so that the
	// caller can drop what it caches (op.Provider.ForgetClient, the
	// claims cache, op.Provider.ReloadKeys).
	Changed func(ctx context.Context, c Change)
	// Log receives warnings (a logo that could not be fetched). Defaults
	// to discarding them.
	Log *slog.Logger
}

// Change is what one stored change touched, for Config.Changed.
type Change struct {
	Record   storage.AuditRecord
	ClientID string
	UserID   string
	// Username is the changed account's username, when an account changed.
	Username string
	KeyID    string
}

// Actor is who makes a change and from where: every mutation takes one
// and records it in the audit log.
type Actor struct {
	// UserID and Username are the signed-in account (the console);
	// UserID is empty for the command line.
	UserID   string
	Username string
	// IP is the client address of the request; empty for the command line.
	IP string
}

// CommandLine is the actor of a command run as the operating-system user
// osUser.
func CommandLine(osUser string) Actor {
	if osUser == "" {
		osUser = "unknown"
	}
	return Actor{Username: "cli:" + osUser}
}

// Service is the one way the console and the command line change oidcd's
// clients, users, consents, sessions and keys. Its methods are safe for
// concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("manage: Config.Store is required"))
	}
	if cfg.Rules == nil {
		errs = append(errs, errors.New("manage: Config.Rules is required"))
	}
	if cfg.TokenLifetime <= 0 {
		errs = append(errs, errors.New("manage: Config.TokenLifetime must be positive"))
	}
	if cfg.KeyActivateAfter < 0 || cfg.ClientCacheTTL < 0 {
		errs = append(errs, errors.New("manage: negative durations in Config"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: log}, nil
}

// now is the clock in UTC, to the microsecond that storage keeps, so that
// what a method returns is what a later read shows.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// atomicStore is a backend that runs several changes in one transaction
// (sqlstore.Store).
type atomicStore interface {
	Atomically(ctx context.Context, fn func(tx storage.Storage) error) error
}

// change runs fn and stores its audit record, in one transaction where the
// backend can (sqlstore), then emits the event and reports the change. fn
// fills in the record's Detail; it may run more than once (a PostgreSQL
// transaction chosen as a deadlock victim runs again), so it must start
// from scratch.
func (s *Service) change(ctx context.Context, a Actor, action, target string, ch Change, fn func(tx storage.Storage, rec *storage.AuditRecord) error) error {
	now := s.now()
	rec := storage.AuditRecord{ID: newAuditID(now), At: now, ActorID: a.UserID, Actor: a.Username, IP: a.IP, Action: action, Target: target}
	if rec.Actor == "" {
		return errors.New("manage: the actor has no name")
	}
	run := func(tx storage.Storage) error {
		r := rec
		if err := fn(tx, &r); err != nil {
			return err
		}
		if err := tx.AddAuditRecord(ctx, &r); err != nil {
			return fmt.Errorf("manage: audit record: %w", err)
		}
		rec = r
		return nil
	}
	var err error
	if at, ok := s.cfg.Store.(atomicStore); ok {
		err = at.Atomically(ctx, run)
	} else {
		err = run(s.cfg.Store)
	}
	if err != nil {
		return err
	}
	ch.Record = rec
	if s.cfg.Emit != nil {
		s.cfg.Emit(ctx, op.Event{Kind: op.EventKind(action), ClientID: ch.ClientID, UserID: ch.UserID,
			Username: ch.Username, KeyID: ch.KeyID, IP: a.IP, Reason: "by " + a.Username + ": " + rec.Detail})
	}
	if s.cfg.Changed != nil {
		s.cfg.Changed(ctx, ch)
	}
	return nil
}

// auditSeq orders the records one process makes in one microsecond.
var auditSeq atomic.Uint32

// newAuditID sorts by time, in hex: 8 bytes of unix microseconds, 4 of a
// per-process sequence (records made in the same microsecond keep their
// order), 4 random (processes do not collide).
func newAuditID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMicro()))
	binary.BigEndian.PutUint32(b[8:12], auditSeq.Add(1))
	rand.Read(b[12:])
	return hex.EncodeToString(b[:])
}

// Audit returns audit records, newest first (q.Limit defaults to 100).
func (s *Service) Audit(ctx context.Context, q storage.AuditQuery) ([]*storage.AuditRecord, error) {
	return s.cfg.Store.AuditRecords(ctx, q)
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

func isAlreadyExists(err error) bool { return errors.Is(err, storage.ErrAlreadyExists) }

// sealer returns Config.Sealer, or an error when there is none.
func (s *Service) sealer() (keys.Sealer, error) {
	if s.cfg.Sealer == nil {
		return nil, errors.New("manage: this change needs the system secret (Config.Sealer)")
	}
	return s.cfg.Sealer, nil
}
