package storagetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// t0 is the suite's "now": microsecond precision, in a zone other than UTC so
// that a backend must convert.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535897000, time.FixedZone("UTC+2", 2*60*60))

// at is t0 moved by d.
func at(d time.Duration) time.Time { return t0.Add(d) }

const (
	day        = 24 * time.Hour
	accessTTL  = time.Hour
	refreshTTL = 30 * day
	grantTTL   = 90 * day
	codeTTL    = 10 * time.Minute
)

// newHash returns a random SHA-256-sized digest.
func newHash() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// newID returns prefix followed by random hex.
func newID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// near returns hashes that share a prefix with h but are not h (B7).
func near(h []byte) map[string][]byte {
	flipped := bytes.Clone(h)
	flipped[len(flipped)-1] ^= 1
	return map[string][]byte{
		"truncated": bytes.Clone(h[:len(h)-1]),
		"half":      bytes.Clone(h[:len(h)/2]),
		"extended":  append(bytes.Clone(h), 0),
		"flipped":   flipped,
		"empty":     nil,
	}
}

func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func is(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// same reports every field in which got differs from want.
func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := diff(want, got); len(d) > 0 {
		t.Errorf("%s: stored and loaded values differ:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

// diff compares two values of one type field by field: times with Equal (and
// a non-zero loaded time must be in UTC), byte slices, string slices and maps
// with nil equal to empty, everything else with ==.
func diff(want, got any) []string {
	var out []string
	diffValue(&out, "", reflect.ValueOf(want), reflect.ValueOf(got))
	return out
}

var timeType = reflect.TypeFor[time.Time]()

func diffValue(out *[]string, path string, w, g reflect.Value) {
	if w.Kind() == reflect.Pointer {
		if w.IsNil() || g.IsNil() {
			if w.IsNil() != g.IsNil() {
				*out = append(*out, fmt.Sprintf("%s: want %v, got %v", path, w, g))
			}
			return
		}
		w, g = w.Elem(), g.Elem()
	}
	switch {
	case w.Type() == timeType:
		wt, gt := w.Interface().(time.Time), g.Interface().(time.Time)
		if !wt.Equal(gt) || wt.IsZero() != gt.IsZero() {
			*out = append(*out, fmt.Sprintf("%s: want %v, got %v", path, wt, gt))
		} else if !gt.IsZero() && gt.Location() != time.UTC {
			*out = append(*out, fmt.Sprintf("%s: loaded time %v is not in UTC", path, gt))
		}
	case w.Kind() == reflect.Struct:
		for i := range w.NumField() {
			diffValue(out, path+"."+w.Type().Field(i).Name, w.Field(i), g.Field(i))
		}
	case w.Kind() == reflect.Slice && w.Type().Elem().Kind() == reflect.Uint8:
		if !bytes.Equal(w.Bytes(), g.Bytes()) {
			*out = append(*out, fmt.Sprintf("%s: want %x, got %x", path, w.Bytes(), g.Bytes()))
		}
	case w.Kind() == reflect.Slice:
		if w.Len() != g.Len() {
			*out = append(*out, fmt.Sprintf("%s: want %v, got %v", path, w, g))
			return
		}
		for i := range w.Len() {
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), w.Index(i), g.Index(i))
		}
	case w.Kind() == reflect.Map:
		if (w.Len() != 0 || g.Len() != 0) && !reflect.DeepEqual(w.Interface(), g.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: want %v, got %v", path, w, g))
		}
	default:
		if !w.Equal(g) {
			*out = append(*out, fmt.Sprintf("%s: want %#v, got %#v", path, w.Interface(), g.Interface()))
		}
	}
}

// complete fails if a fixture leaves a field at its zero value, except the
// named ones, so that a field added to a storage type without a column is
// caught by the round-trip tests.
func complete(t *testing.T, what string, v any, except ...string) {
	t.Helper()
	var missing []string
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		for i := range v.NumField() {
			f, name := v.Field(i), v.Type().Field(i).Name
			if slices.Contains(except, name) {
				continue
			}
			if f.Kind() == reflect.Struct && f.Type() != timeType {
				walk(path+name+".", f)
				continue
			}
			if f.IsZero() || (f.Kind() == reflect.Slice && f.Len() == 0) {
				missing = append(missing, path+name)
			}
		}
	}
	walk("", reflect.ValueOf(v).Elem())
	if len(missing) > 0 {
		t.Fatalf("fixture %s leaves fields unset, so their round trip is not tested: %s", what, strings.Join(missing, ", "))
	}
}

// Fixtures. Each sets every field it can without changing the outcome.

func fullClient(id string) *storage.Client {
	return &storage.Client{
		ID:                      id,
		Name:                    "Clïent ✓ " + id,
		Type:                    storage.Confidential,
		SecretHash:              newHash(),
		SecretSealed:            []byte("sealed\x00secret " + id),
		PreviousSecretHash:      newHash(),
		PreviousSecretExpiresAt: at(time.Hour),
		TokensRevokedAt:         at(-2 * time.Hour),
		ResponseTypes:           []string{"code", "code id_token", "id_token token"},
		RedirectURIs:            []string{"https://rp.example/cb?a=1&b=%22two%22", `http://127.0.0.1:8080/cb"quoted"`},
		PostLogoutRedirectURIs:  []string{"https://rp.example/bye"},
		JWTAlg:                  "RS256",
		RequireConsent:          true,
		ReuseConsent:            true,
		Scope:                   []string{"openid", "profile", "api:read"},
		PublicPasswordGrant:     true,
		Website:                 "https://rp.example/",
		TermsURL:                "https://rp.example/terms",
		ContactEmail:            "ops@rp.example",
		LogoURL:                 "https://rp.example/logo.png",
		LogoImage:               []byte("\x89PNG\r\n\x1a\n..."),
		LogoType:                "image/png",
		CreatedAt:               t0,
		ClientMetadata: storage.ClientMetadata{
			TokenEndpointAuthMethod:            "private_key_jwt",
			PolicyURI:                          "https://rp.example/privacy",
			TokenEndpointAuthSigningAlg:        "ES256",
			GrantTypes:                         []string{"authorization_code", "refresh_token"},
			JWKS:                               `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
			JWKSURI:                            "https://rp.example/jwks",
			SubjectType:                        "pairwise",
			SectorIdentifierURI:                "https://rp.example/sector.json",
			RequirePushedAuthorizationRequests: true,
			DPoPBoundAccessTokens:              true,
			RequestURIs:                        []string{"https://rp.example/request.jwt"},
			RequestObjectSigningAlg:            "PS256",
			AccessTokenSignedResponseAlg:       "RS256",
			Resources:                          []string{"https://api.example/", "urn:example:resource"},
			IDTokenEncryptedResponseAlg:        "RSA-OAEP-256",
			IDTokenEncryptedResponseEnc:        "A256GCM",
			UserinfoSignedResponseAlg:          "ES256",
			UserinfoEncryptedResponseAlg:       "ECDH-ES",
			UserinfoEncryptedResponseEnc:       "A128CBC-HS256",
			SoftwareID:                         "4NRB1-0XZABZI9E6-5SM3R",
			SoftwareVersion:                    "2.1 ✓",
		},
		RegistrationTokenHash:             newHash(),
		FrontchannelLogoutURI:             "https://rp.example/fc?x=1",
		FrontchannelLogoutSessionRequired: true,
		BackchannelLogoutURI:              "https://rp.example/bc",
		BackchannelLogoutSessionRequired:  true,
	}
}

func fullUser(id, username string) *storage.User {
	return &storage.User{
		ID:           id,
		Username:     username,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		Admin:        true,
		Locked:       true,
		CreatedAt:    at(-day),
		Claims: storage.Claims{
			Name:                "Zoë O'Brien",
			GivenName:           "Zoë",
			FamilyName:          "O'Brien",
			MiddleName:          "M",
			Nickname:            "zo",
			PreferredUsername:   "zoe",
			Profile:             "https://example.com/zoe",
			Picture:             "https://example.com/zoe.png",
			Website:             "https://zoe.example",
			Gender:              "female",
			Birthdate:           "1990-02-28",
			Zoneinfo:            "Europe/Dublin",
			Locale:              "en-IE",
			Email:               username + "@example.com",
			EmailVerified:       true,
			PhoneNumber:         "+353 1 234 5678",
			PhoneNumberVerified: true,
			Address: storage.Address{
				Formatted:     "1 Main St\nDublin",
				StreetAddress: "1 Main St",
				Locality:      "Dublin",
				Region:        "Leinster",
				PostalCode:    "D01",
				Country:       "IE",
			},
			UpdatedAt: t0,
			Localized: map[string]string{"name#ga": "Zoë Ní Bhriain", "family_name#ja-Kana-JP": "オブライエン"},
		},
	}
}

func fullCode(clientID, userID string) *storage.AuthCode {
	return &storage.AuthCode{
		Hash:                newHash(),
		GrantID:             newID("grant"),
		ClientID:            clientID,
		UserID:              userID,
		SessionID:           newID("sid"),
		RedirectURI:         "https://rp.example/cb?a=1",
		Scope:               []string{"openid", "profile", "email"},
		Nonce:               "n-0S6_WzA2Mj",
		Claims:              `{"id_token":{"email":{"essential":true}}}`,
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		DPoPJKT:             "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		Resources:           []string{"https://api.example/v1", "urn:example:ä"},
		ClaimsLocales:       "ja-Kana-JP ga",
		AuthTime:            at(-time.Minute),
		CreatedAt:           t0,
		ExpiresAt:           at(codeTTL),
	}
}

func fullGrant(clientID, userID string) *storage.Grant {
	return &storage.Grant{
		ID:            newID("grant"),
		ClientID:      clientID,
		UserID:        userID,
		SessionID:     newID("sid"),
		Scope:         []string{"openid", "offline_access"},
		Claims:        `{"userinfo":{"name":null}}`,
		Nonce:         "nonce-1",
		AuthTime:      at(-time.Minute),
		CreatedAt:     t0,
		ExpiresAt:     at(grantTTL),
		Actor:         `{"sub":"service-ä","act":{"sub":"gateway"}}`,
		Resources:     []string{"https://api.example/v1", "https://mcp.example/mcp?x=1"},
		ClaimsLocales: "fr-CA es",
	}
}

// grantFromCode is the grant a redemption of c creates.
func grantFromCode(c *storage.AuthCode) *storage.Grant {
	return &storage.Grant{
		ID: c.GrantID, ClientID: c.ClientID, UserID: c.UserID, SessionID: c.SessionID,
		Scope: c.Scope, Claims: c.Claims, Nonce: c.Nonce, AuthTime: c.AuthTime,
		ClaimsLocales: c.ClaimsLocales, CreatedAt: t0, ExpiresAt: at(grantTTL),
	}
}

func newToken(g *storage.Grant, kind storage.TokenKind, created time.Time) *storage.Token {
	ttl := accessTTL
	if kind == storage.RefreshToken {
		ttl = refreshTTL
	}
	return &storage.Token{
		Hash:      newHash(),
		Kind:      kind,
		GrantID:   g.ID,
		ClientID:  g.ClientID,
		UserID:    g.UserID,
		Scope:     g.Scope,
		CreatedAt: created,
		ExpiresAt: created.Add(ttl),
	}
}

func fullConsent(userID, clientID string) *storage.Consent {
	return &storage.Consent{
		UserID:    userID,
		ClientID:  clientID,
		Scope:     []string{"openid", "profile"},
		Claims:    []string{"email", "phone_number"},
		GivenAt:   t0,
		ExpiresAt: at(90 * day),
	}
}

func fullKey(id string, created time.Time) *storage.SigningKey {
	return &storage.SigningKey{
		ID:            id,
		Alg:           "ES256",
		PrivateSealed: append([]byte("sealed\x00"), newHash()...),
		CreatedAt:     created,
	}
}

func fullSession(userID string) *storage.Session {
	return &storage.Session{
		Hash:      newHash(),
		ID:        newID("sid"),
		UserID:    userID,
		AuthTime:  at(-time.Second),
		CreatedAt: t0,
		ExpiresAt: at(day),
	}
}

// States built in the store.

func mustClient(t *testing.T, s storage.Provider, id string) *storage.Client {
	t.Helper()
	c := fullClient(id)
	ok(t, s.CreateClient(t.Context(), c), "CreateClient "+id)
	return c
}

func mustUser(t *testing.T, s storage.Accounts, username string) *storage.User {
	t.Helper()
	u := fullUser(newID("user"), username)
	ok(t, s.CreateUser(t.Context(), u), "CreateUser "+username)
	return u
}

// mustGrant stores a grant of clientID and userID with an access and a
// refresh token.
func mustGrant(t *testing.T, s storage.Provider, clientID, userID string) (g *storage.Grant, access, refresh *storage.Token) {
	t.Helper()
	g = fullGrant(clientID, userID)
	access = newToken(g, storage.AccessToken, t0)
	refresh = newToken(g, storage.RefreshToken, t0)
	ok(t, s.CreateGrant(t.Context(), g, access, refresh), "CreateGrant")
	return g, access, refresh
}

func mustCode(t *testing.T, s storage.Provider, clientID, userID string) *storage.AuthCode {
	t.Helper()
	c := fullCode(clientID, userID)
	ok(t, s.CreateCode(t.Context(), c), "CreateCode")
	return c
}

// tokenFound fails unless the token with hash h is valid at now.
func tokenFound(t *testing.T, s storage.Provider, h []byte, now time.Time, what string) *storage.Token {
	t.Helper()
	tok, g, err := s.Token(t.Context(), h, now)
	ok(t, err, what)
	if tok == nil || g == nil {
		t.Fatalf("%s: Token returned nil without error", what)
	}
	return tok
}

func tokenGone(t *testing.T, s storage.Provider, h []byte, now time.Time, what string) {
	t.Helper()
	_, _, err := s.Token(t.Context(), h, now)
	is(t, err, storage.ErrNotFound, what)
}
