package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// clientJSON is a client in --json output: its registration metadata
// (RFC 7591 names, as at /register) and its type. The secret appears only
// when it has just been generated (create, rotate-secret).
type clientJSON struct {
	op.ClientMetadata
	Type string `json:"type"`
	// PublicPasswordGrant is the operator's --allow-public-password-grant.
	PublicPasswordGrant bool `json:"public_password_grant,omitempty"`
}

func toClientJSON(c *storage.Client, secret string) clientJSON {
	m := op.MetadataOf(c)
	m.ClientSecret = secret
	return clientJSON{ClientMetadata: m, Type: string(c.Type), PublicPasswordGrant: c.PublicPasswordGrant}
}

// clients manages relying parties.
func (a *app) clients(ctx context.Context, args []string) error {
	sub, args, err := subcommand("clients", args, "create", "list", "show", "delete", "rotate-secret")
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return a.clientsCreate(ctx, args)
	case "list":
		return a.clientsList(ctx, args)
	case "show", "delete", "rotate-secret":
		return a.clientsByID(ctx, sub, args)
	}
	fmt.Fprint(a.stdout, "Usage: oidcd clients create|list|show|delete|rotate-secret [flags]\n")
	return nil
}

func (a *app) clientsCreate(ctx context.Context, args []string) error {
	c := a.newCommand("clients create", "", true)
	var spec storage.Client
	var opts op.ClientOptions
	var typ string
	var responseTypes, redirectURIs, postLogout, scopes stringList
	c.fs.StringVar(&spec.Name, "name", "", "client name shown on the consent page (required)")
	c.fs.StringVar(&typ, "type", "confidential", "confidential or public")
	c.fs.Var(&responseTypes, "response-type", `allowed response type, repeatable: code, id_token, "id_token token", "code id_token", "code token", "code id_token token", token (default code)`)
	c.fs.Var(&redirectURIs, "redirect-uri", "allowed redirect URI, repeatable (exact match)")
	c.fs.Var(&postLogout, "post-logout-redirect-uri", "allowed post-logout redirect URI, repeatable")
	c.fs.Var(&scopes, "scope", `registered scope, space-separated, repeatable (client_credentials and introspection)`)
	c.fs.StringVar(&spec.JWTAlg, "jwt-alg", keys.RS256, "ID token signing algorithm: RS256, ES256, EdDSA or HS256 (HS256 uses the client secret)")
	c.fs.BoolVar(&spec.RequireConsent, "require-consent", false, "always ask the user's consent")
	c.fs.BoolVar(&spec.ReuseConsent, "reuse-consent", false, "skip the consent page when an earlier consent covers the request")
	c.fs.StringVar(&spec.Website, "website", "", "website URL")
	c.fs.StringVar(&spec.TermsURL, "terms-url", "", "terms of service URL")
	c.fs.StringVar(&spec.ContactEmail, "contact-email", "", "contact email")
	c.fs.StringVar(&spec.LogoURL, "logo-url", "", "logo URL: fetched once now (https, public addresses only, at most 256 KiB) and served by oidcd itself; pages never load it from there")
	logoFile := c.fs.String("logo-file", "", "logo image `file` (PNG, JPEG, GIF or WebP, at most 256 KiB) that oidcd serves on the consent page")
	var grantTypes, requestURIs, resources stringList
	var jwksFile string
	c.fs.StringVar(&spec.TokenEndpointAuthMethod, "token-endpoint-auth-method", "", "client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none (default: either secret method; none for public clients)")
	c.fs.Var(&grantTypes, "grant-type", "grant type the client may use, repeatable: authorization_code, implicit, refresh_token, client_credentials, password, device_code (RFC 8628; needs OIDCD_DEVICE_FLOW_ENABLE), token_exchange (RFC 8693; needs OIDCD_TOKEN_EXCHANGE_ENABLE) (default: every enabled grant but password, device_code and token_exchange)")
	c.fs.BoolVar(&spec.PublicPasswordGrant, "allow-public-password-grant", false, "let this public client use the password grant (no secret protects it)")
	c.fs.StringVar(&spec.TokenEndpointAuthSigningAlg, "token-endpoint-auth-signing-alg", "", "the only alg accepted for the client's assertions (private_key_jwt, client_secret_jwt)")
	c.fs.BoolVar(&spec.DPoPBoundAccessTokens, "dpop-bound-access-tokens", false, "the client must send a DPoP proof with every token request (RFC 9449 §5.2; needs OIDCD_DPOP_ENABLE)")
	c.fs.StringVar(&spec.JWKSURI, "jwks-uri", "", "URL of the client's public JWK Set (private_key_jwt, request objects, encryption keys)")
	c.fs.StringVar(&jwksFile, "jwks", "", "FILE holding the client's public JWK Set (JSON)")
	c.fs.StringVar(&spec.IDTokenEncryptedResponseAlg, "id-token-encrypted-response-alg", "", "encrypt the client's ID tokens (signed, then encrypted) to its key in --jwks or --jwks-uri: RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A192KW or ECDH-ES+A256KW")
	c.fs.StringVar(&spec.IDTokenEncryptedResponseEnc, "id-token-encrypted-response-enc", "", "content encryption of the client's ID tokens: A128CBC-HS256 (default), A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM or A256GCM")
	c.fs.StringVar(&spec.UserinfoSignedResponseAlg, "userinfo-signed-response-alg", "", "answer the client's userinfo requests with a JWT signed with RS256, ES256, EdDSA or HS256 (application/jwt)")
	c.fs.StringVar(&spec.UserinfoEncryptedResponseAlg, "userinfo-encrypted-response-alg", "", "encrypt the client's userinfo responses to its key (the algorithms of --id-token-encrypted-response-alg)")
	c.fs.StringVar(&spec.UserinfoEncryptedResponseEnc, "userinfo-encrypted-response-enc", "", "content encryption of the client's userinfo responses (default A128CBC-HS256)")
	c.fs.Var(&requestURIs, "request-uri", "URL the client may pass as request_uri (a request object to fetch), repeatable")
	c.fs.Var(&resources, "resource", "resource indicator (RFC 8707: absolute URI without fragment) the client may ask tokens for, repeatable (default: those of OIDCD_RESOURCES and OIDCD_JWT_RESOURCES)")
	c.fs.StringVar(&spec.AccessTokenSignedResponseAlg, "access-token-signed-response-alg", "", "make the client's access tokens JWTs (RFC 9068) signed with RS256, ES256 or EdDSA (default: opaque tokens)")
	c.fs.StringVar(&spec.RequestObjectSigningAlg, "request-object-signing-alg", "", "the only alg accepted for the client's request objects (none must be given to accept unsigned ones)")
	c.fs.StringVar(&spec.SubjectType, "subject-type", "", "public (default) or pairwise: a sub per sector, so clients of different sectors cannot correlate users (OIDC Core §8)")
	c.fs.StringVar(&spec.SectorIdentifierURI, "sector-identifier-uri", "", "https URL of a JSON array listing the client's redirect URIs (pairwise clients on several hosts)")
	c.fs.BoolVar(&spec.RequirePushedAuthorizationRequests, "require-pushed-authorization-requests", false, "refuse authorization requests not pushed to /par first (RFC 9126)")
	c.fs.StringVar(&spec.SoftwareID, "software-id", "", "identifier of the client software")
	c.fs.StringVar(&spec.SoftwareVersion, "software-version", "", "version of the client software")
	c.fs.StringVar(&spec.FrontchannelLogoutURI, "frontchannel-logout-uri", "", "page loaded in an iframe when a session the client took part in ends (same scheme, host and port as a redirect URI)")
	c.fs.BoolVar(&spec.FrontchannelLogoutSessionRequired, "frontchannel-logout-session-required", false, "send iss and sid to the front-channel logout URI")
	c.fs.StringVar(&spec.BackchannelLogoutURI, "backchannel-logout-uri", "", "endpoint that receives a logout token (POST) when a session the client took part in ends")
	c.fs.BoolVar(&spec.BackchannelLogoutSessionRequired, "backchannel-logout-session-required", false, "the client needs sid in logout tokens (always sent)")
	c.fs.BoolVar(&opts.InsecureAllowHTTP, "insecure-allow-http", false, "allow http redirect URIs on non-loopback hosts (development only; also OIDCD_INSECURE_ALLOW_HTTP_REDIRECTS)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if spec.Name == "" {
		return usagef("clients create: --name is required")
	}
	spec.Type = storage.ClientType(typ)
	spec.ResponseTypes = responseTypes
	spec.RedirectURIs = redirectURIs
	spec.PostLogoutRedirectURIs = postLogout
	for _, sc := range scopes {
		spec.Scope = append(spec.Scope, strings.Fields(sc)...)
	}
	spec.GrantTypes = grantTypes
	spec.RequestURIs = requestURIs
	spec.Resources = resources
	if jwksFile != "" {
		b, err := os.ReadFile(jwksFile)
		if err != nil {
			return fmt.Errorf("clients create: --jwks: %w", err)
		}
		spec.JWKS = strings.TrimSpace(string(b))
	}
	if spec.TokenEndpointAuthMethod == op.AuthNone && typ == "confidential" && !typeSet(c) {
		spec.Type = storage.Public
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	opts.InsecureAllowHTTP = opts.InsecureAllowHTTP || s.Server.Provider.Registration.InsecureAllowHTTP
	// Logos are served by oidcd (docs/security.md "Browser pages").
	switch {
	case *logoFile != "":
		b, err := readBounded(*logoFile, op.MaxLogoBytes)
		if err != nil {
			return fmt.Errorf("clients create: --logo-file: %w", err)
		}
		if _, err := op.CheckLogo(b); err != nil {
			return fmt.Errorf("clients create: --logo-file %s: %w", *logoFile, err)
		}
		spec.LogoImage = b
	case spec.LogoURL != "":
		b, _, err := op.FetchLogo(ctx, op.NewLogoClient(s.Server.Provider.InsecureAllowPrivateTargets), spec.LogoURL)
		if err != nil {
			fmt.Fprintf(a.stderr, "oidcd: warning: the logo at %s was not fetched (%v); the consent page shows no logo (give it with --logo-file)\n", spec.LogoURL, err)
		} else {
			spec.LogoImage = b
		}
	}
	// Validate before anything is created (database, secret file).
	probe, _, err := op.NewClient(spec, throwawaySealer(), a.now(), &opts)
	if err != nil {
		return fmt.Errorf("clients create: invalid client:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	if err := op.CheckSectorIdentifier(ctx, probe, s.Server.Provider.InsecureAllowPrivateTargets); err != nil {
		return fmt.Errorf("clients create: invalid client:\n  %s", err)
	}
	if err := op.CheckEncryptionKeys(ctx, probe, s.Server.Provider.InsecureAllowPrivateTargets); err != nil {
		return fmt.Errorf("clients create: invalid client:\n  %s", err)
	}
	store, seal, err := c.openSealed(ctx, s)
	if err != nil {
		return err
	}
	defer store.Close()
	client, secret, err := op.NewClient(spec, seal, a.now(), &opts)
	if err != nil {
		return err
	}
	if err := store.CreateClient(ctx, client); err != nil {
		return err
	}
	c.audit(ctx, s, op.Event{Kind: op.EventAdminClientCreated, ClientID: client.ID, Reason: string(client.Type)})
	if c.json {
		return c.printJSON(toClientJSON(client, secret))
	}
	fmt.Fprintf(a.stdout, "created %s client %q\nclient_id: %s\n", client.Type, client.Name, client.ID)
	if secret != "" {
		fmt.Fprintf(a.stdout, "client_secret: %s\n(the secret is shown only now; 'oidcd clients rotate-secret %s' makes a new one)\n", secret, client.ID)
	}
	return nil
}

func (a *app) clientsList(ctx context.Context, args []string) error {
	return listing(ctx, a, "clients list", args, (*sqlstore.Store).ListClients,
		func(cl *storage.Client) clientJSON { return toClientJSON(cl, "") },
		"CLIENT ID\tNAME\tTYPE\tRESPONSE TYPES\tCREATED",
		func(cl *storage.Client) string {
			return strings.Join([]string{cl.ID, cl.Name, string(cl.Type), strings.Join(cl.ResponseTypes, ", "), timeText(cl.CreatedAt)}, "\t")
		})
}

// clientsByID runs show, delete and rotate-secret, which take the client
// id as an argument or as --id.
func (a *app) clientsByID(ctx context.Context, sub string, args []string) error {
	c := a.newCommand("clients "+sub, " ID", sub != "delete")
	id := c.fs.String("id", "", "the client id (or give it as the argument)")
	pos, err := c.parse(args, 0, 1)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && *id != "" && pos[0] != *id:
		return usagef("clients %s: two different client ids given", sub)
	case len(pos) == 1:
		*id = pos[0]
	case *id == "":
		return usagef("clients %s: the client id is required", sub)
	}
	s, store, err := c.settingsAndStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	client, err := store.Client(ctx, *id)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("clients %s: no client with id %q", sub, *id)
	} else if err != nil {
		return err
	}
	switch sub {
	case "delete":
		if err := store.DeleteClient(ctx, client.ID); err != nil {
			return err
		}
		c.audit(ctx, s, op.Event{Kind: op.EventAdminClientDeleted, ClientID: client.ID})
		fmt.Fprintf(a.stdout, "deleted client %s (%q) with its grants, tokens and consents\n", client.ID, client.Name)
		return nil
	case "rotate-secret":
		if client.Type != storage.Confidential {
			return fmt.Errorf("clients rotate-secret: client %s is public and has no secret", client.ID)
		}
		seal, err := checkedSealer(ctx, s, store)
		if err != nil {
			return err
		}
		secret, err := op.SetClientSecret(client, seal)
		if err != nil {
			return err
		}
		if err := store.UpdateClient(ctx, client); err != nil {
			return err
		}
		c.audit(ctx, s, op.Event{Kind: op.EventAdminClientSecretRotated, ClientID: client.ID})
		if c.json {
			return c.printJSON(toClientJSON(client, secret))
		}
		fmt.Fprintf(a.stdout, "client_id: %s\nclient_secret: %s\n(the old secret no longer works)\n", client.ID, secret)
		return nil
	}
	if c.json {
		return c.printJSON(toClientJSON(client, ""))
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("client_id", client.ID)
	row("name", client.Name)
	row("type", string(client.Type))
	row("response_types", strings.Join(client.ResponseTypes, ", "))
	row("redirect_uris", strings.Join(client.RedirectURIs, " "))
	row("post_logout_redirect_uris", strings.Join(client.PostLogoutRedirectURIs, " "))
	row("jwt_alg", client.JWTAlg)
	row("require_consent", fmt.Sprint(client.RequireConsent))
	row("reuse_consent", fmt.Sprint(client.ReuseConsent))
	row("scope", strings.Join(client.Scope, " "))
	row("grant_types", strings.Join(client.GrantTypes, " "))
	row("website", client.Website)
	row("terms_url", client.TermsURL)
	row("contact_email", client.ContactEmail)
	row("logo_url", client.LogoURL)
	if client.LogoType != "" {
		row("logo", fmt.Sprintf("%s, %d bytes, served by oidcd", client.LogoType, len(client.LogoImage)))
	}
	row("token_endpoint_auth_method", op.MetadataOf(client).TokenEndpointAuthMethod)
	if len(client.GrantTypes) > 0 {
		row("grant_types", strings.Join(client.GrantTypes, " "))
	}
	if client.PublicPasswordGrant {
		row("public_password_grant", "true")
	}
	if client.JWKSURI != "" {
		row("jwks_uri", client.JWKSURI)
	}
	if client.JWKS != "" {
		row("jwks", client.JWKS)
	}
	if client.RequirePushedAuthorizationRequests {
		row("require_pushed_authorization_requests", "true")
	}
	for _, r := range [][2]string{
		{"id_token_encrypted_response_alg", client.IDTokenEncryptedResponseAlg},
		{"id_token_encrypted_response_enc", client.IDTokenEncryptedResponseEnc},
		{"userinfo_signed_response_alg", client.UserinfoSignedResponseAlg},
		{"userinfo_encrypted_response_alg", client.UserinfoEncryptedResponseAlg},
		{"userinfo_encrypted_response_enc", client.UserinfoEncryptedResponseEnc},
	} {
		if r[1] != "" {
			row(r[0], r[1])
		}
	}
	if len(client.RegistrationTokenHash) > 0 {
		row("registered", "through /register (dynamic registration)")
	}
	row("frontchannel_logout_uri", client.FrontchannelLogoutURI)
	row("frontchannel_logout_session_required", fmt.Sprint(client.FrontchannelLogoutSessionRequired))
	row("backchannel_logout_uri", client.BackchannelLogoutURI)
	row("backchannel_logout_session_required", fmt.Sprint(client.BackchannelLogoutSessionRequired))
	row("created_at", timeText(client.CreatedAt))
	return tw.Flush()
}

// typeSet reports whether --type was given.
func typeSet(c *command) bool {
	set := false
	c.fs.Visit(func(f *flag.Flag) { set = set || f.Name == "type" })
	return set
}

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}
