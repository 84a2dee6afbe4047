package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// SetPassword is one transaction: when its last step fails (a trigger
// makes deleting sessions fail), the hash, the grants and the sessions are
// all as they were.
func TestSQLiteSetPasswordIsAtomic(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := &storage.User{ID: "u1", Username: "alice", PasswordHash: "$old", CreatedAt: now, Claims: storage.Claims{UpdatedAt: now}}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Public}); err != nil {
		t.Fatal(err)
	}
	g := &storage.Grant{ID: "g1", ClientID: "rp", UserID: u.ID, CreatedAt: now}
	tok := &storage.Token{Hash: []byte("0123456789abcdef0123456789abcdef"), Kind: storage.AccessToken, GrantID: g.ID,
		ClientID: "rp", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateGrant(ctx, g, tok); err != nil {
		t.Fatal(err)
	}
	sess := &storage.Session{Hash: []byte("session-hash-0123456789abcdef012"), ID: "sid", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TRIGGER fail_session_delete BEFORE DELETE ON sessions
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}

	if err := s.SetPassword(ctx, u.ID, "$new", now.Add(time.Minute)); err == nil {
		t.Fatal("SetPassword succeeded although deleting sessions fails")
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "$old" || !got.UpdatedAt.Equal(now) {
		t.Errorf("failed SetPassword changed the user: %q %v", got.PasswordHash, got.UpdatedAt)
	}
	if _, _, err := s.Token(ctx, tok.Hash, now); err != nil {
		t.Errorf("failed SetPassword revoked the grant's token: %v", err)
	}
	if _, err := s.Grant(ctx, g.ID); errors.Is(err, storage.ErrNotFound) {
		t.Error("failed SetPassword revoked the grant")
	}
	if _, err := s.Session(ctx, sess.Hash, now); err != nil {
		t.Errorf("session after failed SetPassword: %v", err)
	}
}
