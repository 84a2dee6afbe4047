package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/oidcd/oidcd/storage"
)

const grantCols = `id, client_id, user_id, session_id, scope, claims, nonce, auth_time,
	created_at, expires_at, revoked_at, actor, resources, claims_locales`

const grantColsG = `g.id, g.client_id, g.user_id, g.session_id, g.scope, g.claims, g.nonce,
	g.auth_time, g.created_at, g.expires_at, g.revoked_at, g.actor, g.resources, g.claims_locales`

const tokenCols = `hash, kind, grant_id, client_id, user_id, scope, created_at, expires_at, used_at, audience, jkt`

const tokenColsT = `t.hash, t.kind, t.grant_id, t.client_id, t.user_id, t.scope, t.created_at,
	t.expires_at, t.used_at, t.audience, t.jkt`

func grantDest(g *storage.Grant) []any {
	return []any{&g.ID, &g.ClientID, &g.UserID, &g.SessionID, scopeCol{&g.Scope}, &g.Claims,
		&g.Nonce, timeCol{&g.AuthTime}, timeCol{&g.CreatedAt}, timeCol{&g.ExpiresAt},
		timeCol{&g.RevokedAt}, &g.Actor, scopeCol{&g.Resources}, &g.ClaimsLocales}
}

func tokenDest(t *storage.Token) []any {
	return []any{&t.Hash, (*string)(&t.Kind), &t.GrantID, &t.ClientID, &t.UserID,
		scopeCol{&t.Scope}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt},
		scopeCol{&t.Audience}, &t.JKT}
}

func scanGrant(r scanner) (*storage.Grant, error) {
	var g storage.Grant
	if err := r.Scan(grantDest(&g)...); err != nil {
		return nil, err
	}
	return &g, nil
}

func scanToken(r scanner) (*storage.Token, error) {
	var t storage.Token
	if err := r.Scan(tokenDest(&t)...); err != nil {
		return nil, err
	}
	return &t, nil
}

// checkTokens validates tokens about to be stored under the grant grantID of
// the client clientID.
func checkTokens(grantID, clientID string, tokens []*storage.Token) error {
	for _, t := range tokens {
		if err := checkHash(t.Hash); err != nil {
			return err
		}
		if t.Kind != storage.AccessToken && t.Kind != storage.RefreshToken {
			return errorf("invalid token kind %q", t.Kind)
		}
		if t.GrantID != grantID {
			return errorf("token of grant %q stored under grant %q", t.GrantID, grantID)
		}
		if t.ClientID != clientID {
			return errorf("token of client %q stored under a grant of client %q", t.ClientID, clientID)
		}
		if err := checkScope(t.Scope); err != nil {
			return err
		}
		if err := checkScope(t.Audience); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) insertTokens(ctx context.Context, c conn, tokens []*storage.Token) error {
	for _, t := range tokens {
		_, err := c.exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			appendTokenArgs(nil, t)...)
		if err != nil {
			return err
		}
	}
	return nil
}

// appendGrantArgs appends g's values in the order of grantCols.
func appendGrantArgs(args []any, g *storage.Grant) []any {
	return append(args, g.ID, g.ClientID, g.UserID, g.SessionID, scopeArg(g.Scope), g.Claims, g.Nonce,
		timeArg(g.AuthTime), timeArg(g.CreatedAt), timeArg(g.ExpiresAt), timeArg(g.RevokedAt), g.Actor,
		scopeArg(g.Resources), g.ClaimsLocales)
}

// appendTokenArgs appends t's values in the order of tokenCols.
func appendTokenArgs(args []any, t *storage.Token) []any {
	return append(args, t.Hash, string(t.Kind), t.GrantID, t.ClientID, t.UserID, scopeArg(t.Scope),
		timeArg(t.CreatedAt), timeArg(t.ExpiresAt), timeArg(t.UsedAt), scopeArg(t.Audience), t.JKT)
}

// CreateGrant implements storage.Grants. Every token must name g in GrantID
// and g's client in ClientID; the client must exist.
func (s *Store) CreateGrant(ctx context.Context, g *storage.Grant, tokens ...*storage.Token) error {
	if err := s.checkGrant(g, tokens); err != nil {
		return err
	}
	if s.gb != nil {
		return s.createGrantBatched(ctx, g, tokens)
	}
	fn := func(c conn) error { return s.insertGrant(ctx, c, g, tokens) }
	if s.txc != nil || s.jobs == nil {
		return s.inTx(ctx, fn)
	}
	return s.submit(ctx, &txJob{ctx: ctx, fn: fn, done: make(chan error, 1), grant: &grantRows{g, tokens}})
}

// maxGrantRows bounds the rows of one insertGrantRows statement: the
// statements are prepared for 1, 2, 4, … maxGrantRows rows and a batch is
// cut into those sizes, so that a handful of statements serve every batch.
const maxGrantRows = 64

// insertGrantRows inserts the grants of a group-commit batch and their tokens
// with one INSERT per table for each chunk of rows instead of two per
// grant: the statements' own cost (preparing the call, binding, starting
// the virtual machine) was a third of a client_credentials token's write
// on SQLite. Any error leaves the transaction to be rolled back.
func (s *Store) insertGrantRows(ctx context.Context, c conn, grants []*grantRows) error {
	var tokens []*storage.Token
	for len(grants) > 0 {
		n := chunk(len(grants))
		args := make([]any, 0, 14*n)
		for _, r := range grants[:n] {
			args = appendGrantArgs(args, r.g)
			tokens = append(tokens, r.tokens...)
		}
		if _, err := c.exec(ctx, rowsInsert(`INSERT INTO grants (`+grantCols+`) VALUES `, 14, n), args...); err != nil {
			return err
		}
		grants = grants[n:]
	}
	for len(tokens) > 0 {
		n := chunk(len(tokens))
		args := make([]any, 0, 11*n)
		for _, t := range tokens[:n] {
			args = appendTokenArgs(args, t)
		}
		if _, err := c.exec(ctx, rowsInsert(`INSERT INTO tokens (`+tokenCols+`) VALUES `, 11, n), args...); err != nil {
			return err
		}
		tokens = tokens[n:]
	}
	return nil
}

// chunk is the number of rows the next insertGrantRows statement takes out of
// n: the largest power of two not above n or maxGrantRows.
func chunk(n int) int {
	k := 1
	for k*2 <= n && k*2 <= maxGrantRows {
		k *= 2
	}
	return k
}

// rowsInsert is prefix followed by n rows of cols placeholders, cached:
// the text is the statement cache's key.
func rowsInsert(prefix string, cols, n int) string {
	key := rowsKey{prefix, n}
	if q, ok := rowsInserts.Load(key); ok {
		return q.(string)
	}
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	q := prefix + strings.Repeat(row+", ", n-1) + row
	rowsInserts.Store(key, q)
	return q
}

type rowsKey struct {
	prefix string
	n      int
}

var rowsInserts sync.Map // rowsKey → string

// createGrantOneStatement is CreateGrant on PostgreSQL for one grant (a
// batch of one, or a grant whose batch failed; see grantbatch.go): the grant and its
// tokens in one statement (the grant's INSERT in a WITH clause), which
// PostgreSQL runs as its own transaction. One round trip to the server
// instead of four (BEGIN, two INSERTs, COMMIT): the token endpoint's write
// path, measured by the benchmark of issue 15. Foreign keys are checked at
// the end of the statement, when the grant row exists.
func (s *Store) createGrantOneStatement(ctx context.Context, g *storage.Grant, tokens []*storage.Token) error {
	var q strings.Builder
	args := make([]any, 0, 14+11*len(tokens))
	if len(tokens) > 0 {
		q.WriteString(`WITH g AS (`)
	}
	q.WriteString(`INSERT INTO grants (` + grantCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	args = appendGrantArgs(args, g)
	for i, t := range tokens {
		if i == 0 {
			q.WriteString(`) INSERT INTO tokens (` + tokenCols + `) VALUES `)
		} else {
			q.WriteString(`, `)
		}
		q.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		args = appendTokenArgs(args, t)
	}
	query := q.String()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if _, err = s.writer().exec(ctx, query, args...); err == nil || !s.d.isRetryable(err) || ctx.Err() != nil {
			break
		}
	}
	return s.wrapErr("create grant", err)
}

// checkGrant validates a grant and its first tokens before any write.
func (s *Store) checkGrant(g *storage.Grant, tokens []*storage.Token) error {
	if err := checkID("grant", g.ID); err != nil {
		return err
	}
	if err := checkScope(g.Scope); err != nil {
		return err
	}
	if err := checkScope(g.Resources); err != nil {
		return err
	}
	return checkTokens(g.ID, g.ClientID, tokens)
}

// insertGrant writes a grant and its tokens inside the caller's transaction.
func (s *Store) insertGrant(ctx context.Context, c conn, g *storage.Grant, tokens []*storage.Token) error {
	_, err := c.exec(ctx, `INSERT INTO grants (`+grantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		appendGrantArgs(nil, g)...)
	if err != nil {
		return s.wrapErr("create grant", err)
	}
	return s.wrapErr("create grant", s.insertTokens(ctx, c, tokens))
}

func (s *Store) Grant(ctx context.Context, id string) (*storage.Grant, error) {
	if unmatchable(id) {
		return nil, notFound("grant")
	}
	g, err := scanGrant(s.reader().row(ctx, `SELECT `+grantCols+` FROM grants
		WHERE id = ? AND revoked_at IS NULL`, id))
	if err != nil {
		return nil, s.wrapErr("grant", err)
	}
	return g, nil
}

// Token implements storage.Grants. Besides the documented conditions, a token
// whose grant has a non-zero ExpiresAt at or before now is not found either,
// as DeleteExpired would remove it; a zero Token.ExpiresAt counts as expired.
func (s *Store) Token(ctx context.Context, hash []byte, now time.Time) (*storage.Token, *storage.Grant, error) {
	if len(hash) == 0 {
		return nil, nil, notFound("token")
	}
	if s.tc != nil {
		return s.cachedTokenLookup(ctx, hash, now)
	}
	return s.lookupToken(ctx, hash, now)
}

// lookupToken reads a live token and its grant.
func (s *Store) lookupToken(ctx context.Context, hash []byte, now time.Time) (*storage.Token, *storage.Grant, error) {
	ts := now.UnixMicro()
	var t storage.Token
	var g storage.Grant
	err := s.reader().row(ctx, `SELECT `+tokenColsT+`, `+grantColsG+`
		FROM tokens t JOIN grants g ON g.id = t.grant_id
		WHERE t.hash = ? AND t.expires_at > ? AND t.used_at IS NULL
			AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > ?)`,
		hash, ts, ts).Scan(append(tokenDest(&t), grantDest(&g)...)...)
	if err != nil {
		return nil, nil, s.wrapErr("token", err)
	}
	return &t, &g, nil
}

// RotateRefreshToken implements storage.Grants (SECURITY D4). In one write
// transaction: a conditional UPDATE claims the refresh token (only one caller
// can move used_at from NULL), the grant's access tokens are deleted and next
// is inserted. It returns the old refresh token, now with UsedAt set, and its
// grant. Every token in next must name the same grant and client. A caller that finds
// the token already used revokes the grant and gets ErrReused.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, now time.Time, next ...*storage.Token) (*storage.Token, *storage.Grant, error) {
	old, g, err := s.rotateRefreshToken(ctx, oldHash, now, next)
	switch {
	case err == nil:
		s.forgetGrant(g.ID)
	case !errors.Is(err, storage.ErrNotFound):
		s.forgetAll() // a reuse revoked a grant this call did not return
	}
	return old, g, err
}

func (s *Store) rotateRefreshToken(ctx context.Context, oldHash []byte, now time.Time, next []*storage.Token) (*storage.Token, *storage.Grant, error) {
	if len(oldHash) == 0 {
		return nil, nil, notFound("rotate refresh token")
	}
	ts := now.UnixMicro()
	var old *storage.Token
	var g *storage.Grant
	err := s.inTx(ctx, func(c conn) error {
		// Lock the grant first, as RevokeGrant does, so the two cannot
		// deadlock on PostgreSQL.
		var gid string
		err := c.row(ctx, `SELECT id FROM grants WHERE id = (SELECT grant_id FROM tokens WHERE hash = ?)`+s.d.lockRow,
			oldHash).Scan(&gid)
		if err != nil {
			return s.wrapErr("rotate refresh token", err) // ErrNoRows → ErrNotFound
		}
		old, err = scanToken(c.row(ctx, `UPDATE tokens SET used_at = ?
			WHERE hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ?
				AND EXISTS (SELECT 1 FROM grants g WHERE g.id = tokens.grant_id
					AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > ?))
			RETURNING `+tokenCols, ts, oldHash, string(storage.RefreshToken), ts, ts))
		if errors.Is(err, sql.ErrNoRows) {
			return s.refreshNotClaimed(ctx, c, oldHash, now)
		}
		if err != nil {
			return s.wrapErr("rotate refresh token", err)
		}
		if err := checkTokens(old.GrantID, old.ClientID, next); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `DELETE FROM tokens WHERE grant_id = ? AND kind = ?`,
			old.GrantID, string(storage.AccessToken)); err != nil {
			return s.wrapErr("rotate refresh token", err)
		}
		if err := s.insertTokens(ctx, c, next); err != nil {
			return s.wrapErr("rotate refresh token", err)
		}
		g, err = scanGrant(c.row(ctx, `SELECT `+grantCols+` FROM grants WHERE id = ?`, old.GrantID))
		return s.wrapErr("rotate refresh token", err)
	})
	if err != nil {
		return nil, nil, err
	}
	return old, g, nil
}

// refreshNotClaimed explains why the conditional UPDATE matched no row. If the
// token is a refresh token that was used before, it revokes the grant (the
// transaction is committed) and reports ErrReused.
func (s *Store) refreshNotClaimed(ctx context.Context, c conn, hash []byte, now time.Time) error {
	t, err := scanToken(c.row(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	if err != nil {
		return s.wrapErr("rotate refresh token", err) // ErrNoRows → ErrNotFound
	}
	if t.Kind != storage.RefreshToken || t.UsedAt.IsZero() {
		return notFound("rotate refresh token") // access token, expired, or grant revoked/expired
	}
	if err := s.revokeGrant(ctx, c, t.GrantID, now); err != nil {
		return err
	}
	return commitAnd(errorf("rotate refresh token: %w", storage.ErrReused))
}

func (s *Store) revokeGrant(ctx context.Context, c conn, id string, now time.Time) error {
	if _, err := c.exec(ctx, `UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
		now.UnixMicro(), id); err != nil {
		return s.wrapErr("revoke grant", err)
	}
	if _, err := c.exec(ctx, `DELETE FROM tokens WHERE grant_id = ?`, id); err != nil {
		return s.wrapErr("revoke grant", err)
	}
	return nil
}

// RevokeGrant implements storage.Grants.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	defer s.forgetGrant(id)
	return s.inTx(ctx, func(c conn) error { return s.revokeGrant(ctx, c, id, now) })
}

// DeleteToken implements storage.Grants. The token cache forgets the
// tokens of the deleted token's grant only.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if len(hash) == 0 {
		return nil
	}
	var grantID string
	err := s.writer().row(ctx, `DELETE FROM tokens WHERE hash = ? RETURNING grant_id`, hash).Scan(&grantID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		s.forgetAll() // whether the token went is not known
		return s.wrapErr("delete token", err)
	}
	s.forgetGrant(grantID)
	return nil
}

// RevokeUserGrants implements storage.Grants. An empty userID is rejected:
// it would otherwise match every client_credentials grant.
func (s *Store) RevokeUserGrants(ctx context.Context, userID string, now time.Time) error {
	if err := checkID("user", userID); err != nil {
		return err
	}
	return s.revokeGrantsWhere(ctx, "user_id", userID, now)
}

// RevokeSessionGrants implements storage.Grants.
func (s *Store) RevokeSessionGrants(ctx context.Context, sessionID string, now time.Time) error {
	if err := checkID("session", sessionID); err != nil {
		return err
	}
	return s.revokeGrantsWhere(ctx, "session_id", sessionID, now)
}

// revokeGrantsWhere revokes the grants whose column (a constant of this
// file, never input) equals value, and deletes their tokens.
func (s *Store) revokeGrantsWhere(ctx context.Context, column, value string, now time.Time) error {
	defer s.forgetAll()
	return s.inTx(ctx, func(c conn) error { return s.revokeGrantsWhereTx(ctx, c, column, value, now) })
}

// revokeGrantsWhereTx is revokeGrantsWhere inside the caller's transaction.
func (s *Store) revokeGrantsWhereTx(ctx context.Context, c conn, column, value string, now time.Time) error {
	what := "revoke grants by " + column
	// The "<> ''" lets the planner use the partial index on column.
	if _, err := c.exec(ctx, `UPDATE grants SET revoked_at = ? WHERE `+column+` = ? AND `+column+` <> '' AND revoked_at IS NULL`,
		now.UnixMicro(), value); err != nil {
		return s.wrapErr(what, err)
	}
	if _, err := c.exec(ctx, `DELETE FROM tokens WHERE grant_id IN (SELECT id FROM grants WHERE `+column+` = ? AND `+column+` <> '')`,
		value); err != nil {
		return s.wrapErr(what, err)
	}
	return nil
}

// ListGrants implements storage.Grants.
func (s *Store) ListGrants(ctx context.Context, q storage.GrantQuery, now time.Time) ([]*storage.Grant, error) {
	query := `SELECT ` + grantCols + ` FROM grants WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`
	args := []any{now.UnixMicro()}
	if q.UserID != "" {
		query += ` AND user_id = ? AND user_id <> ''`
		args = append(args, q.UserID)
	}
	if q.ClientID != "" {
		query += ` AND client_id = ?`
		args = append(args, q.ClientID)
	}
	rows, err := s.reader().rows(ctx, query+` ORDER BY created_at DESC, id`, args...)
	if err != nil {
		return nil, s.wrapErr("list grants", err)
	}
	defer rows.Close()
	var out []*storage.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, s.wrapErr("list grants", err)
		}
		out = append(out, g)
	}
	return out, s.wrapErr("list grants", rows.Err())
}
