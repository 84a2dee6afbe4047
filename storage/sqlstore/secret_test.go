package sqlstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage"
)

// testSecretCheckAndReseal: the check value is set once; Reseal replaces
// every sealed value and the check value in one transaction, and a failure
// part-way changes nothing (docs/security.md "System secret").
func testSecretCheckAndReseal(t *testing.T, s *Store) {
	ctx := t.Context()
	if _, err := s.SecretCheck(ctx); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SecretCheck on a new database: %v", err)
	}
	if has, err := s.HasSealedData(ctx); err != nil || has {
		t.Fatalf("HasSealedData on a new database: %v %v", has, err)
	}
	old, other := []byte("old-check"), []byte("new-check")
	if err := s.SetSecretCheck(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSecretCheck(ctx, old); err != nil {
		t.Fatalf("SetSecretCheck with the same value: %v", err)
	}
	if err := s.SetSecretCheck(ctx, other); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("SetSecretCheck with another value: %v", err)
	}
	now := time.Now()
	for _, id := range []string{"k1", "k2"} {
		if err := s.CreateKey(ctx, &storage.SigningKey{ID: id, Alg: "RS256", PrivateSealed: []byte("sealed-" + id), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateClient(ctx, &storage.Client{ID: "c1", Name: "c", Type: storage.Confidential, SecretHash: bytes.Repeat([]byte{1}, 32),
		SecretSealed: []byte("sealed-c1"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, &storage.Client{ID: "p1", Name: "p", Type: storage.Public, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if has, err := s.HasSealedData(ctx); err != nil || !has {
		t.Fatalf("HasSealedData with keys and a secret: %v %v", has, err)
	}
	sealed := func() map[string]string {
		m := map[string]string{}
		ks, err := s.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			m[k.ID] = string(k.PrivateSealed)
		}
		c, err := s.Client(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		m["c1"] = string(c.SecretSealed)
		return m
	}
	// A failure on the last value: nothing changes.
	_, err := s.Reseal(ctx, old, other, func(v SealedValue) ([]byte, error) {
		if v.ID == "c1" {
			return nil, errors.New("cannot unseal")
		}
		return []byte("new-" + string(v.Sealed)), nil
	})
	if err == nil {
		t.Fatal("Reseal with a failing value succeeded")
	}
	if m := sealed(); m["k1"] != "sealed-k1" || m["k2"] != "sealed-k2" || m["c1"] != "sealed-c1" {
		t.Fatalf("a failed Reseal changed values: %v", m)
	}
	if v, _ := s.SecretCheck(ctx); !bytes.Equal(v, old) {
		t.Fatalf("a failed Reseal changed the check value to %q", v)
	}
	// The wrong old check value: nothing changes.
	if _, err := s.Reseal(ctx, []byte("bogus"), other, func(v SealedValue) ([]byte, error) { return v.Sealed, nil }); !errors.Is(err, ErrSecretCheckChanged) {
		t.Fatalf("Reseal with a stale check value: %v", err)
	}
	var seen []string
	n, err := s.Reseal(ctx, old, other, func(v SealedValue) ([]byte, error) {
		seen = append(seen, v.Kind+":"+v.ID+"="+string(v.AAD))
		return []byte("new-" + string(v.Sealed)), nil
	})
	if err != nil || n != 3 {
		t.Fatalf("Reseal: %d %v (%v)", n, err, seen)
	}
	if m := sealed(); m["k1"] != "new-sealed-k1" || m["k2"] != "new-sealed-k2" || m["c1"] != "new-sealed-c1" {
		t.Fatalf("after Reseal: %v", m)
	}
	if v, _ := s.SecretCheck(ctx); !bytes.Equal(v, other) {
		t.Fatalf("check value after Reseal: %q", v)
	}
}

func TestSecretCheckAndResealSQLite(t *testing.T) { testSecretCheckAndReseal(t, newSQLite(t)) }

func TestSecretCheckAndResealPostgres(t *testing.T) {
	s := openPostgresTest(t, pgtest.NewDatabase(t, pgtest.URL()))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	testSecretCheckAndReseal(t, s)
}
