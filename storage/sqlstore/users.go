package sqlstore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

const userCols = `id, username, password_hash, admin, name, given_name, family_name,
	middle_name, nickname, preferred_username, profile, picture, website, gender, birthdate,
	zoneinfo, locale, email, email_verified, phone_number, phone_number_verified,
	address_formatted, address_street_address, address_locality, address_region,
	address_postal_code, address_country, created_at, updated_at, locked,
	localized_claims`

func userArgs(u *storage.User) []any {
	a := &u.Address
	return []any{u.ID, u.Username, u.PasswordHash, u.Admin, u.Name, u.GivenName, u.FamilyName,
		u.MiddleName, u.Nickname, u.PreferredUsername, u.Profile, u.Picture, u.Website, u.Gender,
		u.Birthdate, u.Zoneinfo, u.Locale, u.Email, u.EmailVerified, u.PhoneNumber,
		u.PhoneNumberVerified, a.Formatted, a.StreetAddress, a.Locality, a.Region,
		a.PostalCode, a.Country, timeArg(u.CreatedAt), timeArg(u.UpdatedAt), u.Locked,
		localizedArg(u.Localized)}
}

// localizedArg stores localized claims as a JSON object ("" for none).
func localizedArg(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return string(b)
}

// localizedCol scans the localized_claims column.
type localizedCol struct{ m *map[string]string }

func (c localizedCol) Scan(src any) error {
	*c.m = nil
	return scanJSON(src, "localized_claims", c.m)
}

func scanUser(r scanner) (*storage.User, error) {
	var u storage.User
	a := &u.Address
	err := r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Admin, &u.Name, &u.GivenName,
		&u.FamilyName, &u.MiddleName, &u.Nickname, &u.PreferredUsername, &u.Profile, &u.Picture,
		&u.Website, &u.Gender, &u.Birthdate, &u.Zoneinfo, &u.Locale, &u.Email, &u.EmailVerified,
		&u.PhoneNumber, &u.PhoneNumberVerified, &a.Formatted, &a.StreetAddress, &a.Locality,
		&a.Region, &a.PostalCode, &a.Country, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, &u.Locked,
		localizedCol{&u.Localized})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser implements storage.Users.
func (s *Store) CreateUser(ctx context.Context, u *storage.User) error {
	if err := checkID("user", u.ID); err != nil {
		return err
	}
	if err := checkText("username", u.Username); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?,
		?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, userArgs(u)...)
	return s.wrapErr("create user", err)
}

// User implements storage.Users.
func (s *Store) User(ctx context.Context, id string) (*storage.User, error) {
	if unmatchable(id) {
		return nil, notFound("user")
	}
	u, err := scanUser(s.reader().row(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, s.wrapErr("user", err)
	}
	return u, nil
}

// UserByUsername implements storage.Users. Both dialects compare text
// bytewise, so the match is exact (case-sensitive).
func (s *Store) UserByUsername(ctx context.Context, username string) (*storage.User, error) {
	if unmatchable(username) {
		return nil, notFound("user by username")
	}
	u, err := scanUser(s.reader().row(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, username))
	if err != nil {
		return nil, s.wrapErr("user by username", err)
	}
	return u, nil
}

// UpdateUser implements storage.Users.
func (s *Store) UpdateUser(ctx context.Context, u *storage.User) error {
	if err := checkText("username", u.Username); err != nil {
		return err
	}
	args := append(userArgs(u)[1:], u.ID)
	n, err := s.writer().execN(ctx, `UPDATE users SET username = ?, password_hash = ?, admin = ?,
		name = ?, given_name = ?, family_name = ?, middle_name = ?, nickname = ?,
		preferred_username = ?, profile = ?, picture = ?, website = ?, gender = ?, birthdate = ?,
		zoneinfo = ?, locale = ?, email = ?, email_verified = ?, phone_number = ?,
		phone_number_verified = ?, address_formatted = ?, address_street_address = ?,
		address_locality = ?, address_region = ?, address_postal_code = ?, address_country = ?,
		created_at = ?, updated_at = ?, locked = ?, localized_claims = ?
		WHERE id = ?`, args...)
	if err != nil {
		return s.wrapErr("update user", err)
	}
	if n == 0 {
		return notFound("update user")
	}
	return nil
}

// SetPassword implements storage.Users: one transaction updates the hash,
// revokes the user's grants (deleting their tokens), deletes the user's
// unredeemed codes and sessions.
func (s *Store) SetPassword(ctx context.Context, userID, passwordHash string, now time.Time) error {
	defer s.forgetAll()
	if err := checkID("user", userID); err != nil {
		return err
	}
	return s.inTx(ctx, func(c conn) error {
		n, err := c.execN(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
			passwordHash, timeArg(now), userID)
		if err != nil {
			return s.wrapErr("set password", err)
		}
		if n == 0 {
			return notFound("set password")
		}
		if err := s.revokeGrantsWhereTx(ctx, c, "user_id", userID, now); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM codes WHERE user_id = ? AND consumed_at IS NULL`,
			`DELETE FROM sessions WHERE user_id = ?`,
		} {
			if _, err := c.exec(ctx, q, userID); err != nil {
				return s.wrapErr("set password", err)
			}
		}
		return nil
	})
}

// DeleteUser implements storage.Users: the user goes with its sessions,
// consents, codes, grants and their tokens.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	defer s.forgetAll()
	return s.inTx(ctx, func(c conn) error {
		n, err := c.execN(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err != nil {
			return s.wrapErr("delete user", err)
		}
		if n == 0 {
			return notFound("delete user")
		}
		for _, q := range []string{
			`DELETE FROM sessions WHERE user_id = ?`,
			`DELETE FROM consents WHERE user_id = ?`,
			`DELETE FROM codes WHERE user_id = ?`,
			`DELETE FROM grants WHERE user_id = ? AND user_id <> ''`, // grants before tokens, as everywhere; "<> ''" uses the partial index
			`DELETE FROM tokens WHERE user_id = ?`,
		} {
			if _, err := c.exec(ctx, q, id); err != nil {
				return s.wrapErr("delete user", err)
			}
		}
		return nil
	})
}

// ListUsers implements storage.Users.
func (s *Store) ListUsers(ctx context.Context) ([]*storage.User, error) {
	rows, err := s.reader().rows(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, s.wrapErr("list users", err)
	}
	defer rows.Close()
	var out []*storage.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.wrapErr("list users", err)
		}
		out = append(out, u)
	}
	return out, s.wrapErr("list users", rows.Err())
}

// SearchUsers implements storage.Users. The search is a case-insensitive
// substring match (ASCII letters) on username, name, email and id; LIKE's
// wildcards in it match themselves.
func (s *Store) SearchUsers(ctx context.Context, q storage.UserQuery) ([]*storage.User, int, error) {
	where, args := "", []any{}
	if q.Search != "" {
		pat := "%" + likeEscaper.Replace(asciiLower(q.Search)) + "%"
		where = ` WHERE LOWER(username) LIKE ? ESCAPE '\' OR LOWER(name) LIKE ? ESCAPE '\'
			OR LOWER(email) LIKE ? ESCAPE '\' OR LOWER(id) LIKE ? ESCAPE '\'`
		args = append(args, pat, pat, pat, pat)
	}
	var total int
	if err := s.reader().row(ctx, `SELECT COUNT(*) FROM users`+where, args...).Scan(&total); err != nil {
		return nil, 0, s.wrapErr("search users", err)
	}
	query := `SELECT ` + userCols + ` FROM users` + where + ` ORDER BY username`
	if q.Limit > 0 {
		query += ` LIMIT ? OFFSET ?`
		args = append(args, q.Limit, max(q.Offset, 0))
	} else if q.Offset > 0 {
		query += ` LIMIT -1 OFFSET ?`
		if s.d.name == "postgres" {
			query = strings.Replace(query, "LIMIT -1 ", "", 1)
		}
		args = append(args, q.Offset)
	}
	rows, err := s.reader().rows(ctx, query, args...)
	if err != nil {
		return nil, 0, s.wrapErr("search users", err)
	}
	defer rows.Close()
	var out []*storage.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, s.wrapErr("search users", err)
		}
		out = append(out, u)
	}
	return out, total, s.wrapErr("search users", rows.Err())
}

// likeEscaper makes LIKE's wildcards (and the escape character) literal.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// asciiLower lowers ASCII letters only, as SQLite's LOWER does.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
