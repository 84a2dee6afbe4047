package op

import (
	"context"
	"fmt"
	"github.com/oidcd/oidcd/storage"
	"slices"
	"strings"
)

// Claims are a user's standard claims (OIDC Core §5.1), filled by
// Users.Claims. Empty values are never released. It is storage.Claims: one
// model of the standard claims for op, the oidcd server's accounts and its
// command line.
type Claims = storage.Claims

// Address is the structured address claim (OIDC Core §5.1.1).
type Address = storage.Address

func addressEmpty(a Address) bool { return a == Address{} }

// standardScopes are the scopes OIDC Core §5.4 defines, with their claims.
var standardScopes = []Scope{
	{Name: "openid", Title: "Your identity", Description: "Confirms who you are, so that the application recognises you when you come back."},
	{Name: "profile", Title: "Basic profile", Description: "Your name, username, profile picture, website, gender, date of birth, time zone and language."},
	{Name: "email", Title: "Email address", Description: "Your email address and whether it has been verified."},
	{Name: "phone", Title: "Phone number", Description: "Your phone number and whether it has been verified."},
	{Name: "address", Title: "Postal address", Description: "The postal address saved in your account."},
	{Name: "offline_access", Title: "Access while you are away", Description: "The application can keep acting for you when you are not using it, until you sign out of it or withdraw its access."},
}

// scopeClaims lists the claims each standard scope releases (OIDC Core §5.4).
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"phone":   {"phone_number", "phone_number_verified"},
	"address": {"address"},
}

// supportedClaims is what discovery advertises in claims_supported.
func supportedClaims() []string {
	out := []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "azp", "sid"}
	for _, s := range []string{"profile", "email", "phone", "address"} {
		out = append(out, scopeClaims[s]...)
	}
	return out
}

// asMap returns every non-empty standard claim by its JSON name.
func claimsMap(c *Claims) map[string]any {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("name", c.Name)
	put("given_name", c.GivenName)
	put("family_name", c.FamilyName)
	put("middle_name", c.MiddleName)
	put("nickname", c.Nickname)
	put("preferred_username", c.PreferredUsername)
	put("profile", c.Profile)
	put("picture", c.Picture)
	put("website", c.Website)
	put("gender", c.Gender)
	put("birthdate", c.Birthdate)
	put("zoneinfo", c.Zoneinfo)
	put("locale", c.Locale)
	if !c.UpdatedAt.IsZero() {
		m["updated_at"] = c.UpdatedAt.Unix()
	}
	if c.Email != "" {
		m["email"] = c.Email
		m["email_verified"] = c.EmailVerified
	}
	if c.PhoneNumber != "" {
		m["phone_number"] = c.PhoneNumber
		m["phone_number_verified"] = c.PhoneNumberVerified
	}
	if !addressEmpty(c.Address) {
		m["address"] = c.Address
	}
	return m
}

// scopeSet is a parsed, de-duplicated scope list in request order.
type scopeSet []string

// It is linear in the input (SECURITY L6): a set remembers what was seen.
func parseScope(s string) scopeSet {
	fields := strings.Fields(s)
	out := make(scopeSet, 0, len(fields))
	seen := make(map[string]struct{}, len(fields))
	for _, f := range fields {
		if _, dup := seen[f]; !dup {
			seen[f] = struct{}{}
			out = append(out, f)
		}
	}
	return out
}

func (s scopeSet) has(name string) bool { return slices.Contains(s, name) }
func (s scopeSet) String() string       { return strings.Join(s, " ") }

// subsetOf reports whether every scope of s is in t.
func (s scopeSet) subsetOf(t []string) bool {
	for _, x := range s {
		if !slices.Contains(t, x) {
			return false
		}
	}
	return true
}

// scope returns the named scope's definition: a configured one or a standard one.
func (p *Provider) scope(name string) (Scope, bool) {
	for _, s := range p.cfg.Scopes {
		if s.Name == name {
			return s, true
		}
	}
	for _, s := range standardScopes {
		if s.Name == name {
			return s, true
		}
	}
	return Scope{}, false
}

// userClaims returns the claims the granted scopes release for a user:
// standard claims by scope plus those of configured scopes. Empty values
// are dropped.
// Individually requested standard claims (names) are added where the user
// has them (OIDC Core §5.5).
//
// locales (claims_locales, OIDC Core §5.2) adds, for each released claim
// the user has in other languages, the value in the best-matching one as
// "<claim>#<tag>".
func (p *Provider) userClaims(ctx context.Context, userID string, scope scopeSet, locales string, names ...string) (map[string]any, error) {
	var c Claims
	if err := p.cfg.Users.Claims(ctx, userID, &c); err != nil {
		return nil, fmt.Errorf("op: user claims: %w", err)
	}
	all := claimsMap(&c)
	out := map[string]any{}
	for _, s := range scope {
		for _, name := range scopeClaims[s] {
			if v, ok := all[name]; ok {
				out[name] = v
			}
		}
	}
	for _, name := range names {
		if v, ok := all[name]; ok && releasable[name] {
			out[name] = v
		}
	}
	addLocalized(out, c.Localized, locales)
	for _, s := range p.cfg.Scopes {
		if s.Claims == nil || !scope.has(s.Name) {
			continue
		}
		extra, err := s.Claims(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("op: claims of scope %s: %w", s.Name, err)
		}
		for k, v := range extra {
			if !isEmpty(v) {
				out[k] = v
			}
		}
	}
	return out, nil
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []string:
		return len(v) == 0
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}
