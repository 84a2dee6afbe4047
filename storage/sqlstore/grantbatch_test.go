package sqlstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage"
)

func openPostgresMigrated(t *testing.T) *Store {
	t.Helper()
	s := openPostgresTest(t, pgtest.NewDatabase(t, pgtest.URL()))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"rp", "rp2"} {
		if err := s.CreateClient(t.Context(), &storage.Client{ID: id, Type: storage.Confidential}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// grantWithTokens is a grant of client with an access and a refresh token.
func grantWithTokens(id, client string, now time.Time) (*storage.Grant, []*storage.Token) {
	g := &storage.Grant{ID: id, ClientID: client, UserID: "u-" + id, SessionID: "s-" + id,
		Scope: []string{"openid", "read"}, Claims: `{"x":1}`, Nonce: "n-" + id, AuthTime: now.Add(-time.Minute),
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), Actor: `{"sub":"a"}`, Resources: []string{"https://rs.example"},
		ClaimsLocales: "fr"}
	var ts []*storage.Token
	for _, k := range []storage.TokenKind{storage.AccessToken, storage.RefreshToken} {
		h := make([]byte, 32)
		rand.Read(h)
		ts = append(ts, &storage.Token{Hash: h, Kind: k, GrantID: id, ClientID: client, UserID: g.UserID,
			Scope: g.Scope, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Audience: []string{"rs"}, JKT: "jkt-" + id})
	}
	return g, ts
}

// runBatch writes jobs as one batch, as a flusher does, and returns what
// each caller gets.
func runBatch(s *Store, jobs []*grantJob) []error {
	_, out := runBatchSeen(s, jobs)
	return out
}

// runBatchSeen is runBatch that also returns what the flusher handed each
// job: nil when the combined statement stored it, errRunAlone when the job
// ran its own statement afterwards.
func runBatchSeen(s *Store, jobs []*grantJob) (seen, out []error) {
	s.flushGrants(jobs)
	seen = make([]error, len(jobs))
	out = make([]error, len(jobs))
	for i, j := range jobs {
		seen[i] = <-j.done
		j.done <- seen[i]
		out[i] = s.awaitGrant(j)
	}
	return seen, out
}

func job(ctx context.Context, g *storage.Grant, ts []*storage.Token) *grantJob {
	return &grantJob{ctx: ctx, g: g, tokens: ts, done: make(chan error, 1)}
}

// A batch's grants and tokens are stored column for column as CreateGrant
// of each would store them, a job whose caller gave up after submitting
// included (once submitted a job runs to its end).
func TestPostgresGrantBatchStores(t *testing.T) {
	s := openPostgresMigrated(t)
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond).UTC()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	var jobs []*grantJob
	for i := range 5 {
		g, ts := grantWithTokens(fmt.Sprintf("g%d", i), "rp", now)
		switch i {
		case 1:
			ts = nil // a grant without tokens beside grants with some
		case 2:
			g.ClientID, ts[0].ClientID, ts[1].ClientID = "rp2", "rp2", "rp2"
			g.AuthTime, g.Resources, ts[0].Audience = time.Time{}, nil, nil // NULL and empty columns
		}
		jc := ctx
		if i == 3 {
			jc = cancelled
		}
		jobs = append(jobs, job(jc, g, ts))
	}
	seen, out := runBatchSeen(s, jobs)
	for i := range jobs {
		if seen[i] != nil || out[i] != nil {
			t.Errorf("job %d: the combined statement gave %v, CreateGrant %v", i, seen[i], out[i])
		}
	}
	for _, j := range jobs {
		got, err := s.Grant(ctx, j.g.ID)
		if err != nil {
			t.Fatalf("grant %s: %v", j.g.ID, err)
		}
		if fmt.Sprint(*got) != fmt.Sprint(*j.g) {
			t.Errorf("grant stored as\n%+v, want\n%+v", *got, *j.g)
		}
		for _, tok := range j.tokens {
			gt, gg, err := s.Token(ctx, tok.Hash, now)
			if err != nil {
				t.Fatalf("token of %s: %v", j.g.ID, err)
			}
			if fmt.Sprint(*gt) != fmt.Sprint(*tok) || gg.ID != j.g.ID {
				t.Errorf("token stored as\n%+v, want\n%+v", *gt, *tok)
			}
		}
	}
}

// One bad grant in a batch fails alone: the combined statement fails, every
// caller runs its own statement, the good grants are stored and each bad
// one gets its own error.
func TestPostgresGrantBatchFailsAlone(t *testing.T) {
	s := openPostgresMigrated(t)
	ctx := t.Context()
	now := time.Now()
	old, oldTokens := grantWithTokens("old", "rp", now)
	if err := s.CreateGrant(ctx, old, oldTokens...); err != nil {
		t.Fatal(err)
	}
	good1, t1 := grantWithTokens("good1", "rp", now)
	noClient, t2 := grantWithTokens("no-client", "deleted", now)
	dupGrant, t3 := grantWithTokens("old", "rp", now)
	dupToken, t4 := grantWithTokens("dup-token", "rp", now)
	t4[1].Hash = oldTokens[0].Hash
	good2, t5 := grantWithTokens("good2", "rp", now)
	jobs := []*grantJob{job(ctx, good1, t1), job(ctx, noClient, t2), job(ctx, dupGrant, t3),
		job(ctx, dupToken, t4), job(ctx, good2, t5)}
	seen, errs := runBatchSeen(s, jobs)
	for i := range jobs {
		if seen[i] != errRunAlone {
			t.Errorf("grant %s: the combined statement gave %v, want errRunAlone", jobs[i].g.ID, seen[i])
		}
	}
	for i, want := range []func(error) bool{
		func(err error) bool { return err == nil },
		func(err error) bool { return err != nil && !errors.Is(err, storage.ErrAlreadyExists) }, // foreign key
		func(err error) bool { return errors.Is(err, storage.ErrAlreadyExists) },
		func(err error) bool { return errors.Is(err, storage.ErrAlreadyExists) },
		func(err error) bool { return err == nil },
	} {
		if !want(errs[i]) {
			t.Errorf("grant %s: CreateGrant = %v", jobs[i].g.ID, errs[i])
		}
	}
	for _, j := range []*grantJob{jobs[0], jobs[4]} {
		if _, err := s.Grant(ctx, j.g.ID); err != nil {
			t.Errorf("good grant %s: %v", j.g.ID, err)
		}
		if _, _, err := s.Token(ctx, j.tokens[0].Hash, now); err != nil {
			t.Errorf("token of good grant %s: %v", j.g.ID, err)
		}
	}
	for _, id := range []string{"no-client", "dup-token"} {
		if _, err := s.Grant(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("failed grant %s: Grant = %v, want ErrNotFound", id, err)
		}
	}
	// The first grant "old" is unchanged: its tokens are its own.
	if _, g, err := s.Token(ctx, oldTokens[0].Hash, now); err != nil || g.ID != "old" || g.Nonce != old.Nonce {
		t.Errorf("old grant's token: %v, %v", g, err)
	}
	if _, _, err := s.Token(ctx, t3[0].Hash, now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("token of the duplicate grant was stored: %v", err)
	}
}

// Many concurrent callers, some with a bad grant: through CreateGrant the
// flushers gather them into batches, and each caller sees only its own
// outcome.
func TestPostgresGrantBatchConcurrent(t *testing.T) {
	s := openPostgresMigrated(t)
	ctx := t.Context()
	now := time.Now()
	const n = 200
	errs := make([]error, n)
	grants := make([]*storage.Grant, n)
	var wg sync.WaitGroup
	for i := range n {
		client := "rp"
		if i%7 == 3 {
			client = "deleted"
		}
		g, ts := grantWithTokens(fmt.Sprintf("c%d", i), client, now)
		grants[i] = g
		wg.Go(func() { errs[i] = s.CreateGrant(ctx, g, ts...) })
	}
	wg.Wait()
	for i, g := range grants {
		_, gerr := s.Grant(ctx, g.ID)
		if g.ClientID == "deleted" {
			if errs[i] == nil || !errors.Is(gerr, storage.ErrNotFound) {
				t.Errorf("grant %s of a missing client: CreateGrant = %v, Grant = %v", g.ID, errs[i], gerr)
			}
			continue
		}
		if errs[i] != nil || gerr != nil {
			t.Errorf("grant %s: CreateGrant = %v, Grant = %v", g.ID, errs[i], gerr)
		}
	}
}

// After Close, CreateGrant fails instead of hanging.
func TestPostgresGrantBatchClosed(t *testing.T) {
	s := openPostgresMigrated(t)
	s.Close()
	g, ts := grantWithTokens("late", "rp", time.Now())
	if err := s.CreateGrant(context.Background(), g, ts...); err == nil {
		t.Fatal("a closed store accepted a grant")
	}
}
