package sqlstore

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// Times are stored as unix microseconds UTC; the zero time is NULL.

// timeArg is the column value of t.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// int8Arg is timeArg as an element of a bigint array.
func int8Arg(t time.Time) pgtype.Int8 {
	if t.IsZero() {
		return pgtype.Int8{}
	}
	return pgtype.Int8{Int64: t.UnixMicro(), Valid: true}
}

// timeCol scans a time column.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return errorf("time column holds %T", src)
	}
	return nil
}

// Scopes are stored space-separated. A scope token never contains a space
// (RFC 6749 §3.3), so checkScope rejects one that does.

func checkScope(scope []string) error {
	for _, s := range scope {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			return errorf("invalid scope token %q", s)
		}
	}
	return nil
}

func scopeArg(scope []string) string { return strings.Join(scope, " ") }

// scopeCol scans a scope column; the empty scope reads as nil.
type scopeCol struct{ s *[]string }

func (c scopeCol) Scan(src any) error {
	var v string
	switch x := src.(type) {
	case nil:
	case string:
		v = x
	case []byte:
		v = string(x)
	default:
		return errorf("scope column holds %T", src)
	}
	*c.s = nil
	if f := strings.Fields(v); len(f) > 0 {
		*c.s = f
	}
	return nil
}

// String lists are stored as JSON arrays.

func listArg(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// listCol scans a JSON list column; the empty list reads as nil.
type listCol struct{ l *[]string }

func (c listCol) Scan(src any) error {
	var l []string
	if err := scanJSON(src, "list", &l); err != nil {
		return err
	}
	*c.l = nil
	if len(l) > 0 {
		*c.l = l
	}
	return nil
}

// scanJSON decodes a JSON column (TEXT or BLOB) into dst; NULL and the
// empty value leave dst as it is. col names the column in errors.
func scanJSON(src any, col string, dst any) error {
	var b []byte
	switch x := src.(type) {
	case nil:
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return errorf("%s column holds %T", col, src)
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return errorf("%s column: %w", col, err)
	}
	return nil
}

// blobArg stores an empty byte slice as NULL.
func blobArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

var errEmptyHash = newError("empty hash")

func checkHash(h []byte) error {
	if len(h) == 0 {
		return errEmptyHash
	}
	return nil
}

func checkID(what, id string) error {
	if id == "" {
		return errorf("empty %s id", what)
	}
	return checkText(what+" id", id)
}

// checkText rejects strings PostgreSQL cannot store in a text column (NUL,
// invalid UTF-8), so both dialects accept the same keys.
func checkText(what, s string) error {
	if unmatchable(s) {
		return errorf("%s %q is not valid UTF-8 text", what, s)
	}
	return nil
}

// unmatchable reports whether s can equal no stored key. Lookups skip the
// database for such strings: PostgreSQL would fail the query instead of
// finding nothing.
func unmatchable(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}
