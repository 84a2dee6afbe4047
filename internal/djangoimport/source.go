package djangoimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// source is a django-oidc-provider database opened read-only, read in one
// transaction so that every table comes from the same moment.
type source struct {
	db *sql.DB
	tx *sql.Tx
	// migrations are the applied migrations of the oidc_provider app.
	migrations map[string]bool
	last       string // the newest applied oidc_provider migration
}

// openSource opens the database at from: a "postgres://" URL, or a SQLite
// file ("sqlite:PATH" or a bare path), which must exist.
func openSource(ctx context.Context, from string) (*source, error) {
	var (
		db  *sql.DB
		err error
	)
	switch {
	case isPostgres(from):
		db, err = sql.Open("pgx", from)
	case strings.Contains(from, "://") && !strings.HasPrefix(from, "sqlite:"):
		return nil, fmt.Errorf("unsupported source %q: give a SQLite file or a postgres:// URL", redact(from))
	default:
		path := strings.TrimPrefix(strings.TrimPrefix(from, "sqlite:"), "//")
		if path == "" || strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("source %q: give the path of a SQLite file", from)
		}
		fi, serr := os.Stat(path)
		switch {
		case serr != nil:
			return nil, fmt.Errorf("source: %w", serr)
		case fi.IsDir():
			return nil, fmt.Errorf("source %s is a directory, not a SQLite file", path)
		}
		// Read-only: the import never writes to the site's database.
		db, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)")
	}
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	db.SetMaxOpenConns(1)
	// PostgreSQL: one read-only snapshot for every table. SQLite: the file
	// is opened read-only and one transaction reads it.
	opts := &sql.TxOptions{}
	if isPostgres(from) {
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("source %s cannot be read: %w", redact(from), err)
	}
	s := &source{db: db, tx: tx, migrations: map[string]bool{}}
	if err := s.detect(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func isPostgres(from string) bool {
	return strings.HasPrefix(from, "postgres://") || strings.HasPrefix(from, "postgresql://")
}

func (s *source) close() {
	s.tx.Rollback()
	s.db.Close()
}

// Schema versions, from the newest migration of the oidc_provider app
// each release line ships.
var releaseOf = []struct{ migration, release string }{
	{"0027_alter_rsakey_options", "0.8"},
	{"0026_client_multiple_response_types", "0.7"},
	{"0025_user_field_codetoken", "0.6"},
	{"0023_client_owner", "0.6"},
	{"0022_auto_20170331_1626", "0.5"},
}

// errNotDjango is the message for a database that is not a
// django-oidc-provider site's.
var errNotDjango = errors.New("not a django-oidc-provider database")

// detect reads django_migrations and checks that the schema is one this
// importer knows (releases 0.5 to 0.8).
func (s *source) detect(ctx context.Context) error {
	rows, err := s.tx.QueryContext(ctx, `SELECT app, name FROM django_migrations`)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "no such table") || strings.Contains(msg, "does not exist") {
			return fmt.Errorf("%w: it has no django_migrations table", errNotDjango)
		}
		return fmt.Errorf("%w: cannot read django_migrations: %v", errNotDjango, err)
	}
	defer rows.Close()
	apps := map[string]bool{}
	for rows.Next() {
		var app, name string
		if err := rows.Scan(&app, &name); err != nil {
			return fmt.Errorf("%w: django_migrations: %v", errNotDjango, err)
		}
		apps[app] = true
		if app == "oidc_provider" {
			s.migrations[name] = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: django_migrations: %v", errNotDjango, err)
	}
	if !apps["oidc_provider"] {
		return fmt.Errorf("%w: a Django database without the oidc_provider app", errNotDjango)
	}
	if !apps["auth"] {
		return fmt.Errorf("%w: the auth app (auth_user) is not migrated", errNotDjango)
	}
	names := make([]string, 0, len(s.migrations))
	for n := range s.migrations {
		names = append(names, n)
	}
	sort.Strings(names)
	s.last = names[len(names)-1]
	if !s.migrations["0022_auto_20170331_1626"] {
		return fmt.Errorf("%w of release 0.5 or later: its newest oidc_provider migration is %s (upgrade the site to 0.5 or later first)", errNotDjango, s.last)
	}
	return nil
}

// release names the release line of the schema ("0.8"), with a "+" when
// the database has migrations newer than the ones this importer knows.
func (s *source) release() string {
	for _, r := range releaseOf {
		if s.migrations[r.migration] {
			if migrationNumber(s.last) > migrationNumber(releaseOf[0].migration) {
				return r.release + "+"
			}
			return r.release
		}
	}
	return "unknown"
}

// migrationNumber is the number a Django migration name starts with
// ("0027_alter_rsakey_options" → 27), 0 if none.
func migrationNumber(name string) int {
	digits, _, _ := strings.Cut(name, "_")
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0
	}
	return n
}

// has reports whether a migration of the oidc_provider app is applied.
func (s *source) has(migration string) bool { return s.migrations[migration] }

// query runs a read on the source's snapshot.
func (s *source) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.tx.QueryContext(ctx, q, args...)
}

// redact hides a password in a URL.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	sc := strings.Index(dsn, "://")
	if at < 0 || sc < 0 || at < sc {
		return dsn
	}
	return dsn[:sc+3] + "…" + dsn[at:]
}

// Column decoding: SQLite gives text or integers where PostgreSQL gives
// typed values, so rows are scanned into any and converted here.

func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func asBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64, int32, int16:
		n, _ := asInt(x)
		return n != 0
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	case []byte:
		b, _ := strconv.ParseBool(string(x))
		return b
	}
	return false
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case []byte:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// Django writes datetimes in UTC when USE_TZ is on (its default since 1.4's
// project template); SQLite holds them as text.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t.UTC(), true
			}
		}
	case []byte:
		return asTime(string(x))
	}
	return time.Time{}, false
}
