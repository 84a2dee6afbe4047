package op

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op/internal/jwtauth"
	"github.com/oidcd/oidcd/storage"
)

// Client authentication methods (RFC 7591 §2, OIDC Core §9).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthClientSecretJWT   = "client_secret_jwt"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none"
)

// authMethods are the token_endpoint_auth_method values this provider
// implements, in the order discovery lists them.
var authMethods = []string{AuthClientSecretBasic, AuthClientSecretPost, AuthClientSecretJWT, AuthPrivateKeyJWT, AuthNone}

// assertionAlgNames are the algorithms accepted for client assertions, for
// discovery's *_auth_signing_alg_values_supported.
func assertionAlgNames() []string {
	var out []string
	for _, a := range append(slices.Clone(jwtauth.AsymmetricAlgs), jwtauth.HMACAlgs...) {
		out = append(out, string(a))
	}
	return out
}

// knownGrantTypes are the grant_types values a client may register:
// "implicit" (RFC 7591 §2) and the grants of the token endpoint.
var knownGrantTypes = []string{"authorization_code", "implicit", "refresh_token", "client_credentials", "password",
	GrantTypeDeviceCode, GrantTypeTokenExchange}

// checkClientMetadata validates the registration properties beyond
// django-oidc-provider's. It is part of NormalizeClient, so the CLI and /register apply the
// same rules.
func checkClientMetadata(c *storage.Client, allowHTTP bool) []error {
	var errs []error
	m := &c.ClientMetadata
	switch m.TokenEndpointAuthMethod {
	case "":
	case AuthNone:
		if c.Type != storage.Public {
			errs = append(errs, errors.New("token_endpoint_auth_method none is for public clients"))
		}
	default:
		if !slices.Contains(authMethods, m.TokenEndpointAuthMethod) {
			errs = append(errs, fmt.Errorf("token_endpoint_auth_method %q is not supported (supported: %s)",
				m.TokenEndpointAuthMethod, strings.Join(authMethods, ", ")))
		} else if c.Type == storage.Public {
			errs = append(errs, fmt.Errorf("a public client authenticates with none, not %s", m.TokenEndpointAuthMethod))
		}
	}
	if a := m.TokenEndpointAuthSigningAlg; a != "" {
		var algs []jose.SignatureAlgorithm
		switch m.TokenEndpointAuthMethod {
		case AuthPrivateKeyJWT:
			algs = jwtauth.AsymmetricAlgs
		case AuthClientSecretJWT:
			algs = jwtauth.HMACAlgs
		}
		if !slices.Contains(algs, jose.SignatureAlgorithm(a)) {
			errs = append(errs, fmt.Errorf("token_endpoint_auth_signing_alg %q does not fit token_endpoint_auth_method %q", a, m.TokenEndpointAuthMethod))
		}
	}
	if m.TokenEndpointAuthMethod == AuthPrivateKeyJWT && m.JWKS == "" && m.JWKSURI == "" {
		// OIDC Core §9: the client's public keys verify its assertions.
		errs = append(errs, errors.New("private_key_jwt needs jwks or jwks_uri"))
	}
	var gts []string
	for _, g := range m.GrantTypes {
		if !slices.Contains(knownGrantTypes, g) {
			errs = append(errs, fmt.Errorf("unsupported grant type %q", g))
		} else if !slices.Contains(gts, g) {
			gts = append(gts, g)
		}
	}
	m.GrantTypes = gts
	if len(gts) > 0 {
		// RFC 7591 §2.1: response types and grant types agree.
		for _, rt := range c.ResponseTypes {
			f := strings.Fields(rt)
			if slices.Contains(f, "code") && !slices.Contains(gts, "authorization_code") {
				errs = append(errs, fmt.Errorf("response type %q needs grant type authorization_code", rt))
			}
			if (slices.Contains(f, "token") || slices.Contains(f, "id_token")) && !slices.Contains(gts, "implicit") {
				errs = append(errs, fmt.Errorf("response type %q needs grant type implicit", rt))
			}
		}
		if c.Type == storage.Public && slices.Contains(gts, "client_credentials") {
			errs = append(errs, errors.New("a public client cannot use client_credentials"))
		}
	}
	if m.JWKS != "" && m.JWKSURI != "" {
		// RFC 7591 §2
		errs = append(errs, errors.New("jwks and jwks_uri must not both be set"))
	}
	if m.JWKS != "" {
		if _, err := ParseClientJWKS(m.JWKS); err != nil {
			errs = append(errs, fmt.Errorf("jwks: %w", err))
		}
	}
	if m.JWKSURI != "" {
		if err := checkWebURI(m.JWKSURI, allowHTTP); err != nil {
			errs = append(errs, fmt.Errorf("jwks_uri %q: %w", m.JWKSURI, err))
		}
	}
	for _, u := range m.RequestURIs {
		if err := checkWebURI(strings.SplitN(u, "#", 2)[0], allowHTTP); err != nil {
			errs = append(errs, fmt.Errorf("request_uri %q: %w", u, err))
		}
	}
	if a := m.RequestObjectSigningAlg; a != "" && !slices.Contains(requestObjectAlgNames(), a) {
		errs = append(errs, fmt.Errorf("request_object_signing_alg %q is not supported", a))
	}
	switch m.SubjectType {
	case "", SubjectPublic:
		if m.SectorIdentifierURI != "" {
			errs = append(errs, errors.New("sector_identifier_uri is for pairwise clients"))
		}
	case SubjectPairwise:
		if m.SectorIdentifierURI != "" {
			if err := checkWebURI(m.SectorIdentifierURI, false); err != nil {
				// OIDC Registration §2: an https URL (http only on loopback,
				// which is fetched only with the private-targets switch).
				errs = append(errs, fmt.Errorf("sector_identifier_uri %q must be an https URL: %w", m.SectorIdentifierURI, err))
			}
		} else if _, err := sectorIdentifier(c); err != nil {
			errs = append(errs, errors.New("a pairwise client with redirection endpoints on several hosts needs a sector_identifier_uri (OIDC Core §8.1)"))
		}
	default:
		errs = append(errs, fmt.Errorf("subject_type %q is not supported (public or pairwise)", m.SubjectType))
	}
	var rerrs []error
	m.Resources, rerrs = checkClientResources(m.Resources)
	errs = append(errs, rerrs...)
	if a := m.AccessTokenSignedResponseAlg; a != "" && !slices.Contains(accessTokenAlgs(), a) {
		// RFC 9068 §2.1: asymmetric, one of the server's key types.
		errs = append(errs, fmt.Errorf("access_token_signed_response_alg %q is not supported (supported: %s)", a, strings.Join(accessTokenAlgs(), ", ")))
	}
	errs = append(errs, checkEncryptionMetadata(c)...)
	if u := m.PolicyURI; u != "" {
		// Shown as a link to people: an absolute http(s) URL.
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || len(u) > 2048 {
			errs = append(errs, fmt.Errorf("policy_uri %q must be an absolute http or https URL", u))
		}
	}
	for name, v := range map[string]string{"software_id": m.SoftwareID, "software_version": m.SoftwareVersion} {
		if len(v) > 255 {
			errs = append(errs, fmt.Errorf("%s is longer than 255 bytes", name))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// checkWebURI: an absolute http(s) URL without fragment or user
// information, https unless on a loopback host (or allowHTTP).
func checkWebURI(raw string, allowHTTP bool) error {
	if err := checkRedirectURI(raw, allowHTTP, false); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("must be an http or https URL")
	}
	return nil
}

// ParseClientJWKS parses a client's JWK Set (RFC 7517 §5): every key public
// and usable, none symmetric, at most 20 keys.
func ParseClientJWKS(raw string) (*jose.JSONWebKeySet, error) {
	return jwtauth.ParseJWKS([]byte(raw))
}

// ClientMetadata is a client as registration metadata (RFC 7591 §2, OpenID
// Connect Dynamic Client Registration 1.0 §2, RFC 7592, RFC 9126 §6): the
// JSON of /register and of `oidcd clients show --json`, where every
// property is named as in its registry. require_consent and reuse_consent
// are django-oidc-provider's own properties.
type ClientMetadata struct {
	ClientID                string `json:"client_id,omitempty"`
	ClientSecret            string `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64  `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri,omitempty"`

	ClientName                  string          `json:"client_name,omitempty"`
	RedirectURIs                []string        `json:"redirect_uris"`
	ResponseTypes               []string        `json:"response_types,omitempty"`
	GrantTypes                  []string        `json:"grant_types,omitempty"`
	TokenEndpointAuthMethod     string          `json:"token_endpoint_auth_method,omitempty"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	Scope                       string          `json:"scope,omitempty"`
	ClientURI                   string          `json:"client_uri,omitempty"`
	LogoURI                     string          `json:"logo_uri,omitempty"`
	TOSURI                      string          `json:"tos_uri,omitempty"`
	PolicyURI                   string          `json:"policy_uri,omitempty"`
	Contacts                    []string        `json:"contacts,omitempty"`
	JWKSURI                     string          `json:"jwks_uri,omitempty"`
	JWKS                        json.RawMessage `json:"jwks,omitempty"`
	SoftwareID                  string          `json:"software_id,omitempty"`
	SoftwareVersion             string          `json:"software_version,omitempty"`
	SoftwareStatement           string          `json:"software_statement,omitempty"`

	IDTokenSignedResponseAlg     string   `json:"id_token_signed_response_alg,omitempty"`
	IDTokenEncryptedResponseAlg  string   `json:"id_token_encrypted_response_alg,omitempty"`
	IDTokenEncryptedResponseEnc  string   `json:"id_token_encrypted_response_enc,omitempty"`
	UserinfoSignedResponseAlg    string   `json:"userinfo_signed_response_alg,omitempty"`
	UserinfoEncryptedResponseAlg string   `json:"userinfo_encrypted_response_alg,omitempty"`
	UserinfoEncryptedResponseEnc string   `json:"userinfo_encrypted_response_enc,omitempty"`
	SubjectType                  string   `json:"subject_type,omitempty"`
	SectorIdentifierURI          string   `json:"sector_identifier_uri,omitempty"`
	RequestObjectSigningAlg      string   `json:"request_object_signing_alg,omitempty"`
	RequestURIs                  []string `json:"request_uris,omitempty"`
	PostLogoutRedirectURIs       []string `json:"post_logout_redirect_uris,omitempty"`

	// Front-Channel Logout 1.0 §2, Back-Channel Logout 1.0 §2.2.
	FrontchannelLogoutURI             string `json:"frontchannel_logout_uri,omitempty"`
	FrontchannelLogoutSessionRequired bool   `json:"frontchannel_logout_session_required,omitempty"`
	BackchannelLogoutURI              string `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired  bool   `json:"backchannel_logout_session_required,omitempty"`

	RequirePushedAuthorizationRequests bool   `json:"require_pushed_authorization_requests,omitempty"`
	DPoPBoundAccessTokens              bool   `json:"dpop_bound_access_tokens,omitempty"`
	AccessTokenSignedResponseAlg       string `json:"access_token_signed_response_alg,omitempty"`
	// Resources are the resource indicators (RFC 8707) the client may ask
	// tokens for: oidcd's own property (no registry names one).
	Resources []string `json:"resources,omitempty"`

	RequireConsent bool `json:"require_consent,omitempty"`
	ReuseConsent   bool `json:"reuse_consent,omitempty"`
}

// MetadataOf describes a stored client as registration metadata (without
// its secret or tokens, which only exist in raw form when made).
func MetadataOf(c *storage.Client) ClientMetadata {
	orEmpty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	m := ClientMetadata{
		ClientID:                           c.ID,
		ClientName:                         c.Name,
		RedirectURIs:                       orEmpty(c.RedirectURIs),
		ResponseTypes:                      orEmpty(c.ResponseTypes),
		GrantTypes:                         c.GrantTypes,
		TokenEndpointAuthMethod:            effectiveAuthMethod(c),
		TokenEndpointAuthSigningAlg:        c.TokenEndpointAuthSigningAlg,
		Scope:                              strings.Join(c.Scope, " "),
		ClientURI:                          c.Website,
		LogoURI:                            c.LogoURL,
		TOSURI:                             c.TermsURL,
		PolicyURI:                          c.PolicyURI,
		JWKSURI:                            c.JWKSURI,
		SoftwareID:                         c.SoftwareID,
		SoftwareVersion:                    c.SoftwareVersion,
		IDTokenSignedResponseAlg:           c.JWTAlg,
		IDTokenEncryptedResponseAlg:        c.IDTokenEncryptedResponseAlg,
		IDTokenEncryptedResponseEnc:        c.IDTokenEncryptedResponseEnc,
		UserinfoSignedResponseAlg:          c.UserinfoSignedResponseAlg,
		UserinfoEncryptedResponseAlg:       c.UserinfoEncryptedResponseAlg,
		UserinfoEncryptedResponseEnc:       c.UserinfoEncryptedResponseEnc,
		SubjectType:                        c.SubjectType,
		SectorIdentifierURI:                c.SectorIdentifierURI,
		RequestObjectSigningAlg:            c.RequestObjectSigningAlg,
		RequestURIs:                        c.RequestURIs,
		PostLogoutRedirectURIs:             c.PostLogoutRedirectURIs,
		FrontchannelLogoutURI:              c.FrontchannelLogoutURI,
		FrontchannelLogoutSessionRequired:  c.FrontchannelLogoutSessionRequired,
		BackchannelLogoutURI:               c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:   c.BackchannelLogoutSessionRequired,
		RequirePushedAuthorizationRequests: c.RequirePushedAuthorizationRequests,
		DPoPBoundAccessTokens:              c.DPoPBoundAccessTokens,
		AccessTokenSignedResponseAlg:       c.AccessTokenSignedResponseAlg,
		Resources:                          c.Resources,
		RequireConsent:                     c.RequireConsent,
		ReuseConsent:                       c.ReuseConsent,
	}
	if !c.CreatedAt.IsZero() {
		m.ClientIDIssuedAt = c.CreatedAt.Unix()
	}
	if c.ContactEmail != "" {
		m.Contacts = []string{c.ContactEmail}
	}
	if c.JWKS != "" {
		m.JWKS = json.RawMessage(c.JWKS)
	}
	if c.SubjectType == "" {
		m.SubjectType = "public"
	}
	return m
}

// effectiveAuthMethod is the client's registered authentication method, or
// what a client made before the property existed does.
func effectiveAuthMethod(c *storage.Client) string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod
	case c.Type == storage.Public:
		return AuthNone
	default:
		return AuthClientSecretBasic
	}
}

// Client turns registration metadata into the client that NewClient
// validates, applying the defaults of RFC 7591 §2 and OIDC Registration §2.
func (m *ClientMetadata) Client() (storage.Client, error) {
	c := storage.Client{
		Name:                              strings.TrimSpace(m.ClientName),
		ResponseTypes:                     m.ResponseTypes,
		RedirectURIs:                      m.RedirectURIs,
		PostLogoutRedirectURIs:            m.PostLogoutRedirectURIs,
		JWTAlg:                            m.IDTokenSignedResponseAlg,
		RequireConsent:                    m.RequireConsent,
		ReuseConsent:                      m.ReuseConsent,
		Scope:                             strings.Fields(m.Scope),
		Website:                           m.ClientURI,
		TermsURL:                          m.TOSURI,
		LogoURL:                           m.LogoURI,
		FrontchannelLogoutURI:             m.FrontchannelLogoutURI,
		FrontchannelLogoutSessionRequired: m.FrontchannelLogoutSessionRequired,
		BackchannelLogoutURI:              m.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:  m.BackchannelLogoutSessionRequired,
		ClientMetadata: storage.ClientMetadata{
			TokenEndpointAuthMethod:            m.TokenEndpointAuthMethod,
			TokenEndpointAuthSigningAlg:        m.TokenEndpointAuthSigningAlg,
			GrantTypes:                         m.GrantTypes,
			JWKSURI:                            m.JWKSURI,
			SubjectType:                        m.SubjectType,
			SectorIdentifierURI:                m.SectorIdentifierURI,
			RequirePushedAuthorizationRequests: m.RequirePushedAuthorizationRequests,
			DPoPBoundAccessTokens:              m.DPoPBoundAccessTokens,
			RequestURIs:                        m.RequestURIs,
			RequestObjectSigningAlg:            m.RequestObjectSigningAlg,
			AccessTokenSignedResponseAlg:       m.AccessTokenSignedResponseAlg,
			Resources:                          m.Resources,
			IDTokenEncryptedResponseAlg:        m.IDTokenEncryptedResponseAlg,
			IDTokenEncryptedResponseEnc:        m.IDTokenEncryptedResponseEnc,
			UserinfoSignedResponseAlg:          m.UserinfoSignedResponseAlg,
			UserinfoEncryptedResponseAlg:       m.UserinfoEncryptedResponseAlg,
			UserinfoEncryptedResponseEnc:       m.UserinfoEncryptedResponseEnc,
			SoftwareID:                         m.SoftwareID,
			SoftwareVersion:                    m.SoftwareVersion,
			PolicyURI:                          m.PolicyURI,
		},
	}
	if len(m.JWKS) > 0 && string(m.JWKS) != "null" {
		c.JWKS = string(m.JWKS)
	}
	if len(m.Contacts) > 0 {
		c.ContactEmail = m.Contacts[0]
	}
	if c.Name == "" {
		c.Name = "Unnamed client"
	}
	if m.ResponseTypes == nil {
		// OIDC Registration §2; an explicit [] registers a client of the
		// token endpoint only (client_credentials), without redirect URIs.
		c.ResponseTypes = []string{"code"}
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = AuthClientSecretBasic // RFC 7591 §2
	}
	if len(c.GrantTypes) == 0 {
		// RFC 7591 §2's default, widened to what the response types need
		// (§2.1), as OIDC Registration §2 expects of "implicit" clients.
		for _, rt := range c.ResponseTypes {
			f := strings.Fields(rt)
			if slices.Contains(f, "code") && !slices.Contains(c.GrantTypes, "authorization_code") {
				c.GrantTypes = append(c.GrantTypes, "authorization_code")
			}
			if (slices.Contains(f, "token") || slices.Contains(f, "id_token")) && !slices.Contains(c.GrantTypes, "implicit") {
				c.GrantTypes = append(c.GrantTypes, "implicit")
			}
		}
		if len(c.GrantTypes) == 0 {
			c.GrantTypes = []string{"authorization_code"}
		}
	}
	if c.JWTAlg == "" {
		c.JWTAlg = keys.RS256
	}
	if c.TokenEndpointAuthMethod == AuthNone {
		c.Type = storage.Public
	}
	return c, nil
}

// secretNeverExpires is client_secret_expires_at's 0 (RFC 7591 §3.2.1).
var secretNeverExpires = new(int64)

// issuedAt is the client_id_issued_at of a client created now.
func issuedAt(t time.Time) int64 { return t.Unix() }
