package djangoimport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ReadSubMap reads a --sub-map file: CSV lines "django_user_id,sub", for
// sites whose OIDC_IDTOKEN_SUB_GENERATOR did not return the user id (a
// Django shell can write it: one line per user with the generator's
// result). A first line "user_id,sub" is a header. Every sub must be unique,
// at most 255 characters of printable ASCII (OIDC Core §2).
func ReadSubMap(r io.Reader) (map[int64]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	cr.TrimLeadingSpace = true
	out := map[int64]string{}
	seen := map[string]int64{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sub map: %w", err)
		}
		id, err := strconv.ParseInt(strings.TrimSpace(rec[0]), 10, 64)
		if err != nil {
			if line == 1 {
				continue // a header
			}
			return nil, fmt.Errorf("sub map line %d: user id %q is not a number", line, rec[0])
		}
		sub := rec[1]
		if sub == "" || len(sub) > 255 || !utf8.ValidString(sub) || strings.IndexFunc(sub, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			return nil, fmt.Errorf("sub map line %d: sub %q must be 1 to 255 printable ASCII characters", line, sub)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("sub map line %d: user %d listed twice", line, id)
		}
		if other, dup := seen[sub]; dup {
			return nil, fmt.Errorf("sub map line %d: sub %q already given to user %d", line, sub, other)
		}
		out[id], seen[sub] = sub, id
	}
	if len(out) == 0 {
		return nil, errors.New("sub map: no users")
	}
	return out, nil
}
