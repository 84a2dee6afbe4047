package djangoimport

import (
	"context"

	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// site is everything read from the source, before any write.
type site struct {
	release  string
	notes    []string
	clients  []*djClient
	keys     []*djKey
	users    []*djUser
	claims   map[int64]map[string]any
	consents []*djConsent
	tokens   []*djToken
	codes    []*djCode
}

type djClient struct {
	pk                                   int64
	clientID, name, clientType, secret   string
	responseTypes                        []string
	jwtAlg, website, terms, contactEmail string
	logo, scope                          string
	redirectURIs, postLogoutURIs         []string
	requireConsent, reuseConsent         bool
	created                              time.Time
}

type djKey struct {
	id  int64
	pem string
}

type djUser struct {
	id                              int64
	username, password, first, last string
	email                           string
	staff, superuser, active        bool
	joined                          time.Time
}

type djConsent struct {
	id, userID      int64
	clientID, scope string
	given, expires  time.Time
}

type djToken struct {
	id, userID                                 int64
	clientID, scope, accessToken, refreshToken string
	nonce                                      string
	authTime, expires                          time.Time
}

type djCode struct {
	id, userID                   int64
	clientID, scope, code, nonce string
	challenge, challengeMethod   string
	expires                      time.Time
}

// rowsOf runs q and calls scan for each row with its columns as values.
func rowsOf(ctx context.Context, src *source, what, q string, scan func(v []any) error) error {
	rows, err := src.query(ctx, q)
	if err != nil {
		return fmt.Errorf("%w: cannot read %s: %v", errNotDjango, what, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	for rows.Next() {
		v := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range v {
			ptrs[i] = &v[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		if err := scan(v); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}

func mustInt(v any, col string) (int64, error) {
	n, ok := asInt(v)
	if !ok {
		return 0, fmt.Errorf("column %s: %v is not an integer", col, v)
	}
	return n, nil
}

func mustTime(v any, col string) (time.Time, error) {
	t, ok := asTime(v)
	if !ok {
		return time.Time{}, fmt.Errorf("column %s: %v is not a time", col, v)
	}
	return t, nil
}

// readSite reads every table the import needs, for the schema the source
// has (0.5: one response_type column and no client scope; 0.7+: the
// ResponseType table).
func readSite(ctx context.Context, src *source, opts Options) (*site, error) {
	d := &site{claims: map[int64]map[string]any{}}
	scopeCol := "''"
	if src.has("0025_user_field_codetoken") {
		scopeCol = "_scope"
	} else {
		d.notes = append(d.notes, "this release has no client scope (added in 0.6): clients get an empty scope")
	}
	multi := src.has("0026_client_multiple_response_types")
	rtCol := "response_type"
	if multi {
		rtCol = "''"
	}
	byPK := map[int64]*djClient{}
	err := rowsOf(ctx, src, "clients", `SELECT id, client_id, name, client_type, client_secret, `+rtCol+`,
		jwt_alg, date_created, website_url, terms_url, contact_email, logo, reuse_consent, require_consent,
		_redirect_uris, _post_logout_redirect_uris, `+scopeCol+` FROM oidc_provider_client ORDER BY id`,
		func(v []any) error {
			pk, err := mustInt(v[0], "id")
			if err != nil {
				return err
			}
			created, err := mustTime(v[7], "date_created")
			if err != nil {
				return err
			}
			c := &djClient{pk: pk, clientID: asString(v[1]), name: asString(v[2]), clientType: asString(v[3]),
				secret: asString(v[4]), jwtAlg: asString(v[6]), created: created, website: asString(v[8]),
				terms: asString(v[9]), contactEmail: asString(v[10]), logo: asString(v[11]),
				reuseConsent: asBool(v[12]), requireConsent: asBool(v[13]),
				redirectURIs: lines(asString(v[14])), postLogoutURIs: lines(asString(v[15])), scope: asString(v[16])}
			if !multi && asString(v[5]) != "" {
				c.responseTypes = []string{asString(v[5])}
			}
			d.clients = append(d.clients, c)
			byPK[pk] = c
			return nil
		})
	if err != nil {
		return nil, err
	}
	if multi {
		err := rowsOf(ctx, src, "response types", `SELECT crt.client_id, rt.value
			FROM oidc_provider_client_response_types crt
			JOIN oidc_provider_responsetype rt ON rt.id = crt.responsetype_id ORDER BY crt.id`,
			func(v []any) error {
				pk, err := mustInt(v[0], "client_id")
				if err != nil {
					return err
				}
				if c := byPK[pk]; c != nil {
					c.responseTypes = append(c.responseTypes, asString(v[1]))
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	clientOf := func(v any) (string, error) {
		pk, err := mustInt(v, "client_id")
		if err != nil {
			return "", err
		}
		c := byPK[pk]
		if c == nil {
			return "", fmt.Errorf("client %d does not exist", pk)
		}
		return c.clientID, nil
	}
	err = rowsOf(ctx, src, "RSA keys", `SELECT id, key FROM oidc_provider_rsakey ORDER BY id`, func(v []any) error {
		id, err := mustInt(v[0], "id")
		d.keys = append(d.keys, &djKey{id: id, pem: asString(v[1])})
		return err
	})
	if err != nil {
		return nil, err
	}
	err = rowsOf(ctx, src, "users (auth_user)", `SELECT id, username, password, first_name, last_name, email,
		is_staff, is_superuser, is_active, date_joined FROM auth_user ORDER BY id`, func(v []any) error {
		id, err := mustInt(v[0], "id")
		if err != nil {
			return err
		}
		joined, err := mustTime(v[9], "date_joined")
		if err != nil {
			return err
		}
		d.users = append(d.users, &djUser{id: id, username: asString(v[1]), password: asString(v[2]),
			first: asString(v[3]), last: asString(v[4]), email: asString(v[5]), staff: asBool(v[6]),
			superuser: asBool(v[7]), active: asBool(v[8]), joined: joined})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if opts.ClaimsSQL != "" {
		if err := readClaims(ctx, src, opts.ClaimsSQL, d.claims); err != nil {
			return nil, err
		}
	}
	err = rowsOf(ctx, src, "consents", `SELECT id, user_id, client_id, _scope, date_given, expires_at
		FROM oidc_provider_userconsent ORDER BY id`, func(v []any) error {
		c := &djConsent{scope: asString(v[3])}
		var err error
		if c.id, err = mustInt(v[0], "id"); err != nil {
			return err
		}
		if c.userID, err = mustInt(v[1], "user_id"); err != nil {
			return err
		}
		if c.clientID, err = clientOf(v[2]); err != nil {
			return err
		}
		if c.given, err = mustTime(v[4], "date_given"); err != nil {
			return err
		}
		c.expires, err = mustTime(v[5], "expires_at")
		d.consents = append(d.consents, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = rowsOf(ctx, src, "tokens", `SELECT id, user_id, client_id, _scope, access_token, refresh_token,
		_id_token, expires_at FROM oidc_provider_token ORDER BY id`, func(v []any) error {
		t := &djToken{scope: asString(v[3]), accessToken: asString(v[4]), refreshToken: asString(v[5])}
		var err error
		if t.id, err = mustInt(v[0], "id"); err != nil {
			return err
		}
		if v[1] != nil { // client_credentials tokens have no user
			if t.userID, err = mustInt(v[1], "user_id"); err != nil {
				return err
			}
		}
		if t.clientID, err = clientOf(v[2]); err != nil {
			return err
		}
		t.nonce, t.authTime = idTokenFields(asString(v[6]))
		t.expires, err = mustTime(v[7], "expires_at")
		d.tokens = append(d.tokens, t)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = rowsOf(ctx, src, "codes", `SELECT id, user_id, client_id, _scope, code, nonce, code_challenge,
		code_challenge_method, expires_at FROM oidc_provider_code ORDER BY id`, func(v []any) error {
		c := &djCode{scope: asString(v[3]), code: asString(v[4]), nonce: asString(v[5]),
			challenge: asString(v[6]), challengeMethod: asString(v[7])}
		var err error
		if c.id, err = mustInt(v[0], "id"); err != nil {
			return err
		}
		if c.userID, err = mustInt(v[1], "user_id"); err != nil {
			return err
		}
		if c.clientID, err = clientOf(v[2]); err != nil {
			return err
		}
		c.expires, err = mustTime(v[8], "expires_at")
		d.codes = append(d.codes, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// lines splits a django-oidc-provider list field (one entry per line).
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ClaimColumns are the columns a --claims-sql query may return besides
// user_id: the standard claims of OIDC Core §5.1 an oidcd account holds.
var ClaimColumns = []string{"name", "given_name", "family_name", "middle_name", "nickname",
	"preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo",
	"locale", "email", "email_verified", "phone_number", "phone_number_verified",
	"address_formatted", "address_street_address", "address_locality", "address_region",
	"address_postal_code", "address_country"}

// readClaims runs the site's claims query, whose columns are user_id and
// any of ClaimColumns.
func readClaims(ctx context.Context, src *source, q string, out map[int64]map[string]any) error {
	rows, err := src.query(ctx, q)
	if err != nil {
		return fmt.Errorf("--claims-sql: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("--claims-sql: %w", err)
	}
	userCol := -1
	for i, c := range cols {
		switch {
		case c == "user_id":
			userCol = i
		case !slices.Contains(ClaimColumns, c):
			return fmt.Errorf("--claims-sql: column %q is not user_id or a claim (%s)", c, strings.Join(ClaimColumns, ", "))
		}
	}
	if userCol < 0 {
		return fmt.Errorf("--claims-sql: the query has no user_id column")
	}
	for rows.Next() {
		v := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range v {
			ptrs[i] = &v[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("--claims-sql: %w", err)
		}
		id, ok := asInt(v[userCol])
		if !ok {
			return fmt.Errorf("--claims-sql: user_id %v is not an integer", v[userCol])
		}
		m := out[id]
		if m == nil {
			m = map[string]any{}
			out[id] = m
		}
		for i, c := range cols {
			if i != userCol && v[i] != nil {
				m[c] = v[i]
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("--claims-sql: %w", err)
	}
	return nil
}

// applyClaims sets the claims read by --claims-sql on an account; they
// win over the names and email of auth_user.
func applyClaims(u *storage.User, claims map[string]any) error {
	str := map[string]*string{
		"name": &u.Name, "given_name": &u.GivenName, "family_name": &u.FamilyName,
		"middle_name": &u.MiddleName, "nickname": &u.Nickname, "preferred_username": &u.PreferredUsername,
		"profile": &u.Profile, "picture": &u.Picture, "website": &u.Website, "gender": &u.Gender,
		"birthdate": &u.Birthdate, "zoneinfo": &u.Zoneinfo, "locale": &u.Locale, "email": &u.Email,
		"phone_number": &u.PhoneNumber, "address_formatted": &u.Address.Formatted,
		"address_street_address": &u.Address.StreetAddress, "address_locality": &u.Address.Locality,
		"address_region": &u.Address.Region, "address_postal_code": &u.Address.PostalCode,
		"address_country": &u.Address.Country,
	}
	for k, v := range claims {
		switch k {
		case "email_verified":
			u.EmailVerified = asBool(v)
		case "phone_number_verified":
			u.PhoneNumberVerified = asBool(v)
		case "birthdate":
			if t, ok := v.(time.Time); ok {
				u.Birthdate = t.Format(time.DateOnly)
				continue
			}
			u.Birthdate = asString(v)
		default:
			p, ok := str[k]
			if !ok {
				return fmt.Errorf("unknown claim %q", k)
			}
			*p = asString(v)
		}
	}
	return nil
}
