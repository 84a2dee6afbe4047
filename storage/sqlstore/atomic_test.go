package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage"
)

func TestAtomicallySQLite(t *testing.T) { testAtomically(t, newSQLite(t)) }

func TestAtomicallyPostgres(t *testing.T) {
	s := openPostgresTest(t, pgtest.NewDatabase(t, pgtest.URL()))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	testAtomically(t, s)
}

func testAtomically(t *testing.T, s *Store) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	client := func(id string) *storage.Client {
		return &storage.Client{ID: id, Name: id, Type: storage.Confidential, JWTAlg: "RS256",
			ResponseTypes: []string{"code"}, RedirectURIs: []string{"https://rp.example/cb"}, CreatedAt: now}
	}
	grant := func(id, clientID string) *storage.Grant {
		return &storage.Grant{ID: id, ClientID: clientID, UserID: "u1", Scope: []string{"openid"},
			AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := s.CreateClient(ctx, client("before")); err != nil {
		t.Fatal(err)
	}

	// An error from fn rolls back everything fn wrote.
	boom := errors.New("boom")
	err := s.Atomically(ctx, func(tx storage.Storage) error {
		if err := tx.CreateClient(ctx, client("rolled-back")); err != nil {
			return err
		}
		if err := tx.CreateGrant(ctx, grant("g-rolled-back", "rolled-back")); err != nil {
			return err
		}
		if _, err := tx.Client(ctx, "rolled-back"); err != nil { // reads see the transaction's writes
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomically = %v, want boom", err)
	}
	if _, err := s.Client(ctx, "rolled-back"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("client written by a failed Atomically: %v", err)
	}

	// A failing method inside (a duplicate grant) leaves the transaction
	// usable; everything else commits.
	err = s.Atomically(ctx, func(tx storage.Storage) error {
		if err := tx.CreateGrant(ctx, grant("g1", "before")); err != nil {
			return err
		}
		if err := tx.CreateGrant(ctx, grant("g1", "before")); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("duplicate grant inside Atomically: %v", err)
		}
		if err := tx.CreateClient(ctx, client("after")); err != nil {
			return err
		}
		if err := tx.Close(); err == nil {
			t.Error("Close inside Atomically succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client(ctx, "after"); err != nil {
		t.Fatalf("client of a committed Atomically: %v", err)
	}
	if _, err := s.Grant(ctx, "g1"); err != nil {
		t.Fatalf("grant of a committed Atomically: %v", err)
	}
	// The store works normally afterwards.
	if err := s.CreateClient(ctx, client("later")); err != nil {
		t.Fatal(err)
	}
}
