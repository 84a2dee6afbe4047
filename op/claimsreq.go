package op

import (
	"encoding/json"
	"fmt"
	"slices"
)

// claimsRequest is the "claims" request parameter (OIDC Core §5.5): the
// individual claims asked for in the ID token and at userinfo.
type claimsRequest struct {
	UserInfo map[string]*claimRule `json:"userinfo,omitempty"`
	IDToken  map[string]*claimRule `json:"id_token,omitempty"`
}

// claimRule is one claim's request; nil means "wanted, voluntary".
type claimRule struct {
	Essential bool  `json:"essential,omitempty"`
	Value     any   `json:"value,omitempty"`
	Values    []any `json:"values,omitempty"`
}

// parseClaimsRequest validates the parameter and returns it re-encoded in a
// normal form (stored with codes and grants), or "" when absent.
func parseClaimsRequest(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	var cr claimsRequest
	if err := json.Unmarshal([]byte(raw), &cr); err != nil {
		return "", fmt.Errorf("the claims parameter is not a valid JSON object: %w", err)
	}
	if len(cr.UserInfo) == 0 && len(cr.IDToken) == 0 {
		return "", nil
	}
	if len(cr.UserInfo)+len(cr.IDToken) > MaxClaimsRequested {
		// SECURITY L6; size and depth are checked before decoding.
		return "", fmt.Errorf("the claims parameter names more than %d claims", MaxClaimsRequested)
	}
	b, err := json.Marshal(cr)
	return string(b), err
}

// requested returns the claim names asked for in member ("userinfo" or
// "id_token") of a normalised claims request.
func requestedClaims(normal, member string) []string {
	if normal == "" {
		return nil
	}
	var cr claimsRequest
	if json.Unmarshal([]byte(normal), &cr) != nil {
		return nil
	}
	m := cr.UserInfo
	if member == "id_token" {
		m = cr.IDToken
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// releasable are the claims the claims parameter may ask for individually.
var releasable = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range []string{"profile", "email", "phone", "address"} {
		for _, c := range scopeClaims[s] {
			m[c] = true
		}
	}
	return m
}()

// claimTitles are the names the consent page gives the standard claims
// (OIDC Core §5.1).
var claimTitles = map[string]string{
	"name": "Full name", "given_name": "First name", "family_name": "Last name",
	"middle_name": "Middle name", "nickname": "Nickname", "preferred_username": "Username",
	"profile": "Profile page", "picture": "Profile picture", "website": "Website", "gender": "Gender",
	"birthdate": "Date of birth", "zoneinfo": "Time zone", "locale": "Language and region",
	"updated_at": "When your profile was last updated", "email": "Email address",
	"email_verified": "Whether your email address is verified", "phone_number": "Phone number",
	"phone_number_verified": "Whether your phone number is verified", "address": "Postal address",
}

// extraClaims are the claims the request's claims parameter asks for, in
// either member, that will be released although no requested scope covers
// them: what the consent page must show besides the scopes (docs/security.md
// "Consent"). Sorted.
func extraClaims(claims string, scope []string) []string {
	if claims == "" {
		return nil
	}
	covered := map[string]bool{}
	for _, s := range scope {
		for _, c := range scopeClaims[s] {
			covered[c] = true
		}
	}
	var out []string
	for _, member := range []string{"userinfo", "id_token"} {
		for _, name := range requestedClaims(claims, member) {
			if releasable[name] && !covered[name] && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}
