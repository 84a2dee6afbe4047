package sqlstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage"
)

func TestAuditExpireSQLite(t *testing.T) { testAuditExpire(t, newSQLite(t)) }

func TestAuditExpirePostgres(t *testing.T) {
	s := openPostgresTest(t, pgtest.NewDatabase(t, pgtest.URL()))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	testAuditExpire(t, s)
}

// Audit records are kept until deleted by hand, unless SetAuditExpire
// gives them a lifetime: then DeleteExpired removes the older ones with
// the other expired rows, and keeps the rest.
func testAuditExpire(t *testing.T, s *Store) {
	ctx := t.Context()
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, age := range []time.Duration{400 * 24 * time.Hour, 91 * 24 * time.Hour, 90 * 24 * time.Hour, 89 * 24 * time.Hour, time.Minute} {
		r := &storage.AuditRecord{ID: fmt.Sprintf("rec%d", i), At: now.Add(-age), Actor: "cli:ops", Action: "admin.client_updated", Target: "client:c1"}
		if err := s.AddAuditRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	left := func() []string {
		t.Helper()
		recs, err := s.AuditRecords(ctx, storage.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if _, err := s.DeleteExpired(ctx, now); err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 5 {
		t.Fatalf("without a lifetime every record stays: %v", got)
	}
	s.SetAuditExpire(90 * 24 * time.Hour)
	n, err := s.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(left()); got != "[rec4 rec3]" || n != 3 {
		t.Fatalf("after DeleteExpired with 90 days: %s left, %d deleted", got, n)
	}
	s.SetAuditExpire(0)
	if _, err := s.DeleteExpired(ctx, now.Add(1000*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 2 {
		t.Fatalf("SetAuditExpire(0) keeps them again: %v", got)
	}
}
