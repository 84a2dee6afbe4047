package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// Cookie names.
const (
	// SessionCookie holds a login session: 256 random bits, stored only as
	// their SHA-256 digest.
	SessionCookie = "oidcd_session"
	// CSRFCookie holds the random value that CSRF tokens of the login and
	// logout forms are bound to.
	CSRFCookie = "oidcd_csrf"
)

// Login errors returned by Server.Authenticate, besides
// op.ErrInvalidCredentials: the one error for a wrong username or password
// (which one is never told, SECURITY F8), whether the login page or the
// password grant asked.
var (
	// ErrLoginThrottled means too many failures for the username or the
	// client IP; the password was not checked (SECURITY I3).
	ErrLoginThrottled = errors.New("server: too many failed logins")
)

// users is the server's op.Users: accounts and sessions from storage.
type users Server

var (
	_ op.Users                 = (*users)(nil)
	_ op.PasswordAuthenticator = (*users)(nil)
	_ op.SessionEnder          = (*users)(nil)
)

// CurrentUser implements op.Users: the user of the session cookie, if any.
func (u *users) CurrentUser(r *http.Request) (*op.User, error) {
	sess, err := (*Server)(u).session(r)
	if err != nil || sess == nil {
		return nil, err
	}
	return &op.User{ID: sess.UserID, AuthTime: sess.AuthTime, SessionID: sess.ID}, nil
}

// EndSession implements op.SessionEnder for the end-session endpoint:
// the login session is deleted (on every node: it lives in the database)
// and its cookie cleared.
func (u *users) EndSession(w http.ResponseWriter, r *http.Request, _ *op.User) error {
	s := (*Server)(u)
	if hash := cookieHash(r); hash != nil {
		if err := s.store.DeleteSession(r.Context(), hash); err != nil {
			return fmt.Errorf("server: end session: %w", err)
		}
	}
	s.clearSessionCookie(w)
	return nil
}

// Claims implements op.Users from the stored account (OIDC Core §5.1). A
// user's claims are reused for ClaimsCacheTTL, so userinfo and
// introspection do not read the account on every request.
func (u *users) Claims(ctx context.Context, userID string, c *op.Claims) error {
	now := u.now()
	caching := u.cfg.ClaimsCacheTTL > 0
	if cached, ok := u.claims.Get(userID, now); caching && ok {
		*c = cached
		return nil
	}
	a, err := u.store.User(ctx, userID)
	if err != nil {
		return fmt.Errorf("server: user claims: %w", err)
	}
	*c = claimsOf(a)
	if caching {
		u.claims.Put(userID, *c, now)
	}
	return nil
}

// claimsOf is an account's standard claims; an account without a
// preferred_username goes by its username.
func claimsOf(a *storage.User) op.Claims {
	c := a.Claims
	if c.PreferredUsername == "" {
		c.PreferredUsername = a.Username
	}
	return c
}

// AuthenticatePassword implements op.PasswordAuthenticator for the
// password grant: the login form's check and throttle, per username and
// per client IP (SECURITY I2, I3).
func (u *users) AuthenticatePassword(r *http.Request, username, password string) (*op.User, error) {
	s := (*Server)(u)
	a, err := s.Authenticate(r.Context(), username, password, s.clientIP(r))
	switch {
	case errors.Is(err, ErrLoginThrottled):
		// Answered exactly like a wrong password (SECURITY I3): no
		// Retry-After, which would tell that the account is being guessed.
		s.log.WarnContext(r.Context(), "password grant throttled", "ip", s.clientIP(r))
		return nil, op.ErrInvalidCredentials
	case errors.Is(err, op.ErrInvalidCredentials):
		return nil, op.ErrInvalidCredentials
	case err != nil:
		return nil, err
	}
	return &op.User{ID: a.ID, AuthTime: s.now()}, nil
}

// session returns the live session of r's cookie, or nil.
func (s *Server) session(r *http.Request) (*storage.Session, error) {
	hash := cookieHash(r)
	if hash == nil {
		return nil, nil
	}
	sess, err := s.store.Session(r.Context(), hash, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: session: %w", err)
	}
	return sess, nil
}

// cookieHash returns the digest of a well-formed session cookie, or nil.
func cookieHash(r *http.Request) []byte {
	c, err := r.Cookie(SessionCookie)
	if err != nil || len(c.Value) != 43 {
		return nil
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil {
		return nil
	}
	h := sha256.Sum256([]byte(c.Value))
	return h[:]
}

// startSession stores a new session for userID and returns its cookie
// value: a fresh id on every login (SECURITY F5).
func (s *Server) startSession(ctx context.Context, userID string) (string, *storage.Session, error) {
	b := make([]byte, 32)
	rand.Read(b)
	value := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(value))
	now := s.now().UTC()
	sess := &storage.Session{
		Hash:      h[:],
		ID:        newID(),
		UserID:    userID,
		AuthTime:  now,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionExpire),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", nil, fmt.Errorf("server: create session: %w", err)
	}
	return value, sess, nil
}

// Authenticate checks a username and password for a login from ip (may be
// empty), behind the login throttle. It returns the user, op.ErrInvalidCredentials,
// or ErrLoginThrottled when the password was not checked because the
// username or the IP is locked; callers must answer a lockout exactly like
// op.ErrInvalidCredentials (SECURITY I3) and may only log the difference. Unknown
// usernames and lockouts cost the same time as wrong passwords (SECURITY
// F8). The login form uses it; so does the password grant.
func (s *Server) Authenticate(ctx context.Context, username, password, ip string) (*storage.User, error) {
	username = strings.TrimSpace(username)
	// Reserve before verifying (SECURITY L7): concurrent guesses on every
	// node together check at most MaxFailures passwords per window.
	attempt, locked, err := s.throttle.Reserve(ctx, username, ip)
	if err != nil {
		return nil, err
	}
	if locked {
		CheckPassword(dummyHash, password) // the time of a wrong password
		// Logged and counted only: the answer is that of a wrong password.
		s.provider.Emit(ctx, op.Event{Kind: op.EventLoginLocked, Username: NormalizeUsername(username), IP: ip})
		return nil, ErrLoginThrottled
	}
	u, err := s.store.UserByUsername(ctx, username)
	reason := ""
	switch {
	case errors.Is(err, storage.ErrNotFound) || (err == nil && u.PasswordHash == ""):
		CheckPassword(dummyHash, password)
		u = nil
	case err != nil:
		// Not the user's fault: the reservation must not count against them.
		return nil, errors.Join(fmt.Errorf("server: user by username: %w", err), attempt.release(ctx))
	case !CheckPassword(u.PasswordHash, password):
		u = nil
	case u.Locked:
		// A locked account is answered as a wrong password (SECURITY F8);
		// only the log says why.
		u, reason = nil, "account_locked"
	}
	if u == nil {
		s.provider.Emit(ctx, op.Event{Kind: op.EventLoginFailed, Username: NormalizeUsername(username), IP: ip, Reason: reason})
		return nil, op.ErrInvalidCredentials // the reservation stays as the failure
	}
	if err := attempt.Succeed(ctx); err != nil {
		return nil, err
	}
	s.provider.Emit(ctx, op.Event{Kind: op.EventLoginSucceeded, Username: u.Username, UserID: u.ID, IP: ip})
	if NeedsRehash(u.PasswordHash) {
		s.upgradeHash(ctx, u, password)
	}
	return u, nil
}

// upgradeHash replaces a password hash imported from Django by oidcd's
// argon2id once its user has logged in with it. Grants and sessions stay:
// the password did not change. A failure is logged and the login goes on;
// the next login tries again.
func (s *Server) upgradeHash(ctx context.Context, u *storage.User, password string) {
	old := DjangoHasher(u.PasswordHash)
	hash, err := HashPassword(password)
	if err == nil {
		up := *u
		up.PasswordHash = hash
		if err = s.store.UpdateUser(ctx, &up); err == nil {
			*u = up
			s.log.InfoContext(ctx, "password hash upgraded", "user", u.ID, "from", old)
			return
		}
	}
	s.log.WarnContext(ctx, "password hash upgrade failed", "user", u.ID, "from", old, "err", err)
}

// NewUser returns an account to store, with a generated id and the
// argon2id hash of password. The caller fills in the claims.
func NewUser(username, password string, now time.Time) (*storage.User, error) {
	if err := ValidateUsername(username); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	return &storage.User{
		ID:           newID(),
		Username:     username,
		PasswordHash: hash,
		CreatedAt:    now,
		Claims: storage.Claims{
			UpdatedAt: now,
		},
	}, nil
}

// ValidateUsername accepts 1 to 150 printable characters without spaces.
func ValidateUsername(username string) error {
	switch {
	case username == "":
		return errors.New("server: username is required")
	case !utf8.ValidString(username):
		return errors.New("server: username is not valid UTF-8")
	case utf8.RuneCountInString(username) > 150:
		return errors.New("server: username longer than 150 characters")
	}
	for _, r := range username {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("server: username %q contains spaces or control characters", username)
		}
	}
	return nil
}

// SetPassword changes a user's password; in the same storage transaction
// every grant of the user is revoked and every session ended (SECURITY D8),
// so old grants never outlive the old password. A storage error is
// returned, never ignored; then nothing has changed. u is updated to the
// stored state.
func SetPassword(ctx context.Context, store storage.Users, u *storage.User, password string, now time.Time) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	if err := store.SetPassword(ctx, u.ID, hash, now); err != nil {
		return fmt.Errorf("server: set password: %w", err)
	}
	u.PasswordHash = hash
	u.UpdatedAt = time.UnixMicro(now.UnixMicro()).UTC()
	return nil
}

// newID returns 128 random bits, base64url: user and session ids.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
