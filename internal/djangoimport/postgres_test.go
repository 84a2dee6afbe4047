package djangoimport

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// The same site on PostgreSQL (the fixture's tables and rows loaded into a
// throwaway database with the column types Django gives them there)
// imports exactly as from SQLite, here into an oidcd database on
// PostgreSQL too.
func TestImportPostgresSource(t *testing.T) {
	m := loadManifest(t, "v0.8.3")
	srcURL := pgtest.NewDatabase(t, pgtest.URL())
	copyToPostgres(t, fixtureDB(t, "v0.8.3"), srcURL)

	target, err := sqlstore.Open(t.Context(), pgtest.NewDatabase(t, pgtest.URL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	if err := target.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	opts := options(t, m, srcURL)
	r, err := Run(t.Context(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source == srcURL && strings.Contains(srcURL, "@") {
		t.Error("the report shows the source URL unredacted")
	}
	checkImported(t, target, m, r, opts.Now())
	r, err = Run(t.Context(), target, opts)
	if err != nil || r.Changed() {
		t.Fatalf("second run: %v %+v", err, r.Counts)
	}
}

// copyToPostgres recreates every table of a SQLite database in PostgreSQL
// with Django's PostgreSQL column types, and copies the rows.
func copyToPostgres(t *testing.T, sqlitePath, pgURL string) {
	t.Helper()
	src := openRW(t, sqlitePath)
	defer src.Close()
	dst, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	rows, err := src.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, tb := range tables {
		cols, err := src.Query(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, tb)
		if err != nil {
			t.Fatal(err)
		}
		var names, types, defs []string
		for cols.Next() {
			var n, typ string
			cols.Scan(&n, &typ)
			typ = strings.ToLower(typ)
			pg := "text"
			switch {
			case strings.HasPrefix(typ, "integer"), strings.HasPrefix(typ, "bigint"), strings.HasPrefix(typ, "smallint"):
				pg = "bigint"
			case strings.HasPrefix(typ, "bool"):
				pg = "boolean"
			case strings.HasPrefix(typ, "datetime"):
				pg = "timestamp with time zone"
			case typ == "date":
				pg = "date"
			}
			names, types = append(names, n), append(types, pg)
			defs = append(defs, fmt.Sprintf("%q %s", n, pg))
		}
		cols.Close()
		if _, err := dst.Exec(fmt.Sprintf("CREATE TABLE %q (%s)", tb, strings.Join(defs, ", "))); err != nil {
			t.Fatalf("create %s: %v", tb, err)
		}
		quoted := make([]string, len(names))
		marks := make([]string, len(names))
		for i, n := range names {
			quoted[i], marks[i] = fmt.Sprintf("%q", n), fmt.Sprintf("$%d", i+1)
		}
		ins := fmt.Sprintf("INSERT INTO %q (%s) VALUES (%s)", tb, strings.Join(quoted, ", "), strings.Join(marks, ", "))
		data, err := src.Query(fmt.Sprintf("SELECT %s FROM %q", strings.Join(quoted, ", "), tb))
		if err != nil {
			t.Fatal(err)
		}
		for data.Next() {
			v := make([]any, len(names))
			p := make([]any, len(names))
			for i := range v {
				p[i] = &v[i]
			}
			if err := data.Scan(p...); err != nil {
				t.Fatal(err)
			}
			for i := range v {
				switch {
				case v[i] == nil:
				case types[i] == "boolean":
					v[i] = asBool(v[i])
				case types[i] == "timestamp with time zone":
					tm, ok := asTime(v[i])
					if !ok {
						t.Fatalf("%s.%s: %v", tb, names[i], v[i])
					}
					v[i] = tm
				case types[i] == "text" || types[i] == "date":
					v[i] = asString(v[i])
				}
			}
			if _, err := dst.Exec(ins, v...); err != nil {
				t.Fatalf("insert into %s: %v", tb, err)
			}
		}
		data.Close()
	}
}
