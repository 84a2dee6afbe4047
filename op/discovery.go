package op

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op/internal/dpop"
)

// discoveryDocument builds the provider's metadata once; it lists only what
// this provider really supports. The same document is both the OpenID
// Provider Metadata (OIDC Discovery §3) and the OAuth 2.0 Authorization
// Server Metadata (RFC 8414 §2): RFC 8414 registers the OIDC names it
// shares, allows additional members (§2), and a client must find the same
// values whichever well-known URI it reads, so there is one source of truth.
func (p *Provider) discoveryDocument() ([]byte, error) {
	b, err := json.Marshal(p.metadata())
	if err != nil {
		return nil, fmt.Errorf("op: discovery: %w", err)
	}
	return b, nil
}

// metadata is the provider's metadata as a map (see discoveryDocument).
func (p *Provider) metadata() map[string]any {
	scopes := []string{}
	for _, s := range standardScopes {
		scopes = append(scopes, s.Name)
	}
	for _, s := range p.cfg.Scopes {
		scopes = append(scopes, s.Name)
	}
	// "implicit" is not a token-endpoint grant, but the implicit and hybrid
	// flows are supported, and an explicit list replaces the default of
	// OIDC Discovery §3 (["authorization_code", "implicit"]).
	grants := []string{"implicit"}
	for g := range p.grantTypes {
		grants = append(grants, g)
	}
	slices.Sort(grants)
	algs := append(slices.Clone(keys.ServerAlgs), keys.HS256)
	doc := map[string]any{
		"issuer":                 p.cfg.Issuer,
		"authorization_endpoint": p.endpoint(PathAuthorize),
		"token_endpoint":         p.endpoint(PathToken),
		"userinfo_endpoint":      p.endpoint(PathUserinfo),
		"jwks_uri":               p.endpoint(PathJWKS),
		"introspection_endpoint": p.endpoint(PathIntrospect),
		"revocation_endpoint":    p.endpoint(PathRevoke),
		"introspection_endpoint_auth_methods_supported":            []string{AuthClientSecretBasic, AuthClientSecretPost, AuthClientSecretJWT, AuthPrivateKeyJWT},
		"revocation_endpoint_auth_methods_supported":               authMethods,
		"token_endpoint_auth_signing_alg_values_supported":         assertionAlgNames(),
		"introspection_endpoint_auth_signing_alg_values_supported": assertionAlgNames(),
		"revocation_endpoint_auth_signing_alg_values_supported":    assertionAlgNames(),
		"scopes_supported":                      scopes,
		"response_types_supported":              supportedResponseTypes,
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"grant_types_supported":                 grants,
		"subject_types_supported":               []string{SubjectPublic, SubjectPairwise},
		"id_token_signing_alg_values_supported": algs,
		// OIDC Discovery §3; OIDC Core §10.2, §5.3.2.
		"id_token_encryption_alg_values_supported":       keyEncAlgNames(),
		"id_token_encryption_enc_values_supported":       contentEncNames(),
		"userinfo_signing_alg_values_supported":          userinfoSigningAlgs,
		"userinfo_encryption_alg_values_supported":       keyEncAlgNames(),
		"userinfo_encryption_enc_values_supported":       contentEncNames(),
		"token_endpoint_auth_methods_supported":          authMethods,
		"code_challenge_methods_supported":               []string{"S256", "plain"},
		"claims_supported":                               supportedClaims(),
		"claims_parameter_supported":                     true,
		"ui_locales_supported":                           p.pages.Languages(),
		"claims_locales_supported":                       p.claimsLocalesSupported(),
		"request_parameter_supported":                    true,
		"request_uri_parameter_supported":                true,
		"require_request_uri_registration":               true,
		"request_object_signing_alg_values_supported":    requestObjectAlgNames(),
		"authorization_response_iss_parameter_supported": true,
		"prompt_values_supported":                        []string{"none", "login", "consent", "select_account"},
		// Front-Channel Logout 1.0 §3, Back-Channel Logout 1.0 §2.1: iss and
		// sid are sent, and logout tokens carry sid.
		"frontchannel_logout_supported":         true,
		"frontchannel_logout_session_supported": true,
		"backchannel_logout_supported":          true,
		"backchannel_logout_session_supported":  true,
	}
	if p.endSessionEnabled() {
		doc["end_session_endpoint"] = p.endpoint(PathEndSession) // RP-Initiated Logout 1.0 §2.1
	}
	if p.cfg.SessionManagement {
		doc["check_session_iframe"] = p.endpoint(PathCheckSession) // Session Management 1.0 §3.3
	}
	// RFC 9126 §5
	doc["pushed_authorization_request_endpoint"] = p.endpoint(PathPAR)
	doc["require_pushed_authorization_requests"] = p.cfg.RequirePAR
	if p.cfg.Registration.Enabled {
		doc["registration_endpoint"] = p.endpoint(PathRegister)
	}
	if p.dpop != nil {
		doc["dpop_signing_alg_values_supported"] = dpop.AlgNames() // RFC 9449 §5.1
	}
	if p.cfg.DeviceFlow {
		doc["device_authorization_endpoint"] = p.endpoint(PathDeviceAuthorization) // RFC 8628 §4
	}
	return doc
}

// serveDiscovery writes the precomputed discovery document. It answers at
// /.well-known/openid-configuration (OIDC Discovery §4) and at
// /.well-known/oauth-authorization-server (RFC 8414 §3) alike.
func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	writeCachedJSON(w, p.discovery, discoveryCache)
}

// serveJWKS writes the precomputed key set. A short max-age lets relying
// parties notice a rotation quickly.
func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	writeCachedJSON(w, p.keySet().JWKS(), p.jwksCache)
}

// Header values shared by every response of the two hottest endpoints, so
// serving them allocates nothing of ours. net/http never modifies them.
var (
	jsonType       = []string{"application/json"}
	discoveryCache = []string{"public, max-age=3600"}
)

func writeCachedJSON(w http.ResponseWriter, body []byte, cacheControl []string) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = cacheControl
	w.Write(body)
}

// claimsLocalesSupported: Config.ClaimsLocales, or the pages' languages.
func (p *Provider) claimsLocalesSupported() []string {
	if len(p.cfg.ClaimsLocales) > 0 {
		return p.cfg.ClaimsLocales
	}
	return p.pages.Languages()
}
