package sqlstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// codeFor stores a code of client rp for the grant id, valid for a minute
// from now.
func codeFor(t *testing.T, s *Store, grantID string, now time.Time) *storage.AuthCode {
	t.Helper()
	h := make([]byte, 32)
	rand.Read(h)
	c := &storage.AuthCode{Hash: h, GrantID: grantID, ClientID: "rp", UserID: "u-" + grantID,
		RedirectURI: "https://rp.example/cb", Scope: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateCode(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func redemption(c *storage.AuthCode, grantID string, at time.Time) *codeJob {
	g, ts := grantWithTokens(grantID, "rp", at)
	return &codeJob{ctx: context.Background(), hash: c.Hash, ts: at.UnixMicro(), g: g, tokens: ts,
		done: make(chan codeOutcome, 1)}
}

// One statement redeems a batch: each caller gets its own code or
// sql.ErrNoRows, a code named twice in the batch is taken once, and only
// the codes taken get a grant and tokens.
func TestPostgresCodeBatch(t *testing.T) {
	s := openPostgresMigrated(t)
	ctx := t.Context()
	now := time.Now()
	c1, c2, c3 := codeFor(t, s, "g1", now), codeFor(t, s, "g2", now), codeFor(t, s, "g3", now)
	unknown := &storage.AuthCode{Hash: bytes.Repeat([]byte{7}, 32)}
	jobs := []*codeJob{
		redemption(c1, "g1", now),
		redemption(c2, "g2", now),
		redemption(c1, "g1-again", now),          // the same code in the same batch
		redemption(c3, "g3", now.Add(time.Hour)), // expired by then
		redemption(unknown, "g-unknown", now),
	}
	s.flushCodes(jobs)
	out := make([]codeOutcome, len(jobs))
	for i, j := range jobs {
		out[i] = <-j.done
	}
	for i, c := range []*storage.AuthCode{c1, c2} {
		if out[i].err != nil || out[i].code == nil || !bytes.Equal(out[i].code.Hash, c.Hash) || out[i].code.ConsumedAt.IsZero() {
			t.Fatalf("job %d: %+v", i, out[i])
		}
		if out[i].code.GrantID != c.GrantID || out[i].code.RedirectURI != c.RedirectURI {
			t.Errorf("job %d: code read back as %+v", i, out[i].code)
		}
		j := jobs[i]
		if _, err := s.Grant(ctx, j.g.ID); err != nil {
			t.Errorf("grant %s: %v", j.g.ID, err)
		}
		for _, tok := range j.tokens {
			if _, g, err := s.Token(ctx, tok.Hash, now); err != nil || g.ID != j.g.ID {
				t.Errorf("token of %s: %v %v", j.g.ID, g, err)
			}
		}
	}
	for i := 2; i < len(jobs); i++ {
		if out[i].err != sql.ErrNoRows {
			t.Errorf("job %d (grant %s): %+v, want sql.ErrNoRows", i, jobs[i].g.ID, out[i])
		}
		if _, err := s.Grant(ctx, jobs[i].g.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("grant %s of a code not taken: %v", jobs[i].g.ID, err)
		}
		if _, _, err := s.Token(ctx, jobs[i].tokens[0].Hash, now); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("token of a code not taken (%s): %v", jobs[i].g.ID, err)
		}
	}
	if got, err := s.Code(ctx, c3.Hash, now); err != nil || !got.ConsumedAt.IsZero() {
		t.Errorf("expired redemption touched the code: %+v %v", got, err)
	}
}

// When the batch's statement fails, nothing of it is stored and every
// caller runs its own statement.
func TestPostgresCodeBatchFailsAlone(t *testing.T) {
	s := openPostgresMigrated(t)
	ctx := t.Context()
	now := time.Now()
	old, oldTokens := grantWithTokens("old", "rp", now)
	if err := s.CreateGrant(ctx, old, oldTokens...); err != nil {
		t.Fatal(err)
	}
	good, bad := codeFor(t, s, "good", now), codeFor(t, s, "bad", now)
	jobs := []*codeJob{redemption(good, "good", now), redemption(bad, "bad", now)}
	jobs[1].tokens[1].Hash = oldTokens[0].Hash // taken
	s.flushCodes(jobs)
	for i, j := range jobs {
		if o := <-j.done; o.err != errRunAlone {
			t.Fatalf("job %d: the batch gave %+v, want errRunAlone", i, o)
		}
	}
	for _, c := range []*storage.AuthCode{good, bad} {
		if got, err := s.Code(ctx, c.Hash, now); err != nil || !got.ConsumedAt.IsZero() {
			t.Fatalf("a failed batch consumed code of %s: %+v %v", c.GrantID, got, err)
		}
	}
	if _, err := s.ConsumeCode(ctx, good.Hash, now, jobs[0].g, jobs[0].tokens...); err != nil {
		t.Fatalf("good code on its own: %v", err)
	}
	if _, err := s.ConsumeCode(ctx, bad.Hash, now, jobs[1].g, jobs[1].tokens...); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("bad code on its own: %v, want ErrAlreadyExists", err)
	}
}

// Concurrent redemptions through ConsumeCode, every code twice at once:
// whatever batches the flushers make, each code is redeemed exactly once
// and the other attempt is a replay, which revokes the grant.
func TestPostgresCodeBatchConcurrent(t *testing.T) {
	s := openPostgresMigrated(t)
	now := time.Now()
	const codes = 24
	var wg sync.WaitGroup
	errs := make([][2]error, codes)
	for i := range codes {
		c := codeFor(t, s, fmt.Sprintf("g%d", i), now)
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g, ts := grantWithTokens(c.GrantID, "rp", now) // both attempts carry the code's grant
				_, errs[i][k] = s.ConsumeCode(t.Context(), c.Hash, now, g, ts...)
			}()
		}
	}
	wg.Wait()
	for i, e := range errs {
		won, reused := 0, 0
		for _, err := range e {
			switch {
			case err == nil:
				won++
			case errors.Is(err, storage.ErrReused):
				reused++
			default:
				t.Errorf("code %d: %v", i, err)
			}
		}
		if won != 1 || reused != 1 {
			t.Errorf("code %d: %d redemptions and %d replays, want one of each (%v)", i, won, reused, e)
		}
	}
	var grants, revoked int
	if err := s.w.QueryRow(`SELECT count(*), count(revoked_at) FROM grants`).Scan(&grants, &revoked); err != nil {
		t.Fatal(err)
	}
	if grants != codes || revoked != codes {
		t.Errorf("%d grants (%d revoked) for %d codes redeemed twice", grants, revoked, codes)
	}
}
