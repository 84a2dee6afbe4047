package console

import (
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// clientForm is the client form's fields: every property of a client,
// named as its registration metadata (RFC 7591, OIDC Registration, the
// logout specifications), as at /register and in the command line's JSON.
type clientForm struct {
	Name          string
	Type          string
	ResponseTypes []string
	// RedirectURIs, PostLogoutRedirectURIs and RequestURIs are one URI a
	// line.
	RedirectURIs           string
	PostLogoutRedirectURIs string
	RequestURIs            string
	// Resources are the resource indicators (RFC 8707) the client may ask
	// tokens for, one a line (none: those the provider declares).
	Resources      string
	Scope          string
	JWTAlg         string
	RequireConsent bool
	ReuseConsent   bool
	Website        string
	TermsURL       string
	PolicyURI      string
	ContactEmail   string
	LogoURL        string
	// HasLogo: the client has a logo oidcd serves; RemoveLogo drops it,
	// Logo (an upload) replaces it.
	HasLogo    bool
	RemoveLogo bool
	Logo       []byte

	FrontchannelLogoutURI             string
	FrontchannelLogoutSessionRequired bool
	BackchannelLogoutURI              string
	BackchannelLogoutSessionRequired  bool

	GrantTypes                   []string
	TokenEndpointAuthMethod      string
	TokenEndpointAuthSigningAlg  string
	JWKSURI                      string
	JWKS                         string
	SubjectType                  string
	SectorIdentifierURI          string
	RequirePAR                   bool
	DPoPBoundAccessTokens        bool
	PublicPasswordGrant          bool
	RequestObjectSigningAlg      string
	AccessTokenSignedResponseAlg string
	IDTokenEncryptedResponseAlg  string
	IDTokenEncryptedResponseEnc  string
	UserinfoSignedResponseAlg    string
	UserinfoEncryptedResponseAlg string
	UserinfoEncryptedResponseEnc string
	SoftwareID                   string
	SoftwareVersion              string
}

// The choices the client form offers: values only, their labels are the
// templates' (client_form.html, "client_option").
var (
	responseTypeOptions = []string{"code", "id_token", "id_token token", "code id_token", "code token", "code id_token token", "token"}
	grantTypeOptions    = []string{"authorization_code", "implicit", "refresh_token", "client_credentials", "password",
		op.GrantTypeDeviceCode, op.GrantTypeTokenExchange}
	jwtAlgOptions      = []string{keys.RS256, keys.ES256, keys.EdDSA, keys.HS256}
	authMethodOpts     = []string{"", op.AuthClientSecretBasic, op.AuthClientSecretPost, op.AuthClientSecretJWT, op.AuthPrivateKeyJWT, op.AuthNone}
	subjectTypeOptions = []string{"", "pairwise"}
)

// formOf is the form of a stored client.
func formOf(c *storage.Client) *clientForm {
	return &clientForm{
		Name: c.Name, Type: string(c.Type), ResponseTypes: slices.Clone(c.ResponseTypes),
		RedirectURIs: lines(c.RedirectURIs), PostLogoutRedirectURIs: lines(c.PostLogoutRedirectURIs), RequestURIs: lines(c.RequestURIs),
		Resources: lines(c.Resources), Scope: strings.Join(c.Scope, " "), JWTAlg: c.JWTAlg, RequireConsent: c.RequireConsent, ReuseConsent: c.ReuseConsent,
		Website: c.Website, TermsURL: c.TermsURL, PolicyURI: c.PolicyURI, ContactEmail: c.ContactEmail, LogoURL: c.LogoURL, HasLogo: len(c.LogoImage) > 0,
		FrontchannelLogoutURI: c.FrontchannelLogoutURI, FrontchannelLogoutSessionRequired: c.FrontchannelLogoutSessionRequired,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		GrantTypes: slices.Clone(c.GrantTypes), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		TokenEndpointAuthSigningAlg: c.TokenEndpointAuthSigningAlg, JWKSURI: c.JWKSURI, JWKS: c.JWKS,
		SubjectType: c.SubjectType, SectorIdentifierURI: c.SectorIdentifierURI,
		RequirePAR: c.RequirePushedAuthorizationRequests, DPoPBoundAccessTokens: c.DPoPBoundAccessTokens,
		PublicPasswordGrant: c.PublicPasswordGrant, RequestObjectSigningAlg: c.RequestObjectSigningAlg,
		AccessTokenSignedResponseAlg: c.AccessTokenSignedResponseAlg,
		IDTokenEncryptedResponseAlg:  c.IDTokenEncryptedResponseAlg, IDTokenEncryptedResponseEnc: c.IDTokenEncryptedResponseEnc,
		UserinfoSignedResponseAlg: c.UserinfoSignedResponseAlg, UserinfoEncryptedResponseAlg: c.UserinfoEncryptedResponseAlg,
		UserinfoEncryptedResponseEnc: c.UserinfoEncryptedResponseEnc, SoftwareID: c.SoftwareID, SoftwareVersion: c.SoftwareVersion,
	}
}

// newClientForm is the form of a new client: the seed's model defaults
// (consent asked and remembered), the code flow, RS256.
func newClientForm() *clientForm {
	return &clientForm{Type: string(storage.Confidential), ResponseTypes: []string{"code"}, JWTAlg: keys.RS256,
		RequireConsent: true, ReuseConsent: true}
}

// parseClientForm reads a posted client form (checkChange has parsed it).
// A logo upload larger than op.MaxLogoBytes is refused by the service's
// check; the whole form is bounded by maxFormBytes.
func parseClientForm(r *http.Request) *clientForm {
	f := r.PostForm
	t := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	b := func(k string) bool { return f.Get(k) != "" }
	cf := &clientForm{
		Name: t("client_name"), Type: t("type"), ResponseTypes: f["response_types"],
		RedirectURIs: f.Get("redirect_uris"), PostLogoutRedirectURIs: f.Get("post_logout_redirect_uris"), RequestURIs: f.Get("request_uris"),
		Resources: f.Get("resources"), Scope: t("scope"), JWTAlg: t("id_token_signed_response_alg"), RequireConsent: b("require_consent"), ReuseConsent: b("reuse_consent"),
		Website: t("client_uri"), TermsURL: t("tos_uri"), PolicyURI: t("policy_uri"), ContactEmail: t("contacts"), LogoURL: t("logo_uri"), RemoveLogo: b("remove_logo"),
		FrontchannelLogoutURI: t("frontchannel_logout_uri"), FrontchannelLogoutSessionRequired: b("frontchannel_logout_session_required"),
		BackchannelLogoutURI: t("backchannel_logout_uri"), BackchannelLogoutSessionRequired: b("backchannel_logout_session_required"),
		GrantTypes: f["grant_types"], TokenEndpointAuthMethod: t("token_endpoint_auth_method"),
		TokenEndpointAuthSigningAlg: t("token_endpoint_auth_signing_alg"), JWKSURI: t("jwks_uri"), JWKS: t("jwks"),
		SubjectType: t("subject_type"), SectorIdentifierURI: t("sector_identifier_uri"),
		RequirePAR: b("require_pushed_authorization_requests"), DPoPBoundAccessTokens: b("dpop_bound_access_tokens"),
		PublicPasswordGrant: b("public_password_grant"), RequestObjectSigningAlg: t("request_object_signing_alg"),
		AccessTokenSignedResponseAlg: t("access_token_signed_response_alg"),
		IDTokenEncryptedResponseAlg:  t("id_token_encrypted_response_alg"), IDTokenEncryptedResponseEnc: t("id_token_encrypted_response_enc"),
		UserinfoSignedResponseAlg: t("userinfo_signed_response_alg"), UserinfoEncryptedResponseAlg: t("userinfo_encrypted_response_alg"),
		UserinfoEncryptedResponseEnc: t("userinfo_encrypted_response_enc"), SoftwareID: t("software_id"), SoftwareVersion: t("software_version"),
	}
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["logo_file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			if file, err := fhs[0].Open(); err == nil {
				cf.Logo, _ = io.ReadAll(io.LimitReader(file, maxFormBytes))
				file.Close()
			}
		}
	}
	return cf
}

// apply sets c's properties to the form's.
func (cf *clientForm) apply(c *storage.Client) {
	c.Name = cf.Name
	c.Type = storage.ClientType(cf.Type)
	c.ResponseTypes = slices.Clone(cf.ResponseTypes)
	c.RedirectURIs = splitLines(cf.RedirectURIs)
	c.PostLogoutRedirectURIs = splitLines(cf.PostLogoutRedirectURIs)
	c.RequestURIs = splitLines(cf.RequestURIs)
	c.Resources = splitLines(cf.Resources)
	c.Scope = strings.Fields(cf.Scope)
	c.JWTAlg = cf.JWTAlg
	c.RequireConsent, c.ReuseConsent = cf.RequireConsent, cf.ReuseConsent
	c.Website, c.TermsURL, c.PolicyURI, c.ContactEmail, c.LogoURL = cf.Website, cf.TermsURL, cf.PolicyURI, cf.ContactEmail, cf.LogoURL
	switch {
	case len(cf.Logo) > 0:
		c.LogoImage = cf.Logo
	case cf.RemoveLogo:
		c.LogoImage = nil
	}
	c.FrontchannelLogoutURI, c.FrontchannelLogoutSessionRequired = cf.FrontchannelLogoutURI, cf.FrontchannelLogoutSessionRequired
	c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired = cf.BackchannelLogoutURI, cf.BackchannelLogoutSessionRequired
	c.GrantTypes = slices.Clone(cf.GrantTypes)
	c.TokenEndpointAuthMethod, c.TokenEndpointAuthSigningAlg = cf.TokenEndpointAuthMethod, cf.TokenEndpointAuthSigningAlg
	c.JWKSURI, c.JWKS = cf.JWKSURI, cf.JWKS
	c.SubjectType, c.SectorIdentifierURI = cf.SubjectType, cf.SectorIdentifierURI
	c.RequirePushedAuthorizationRequests, c.DPoPBoundAccessTokens = cf.RequirePAR, cf.DPoPBoundAccessTokens
	c.PublicPasswordGrant = cf.PublicPasswordGrant
	c.RequestObjectSigningAlg, c.AccessTokenSignedResponseAlg = cf.RequestObjectSigningAlg, cf.AccessTokenSignedResponseAlg
	c.IDTokenEncryptedResponseAlg, c.IDTokenEncryptedResponseEnc = cf.IDTokenEncryptedResponseAlg, cf.IDTokenEncryptedResponseEnc
	c.UserinfoSignedResponseAlg = cf.UserinfoSignedResponseAlg
	c.UserinfoEncryptedResponseAlg, c.UserinfoEncryptedResponseEnc = cf.UserinfoEncryptedResponseAlg, cf.UserinfoEncryptedResponseEnc
	c.SoftwareID, c.SoftwareVersion = cf.SoftwareID, cf.SoftwareVersion
}

// client is the form as a new client.
func (cf *clientForm) client() storage.Client {
	var c storage.Client
	cf.apply(&c)
	return c
}

// Has reports whether a multi-valued field holds v (for checkboxes).
func (cf *clientForm) Has(field, v string) bool {
	switch field {
	case "response_types":
		return slices.Contains(cf.ResponseTypes, v)
	case "grant_types":
		return slices.Contains(cf.GrantTypes, v)
	}
	return false
}

func lines(s []string) string { return strings.Join(s, "\n") }

// splitLines is the non-empty lines of a text area, trimmed.
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
