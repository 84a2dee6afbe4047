package server

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/oidcd/oidcd/storage"
)

// DefaultPasswordMinLength is the shortest password accepted when no
// other minimum is configured (NIST SP 800-63B §5.1.1.2: at least 8).
const DefaultPasswordMinLength = 8

// CheckPasswordPolicy accepts a password of at least minLen characters
// (DefaultPasswordMinLength when minLen <= 0) and at most MaxPasswordLen
// bytes. Every way of setting a password (the command line, the first
// admin account, any future admin page) goes through it.
func CheckPasswordPolicy(pw string, minLen int) error {
	if minLen <= 0 {
		minLen = DefaultPasswordMinLength
	}
	switch {
	case !utf8.ValidString(pw):
		return errors.New("password is not valid UTF-8")
	case utf8.RuneCountInString(pw) < minLen:
		return fmt.Errorf("password shorter than %d characters", minLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("password longer than %d bytes", MaxPasswordLen)
	}
	return nil
}

// ValidateEmail accepts a bare address (no display name, no angle
// brackets) in the syntax of RFC 5322 §3.4.1.
func ValidateEmail(email string) error {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return fmt.Errorf("%q is not an email address", email)
	}
	return nil
}

// ValidateBirthdate accepts the formats of OIDC Core §5.1 "birthdate":
// YYYY-MM-DD (the year may be 0000 when omitted) or YYYY alone.
func ValidateBirthdate(s string) error {
	bad := fmt.Errorf("birthdate %q: use YYYY-MM-DD or YYYY (OIDC Core §5.1)", s)
	switch len(s) {
	case 4:
		if _, err := time.Parse("2006", s); err != nil && s != "0000" {
			return bad
		}
	case 10:
		probe := s
		if strings.HasPrefix(s, "0000-") {
			probe = "2000" + s[4:] // a leap year, so that 0000-02-29 passes
		}
		if _, err := time.Parse("2006-01-02", probe); err != nil {
			return bad
		}
	default:
		return bad
	}
	return nil
}

// ValidateUserClaims checks the syntax of an account's standard claims
// (OIDC Core §5.1) and reports every problem at once: email, birthdate,
// the URLs of profile, picture and website (absolute http or https),
// locale (a BCP 47 language tag) and zoneinfo (an IANA zone name, shape
// only: "Area/Location").
func ValidateUserClaims(u *storage.User) error {
	var errs []error
	if u.Email != "" {
		if err := ValidateEmail(u.Email); err != nil {
			errs = append(errs, fmt.Errorf("email: %w", err))
		}
	}
	if u.Birthdate != "" {
		if err := ValidateBirthdate(u.Birthdate); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range []struct{ name, v string }{{"profile", u.Profile}, {"picture", u.Picture}, {"website", u.Website}} {
		if f.v == "" {
			continue
		}
		if p, err := url.Parse(f.v); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not an absolute http or https URL", f.name, f.v))
		}
	}
	if u.Locale != "" {
		if _, err := language.Parse(u.Locale); err != nil {
			errs = append(errs, fmt.Errorf("locale: %q is not a BCP 47 language tag (e.g. en-US)", u.Locale))
		}
	}
	for k, v := range u.Localized {
		claim, tag, ok := strings.Cut(k, "#")
		if !ok || !slices.Contains(storage.LocalizableClaims, claim) {
			errs = append(errs, fmt.Errorf("localized claim %q: want <claim>#<language tag> for one of %s", k, strings.Join(storage.LocalizableClaims, ", ")))
		} else if t, err := language.Parse(tag); err != nil || t.String() != tag {
			errs = append(errs, fmt.Errorf("localized claim %q: %q is not a canonical BCP 47 language tag (e.g. ja-Kana-JP)", k, tag))
		} else if v == "" {
			errs = append(errs, fmt.Errorf("localized claim %q: empty value", k))
		}
	}
	if z := u.Zoneinfo; z != "" && (z != "UTC" && !strings.Contains(z, "/") || strings.ContainsAny(z, " .\\") || strings.HasPrefix(z, "/")) {
		errs = append(errs, fmt.Errorf("zoneinfo: %q is not a time zone name (e.g. Europe/Paris)", z))
	}
	return errors.Join(errs...)
}
