package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
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

// clients manages relying parties, through the service layer.
func (a *app) clients(ctx context.Context, args []string) error {
	sub, args, err := subcommand("clients", args, "create", "update", "list", "show", "delete", "rotate-secret", "revoke-tokens")
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return a.clientsCreate(ctx, args)
	case "update":
		return a.clientsUpdate(ctx, args)
	case "list":
		return a.clientsList(ctx, args)
	case "show", "delete", "rotate-secret", "revoke-tokens":
		return a.clientsByID(ctx, sub, args)
	}
	fmt.Fprint(a.stdout, "Usage: oidcd clients create|update|list|show|delete|rotate-secret|revoke-tokens [flags]\n")
	return nil
}

// clientFlags are the flags of clients create and clients update: one per
// client property, named after its registration metadata. Each flag is
// registered together with the setter that copies its value onto a stored
// client, so that update can change everything create can set.
type clientFlags struct {
	spec storage.Client
	opts op.ClientOptions
	typ  string
	// lists are the repeatable flags, by name; jwksFile and logoFile the
	// files read into the spec.
	lists              map[string]*stringList
	jwksFile, logoFile string
	// setters copy a flag's value from spec onto a client, by flag name.
	setters map[string]func(dst *storage.Client)
}

// register adds the flags; update shows no defaults (only the flags given
// change anything).
func (f *clientFlags) register(c *command, update bool) {
	spec := &f.spec
	f.lists = map[string]*stringList{}
	f.setters = map[string]func(*storage.Client){}
	def := func(create string) string {
		if update {
			return ""
		}
		return create
	}
	str := func(name string, field func(*storage.Client) *string, defValue, usage string) {
		c.fs.StringVar(field(spec), name, defValue, usage)
		f.setters[name] = func(dst *storage.Client) { *field(dst) = *field(spec) }
	}
	boolean := func(name string, field func(*storage.Client) *bool, defValue bool, usage string) {
		c.fs.BoolVar(field(spec), name, defValue, usage)
		f.setters[name] = func(dst *storage.Client) { *field(dst) = *field(spec) }
	}
	// A repeatable flag replaces the whole list; given once as "" it
	// empties it. --scope values are split at spaces.
	list := func(name string, field func(*storage.Client) *[]string, usage string) {
		l := new(stringList) // nil until given: a list not given takes its default
		f.lists[name] = l
		c.fs.Var(l, name, usage)
		f.setters[name] = func(dst *storage.Client) { *field(dst) = slices.Clone(*field(spec)) }
	}
	str("name", func(c *storage.Client) *string { return &c.Name }, "", "client name shown on the consent page (required)")
	c.fs.StringVar(&f.typ, "type", def("confidential"), "confidential or public")
	f.setters["type"] = func(dst *storage.Client) { dst.Type = spec.Type }
	list("response-type", func(c *storage.Client) *[]string { return &c.ResponseTypes }, `allowed response type, repeatable: code, id_token, "id_token token", "code id_token", "code token", "code id_token token", token (default code)`)
	list("redirect-uri", func(c *storage.Client) *[]string { return &c.RedirectURIs }, "allowed redirect URI, repeatable (exact match)")
	list("post-logout-redirect-uri", func(c *storage.Client) *[]string { return &c.PostLogoutRedirectURIs }, "allowed post-logout redirect URI, repeatable")
	list("scope", func(c *storage.Client) *[]string { return &c.Scope }, `registered scope, space-separated, repeatable (client_credentials and introspection)`)
	str("jwt-alg", func(c *storage.Client) *string { return &c.JWTAlg }, def(keys.RS256), "ID token signing algorithm: RS256, ES256, EdDSA or HS256 (HS256 uses the client secret)")
	boolean("require-consent", func(c *storage.Client) *bool { return &c.RequireConsent }, !update, "always ask the user's consent (django-oidc-provider's default: on; --require-consent=false to switch off)")
	boolean("reuse-consent", func(c *storage.Client) *bool { return &c.ReuseConsent }, !update, "skip the consent page when an earlier consent covers the request (default on; --reuse-consent=false to switch off)")
	str("website", func(c *storage.Client) *string { return &c.Website }, "", "website URL")
	str("terms-url", func(c *storage.Client) *string { return &c.TermsURL }, "", "terms of service URL")
	str("policy-uri", func(c *storage.Client) *string { return &c.PolicyURI }, "", "privacy policy URL (linked from the consent page)")
	str("contact-email", func(c *storage.Client) *string { return &c.ContactEmail }, "", "contact email")
	str("logo-url", func(c *storage.Client) *string { return &c.LogoURL }, "", "logo URL: fetched once now (https, public addresses only, at most 256 KiB) and served by oidcd itself; pages never load it from there")
	c.fs.StringVar(&f.logoFile, "logo-file", "", "logo image `file` (PNG, JPEG, GIF or WebP, at most 256 KiB) that oidcd serves on the consent page (clients update: \"\" removes the logo)")
	f.setters["logo-file"] = func(dst *storage.Client) { dst.LogoImage = spec.LogoImage }
	str("token-endpoint-auth-method", func(c *storage.Client) *string { return &c.TokenEndpointAuthMethod }, "", "client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none (default: either secret method; none for public clients)")
	list("grant-type", func(c *storage.Client) *[]string { return &c.GrantTypes }, "grant type the client may use, repeatable: authorization_code, implicit, refresh_token, client_credentials, password, device_code (RFC 8628; needs OIDCD_DEVICE_FLOW_ENABLE), token_exchange (RFC 8693; needs OIDCD_TOKEN_EXCHANGE_ENABLE) (default: every enabled grant but password, device_code and token_exchange)")
	boolean("allow-public-password-grant", func(c *storage.Client) *bool { return &c.PublicPasswordGrant }, false, "let this public client use the password grant (no secret protects it)")
	str("token-endpoint-auth-signing-alg", func(c *storage.Client) *string { return &c.TokenEndpointAuthSigningAlg }, "", "the only alg accepted for the client's assertions (private_key_jwt, client_secret_jwt)")
	boolean("dpop-bound-access-tokens", func(c *storage.Client) *bool { return &c.DPoPBoundAccessTokens }, false, "the client must send a DPoP proof with every token request (RFC 9449 §5.2; needs OIDCD_DPOP_ENABLE)")
	str("jwks-uri", func(c *storage.Client) *string { return &c.JWKSURI }, "", "URL of the client's public JWK Set (private_key_jwt, request objects, encryption keys)")
	c.fs.StringVar(&f.jwksFile, "jwks", "", "FILE holding the client's public JWK Set (JSON) (clients update: \"\" removes it)")
	f.setters["jwks"] = func(dst *storage.Client) { dst.JWKS = spec.JWKS }
	str("id-token-encrypted-response-alg", func(c *storage.Client) *string { return &c.IDTokenEncryptedResponseAlg }, "", "encrypt the client's ID tokens (signed, then encrypted) to its key in --jwks or --jwks-uri: RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A192KW or ECDH-ES+A256KW")
	str("id-token-encrypted-response-enc", func(c *storage.Client) *string { return &c.IDTokenEncryptedResponseEnc }, "", "content encryption of the client's ID tokens: A128CBC-HS256 (default), A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM or A256GCM")
	str("userinfo-signed-response-alg", func(c *storage.Client) *string { return &c.UserinfoSignedResponseAlg }, "", "answer the client's userinfo requests with a JWT signed with RS256, ES256, EdDSA or HS256 (application/jwt)")
	str("userinfo-encrypted-response-alg", func(c *storage.Client) *string { return &c.UserinfoEncryptedResponseAlg }, "", "encrypt the client's userinfo responses to its key (the algorithms of --id-token-encrypted-response-alg)")
	str("userinfo-encrypted-response-enc", func(c *storage.Client) *string { return &c.UserinfoEncryptedResponseEnc }, "", "content encryption of the client's userinfo responses (default A128CBC-HS256)")
	list("request-uri", func(c *storage.Client) *[]string { return &c.RequestURIs }, "URL the client may pass as request_uri (a request object to fetch), repeatable")
	list("resource", func(c *storage.Client) *[]string { return &c.Resources }, "resource indicator (RFC 8707: absolute URI without fragment) the client may ask tokens for, repeatable (default: those of OIDCD_RESOURCES and OIDCD_JWT_RESOURCES)")
	str("access-token-signed-response-alg", func(c *storage.Client) *string { return &c.AccessTokenSignedResponseAlg }, "", "make the client's access tokens JWTs (RFC 9068) signed with RS256, ES256 or EdDSA (default: opaque tokens; clients update: \"\" makes them opaque again)")
	str("request-object-signing-alg", func(c *storage.Client) *string { return &c.RequestObjectSigningAlg }, "", "the only alg accepted for the client's request objects (none must be given to accept unsigned ones)")
	str("subject-type", func(c *storage.Client) *string { return &c.SubjectType }, "", "public (default) or pairwise: a sub per sector, so clients of different sectors cannot correlate users (OIDC Core §8)")
	str("sector-identifier-uri", func(c *storage.Client) *string { return &c.SectorIdentifierURI }, "", "https URL of a JSON array listing the client's redirect URIs (pairwise clients on several hosts)")
	boolean("require-pushed-authorization-requests", func(c *storage.Client) *bool { return &c.RequirePushedAuthorizationRequests }, false, "refuse authorization requests not pushed to /par first (RFC 9126)")
	str("software-id", func(c *storage.Client) *string { return &c.SoftwareID }, "", "identifier of the client software")
	str("software-version", func(c *storage.Client) *string { return &c.SoftwareVersion }, "", "version of the client software")
	str("frontchannel-logout-uri", func(c *storage.Client) *string { return &c.FrontchannelLogoutURI }, "", "page loaded in an iframe when a session the client took part in ends (same scheme, host and port as a redirect URI)")
	boolean("frontchannel-logout-session-required", func(c *storage.Client) *bool { return &c.FrontchannelLogoutSessionRequired }, false, "send iss and sid to the front-channel logout URI")
	str("backchannel-logout-uri", func(c *storage.Client) *string { return &c.BackchannelLogoutURI }, "", "endpoint that receives a logout token (POST) when a session the client took part in ends")
	boolean("backchannel-logout-session-required", func(c *storage.Client) *bool { return &c.BackchannelLogoutSessionRequired }, false, "the client needs sid in logout tokens (always sent)")
	c.fs.BoolVar(&f.opts.InsecureAllowHTTP, "insecure-allow-http", false, "allow http redirect URIs on non-loopback hosts (development only; also OIDCD_INSECURE_ALLOW_HTTP_REDIRECTS)")
}

// read copies the repeatable flags into the spec and reads the files
// named by --jwks and --logo-file.
func (f *clientFlags) read() error {
	spec := &f.spec
	spec.Type = storage.ClientType(f.typ)
	l := func(name string) []string { return emptyList(*f.lists[name]) }
	spec.ResponseTypes = l("response-type")
	spec.RedirectURIs = l("redirect-uri")
	spec.PostLogoutRedirectURIs = l("post-logout-redirect-uri")
	spec.Scope = nil
	for _, sc := range *f.lists["scope"] {
		spec.Scope = append(spec.Scope, strings.Fields(sc)...)
	}
	if len(*f.lists["scope"]) > 0 && spec.Scope == nil {
		spec.Scope = []string{}
	}
	spec.GrantTypes = l("grant-type")
	spec.RequestURIs = l("request-uri")
	spec.Resources = l("resource")
	if f.jwksFile != "" {
		b, err := os.ReadFile(f.jwksFile)
		if err != nil {
			return fmt.Errorf("--jwks: %w", err)
		}
		spec.JWKS = strings.TrimSpace(string(b))
	}
	if f.logoFile != "" {
		b, err := readBounded(f.logoFile, op.MaxLogoBytes)
		if err != nil {
			return fmt.Errorf("--logo-file: %w", err)
		}
		if _, err := op.CheckLogo(b); err != nil {
			return fmt.Errorf("--logo-file %s: %w", f.logoFile, err)
		}
		spec.LogoImage = b
	}
	return nil
}

// emptyList is l, except that a list given only as "" is empty but not nil.
func emptyList(l stringList) []string {
	if len(l) == 1 && l[0] == "" {
		return []string{}
	}
	return l
}

// apply sets on c the properties whose flags were given.
func (f *clientFlags) apply(c *storage.Client, given map[string]bool) {
	for name := range given {
		if set, ok := f.setters[name]; ok {
			set(c)
		}
	}
}

// givenFlags names the flags given on the command line.
func givenFlags(c *command) map[string]bool {
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

func (a *app) clientsCreate(ctx context.Context, args []string) error {
	c := a.newCommand("clients create", "", true)
	var f clientFlags
	f.register(c, false)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if f.spec.Name == "" {
		return usagef("clients create: --name is required")
	}
	if err := f.read(); err != nil {
		return fmt.Errorf("clients create: %w", err)
	}
	spec, opts := f.spec, f.opts
	if spec.TokenEndpointAuthMethod == op.AuthNone && f.typ == "confidential" && !typeSet(c) {
		spec.Type = storage.Public
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	opts.InsecureAllowHTTP = opts.InsecureAllowHTTP || s.Server.Provider.Registration.InsecureAllowHTTP
	// Validate before anything is created (database, secret file).
	if _, _, err := op.NewClient(spec, throwawaySealer(), a.now(), &opts); err != nil {
		return fmt.Errorf("clients create: invalid client:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	svc, store, err := c.service(ctx, s, true)
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := svc.CreateClient(ctx, c.actor(), spec, &opts)
	if err != nil {
		return clientErr("clients create", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "oidcd: warning: %s (give it with --logo-file)\n", w)
	}
	client, secret := res.Client, res.Secret
	if c.json {
		return c.printJSON(toClientJSON(client, secret))
	}
	fmt.Fprintf(a.stdout, "created %s client %q\nclient_id: %s\n", client.Type, client.Name, client.ID)
	if secret != "" {
		fmt.Fprintf(a.stdout, "client_secret: %s\n(the secret is shown only now; 'oidcd clients rotate-secret %s' makes a new one)\n", secret, client.ID)
	}
	return nil
}

// clientErr reports an invalid client as clients create always has.
func clientErr(name string, err error) error {
	if errors.Is(err, manage.ErrInvalid) {
		msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), manage.ErrInvalid.Error()+":"))
		return fmt.Errorf("%s: invalid client:\n  %s", name, strings.ReplaceAll(msg, "\n", "\n  "))
	}
	return serviceErr(name, err)
}

// clientsUpdate changes the properties whose flags are given and nothing
// else. A repeatable flag replaces the whole list (give it once as "" to
// empty it); a client made confidential prints its new secret.
func (a *app) clientsUpdate(ctx context.Context, args []string) error {
	c := a.newCommand("clients update", " ID", true)
	id := c.fs.String("id", "", "the client id (or give it as the argument)")
	var f clientFlags
	f.register(c, true)
	pos, err := c.parse(args, 0, 1)
	if err != nil {
		return err
	}
	if *id, err = oneID(c, pos, *id); err != nil {
		return err
	}
	if err := f.read(); err != nil {
		return fmt.Errorf("clients update: %w", err)
	}
	given := givenFlags(c)
	delete(given, "id")
	_, svc, store, err := c.openService(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := svc.UpdateClient(ctx, c.actor(), *id, manage.ClientUpdate{
		Edit:              func(cl *storage.Client) error { f.apply(cl, given); return nil },
		InsecureAllowHTTP: f.opts.InsecureAllowHTTP,
	})
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("clients update: no client with id %q", *id)
	} else if err != nil {
		return clientErr("clients update", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "oidcd: warning: %s (give it with --logo-file)\n", w)
	}
	if c.json {
		return c.printJSON(toClientJSON(res.Client, res.Secret))
	}
	fmt.Fprintf(a.stdout, "updated client %s (%q)\n", res.Client.ID, res.Client.Name)
	if res.Secret != "" {
		fmt.Fprintf(a.stdout, "client_secret: %s\n(the secret is shown only now)\n", res.Secret)
	}
	return nil
}

// oneID takes a client id given as the argument or as --id.
func oneID(c *command, pos []string, id string) (string, error) {
	switch {
	case len(pos) == 1 && id != "" && pos[0] != id:
		return "", usagef("%s: two different client ids given", c.name)
	case len(pos) == 1:
		return pos[0], nil
	case id == "":
		return "", usagef("%s: the client id is required", c.name)
	}
	return id, nil
}

func (a *app) clientsList(ctx context.Context, args []string) error {
	c := a.newCommand("clients list", "", true)
	search := c.fs.String("search", "", "only clients whose id, name, redirect URIs, website or contact contain this (any case)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	all, err := svc.ListClients(ctx, manage.ClientQuery{Search: *search})
	if err != nil {
		return err
	}
	return printRows(c, all, func(cl *storage.Client) any { return toClientJSON(cl, "") },
		"CLIENT ID\tNAME\tTYPE\tRESPONSE TYPES\tCREATED",
		func(cl *storage.Client) string {
			return strings.Join([]string{cl.ID, cl.Name, string(cl.Type), strings.Join(cl.ResponseTypes, ", "), timeText(cl.CreatedAt)}, "\t")
		})
}

// clientsByID runs show, delete, rotate-secret and revoke-tokens, which
// take the client id as an argument or as --id.
func (a *app) clientsByID(ctx context.Context, sub string, args []string) error {
	c := a.newCommand("clients "+sub, " ID", true)
	id := c.fs.String("id", "", "the client id (or give it as the argument)")
	var overlap *time.Duration
	if sub == "rotate-secret" {
		overlap = c.fs.Duration("overlap", 0, "how long the old secret keeps working beside the new one (a Go duration: 24h; default 0: it stops now)")
	}
	pos, err := c.parse(args, 0, 1)
	if err != nil {
		return err
	}
	if *id, err = oneID(c, pos, *id); err != nil {
		return err
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	svc, store, err := c.service(ctx, s, sub == "rotate-secret")
	if err != nil {
		return err
	}
	defer store.Close()
	client, err := svc.Client(ctx, *id)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("clients %s: no client with id %q", sub, *id)
	} else if err != nil {
		return err
	}
	switch sub {
	case "delete":
		usage, err := svc.DeleteClient(ctx, c.actor(), client.ID)
		if err != nil {
			return serviceErr("clients delete", err)
		}
		if c.json {
			return c.printJSON(map[string]any{"client_id": client.ID, "deleted": usageJSON(usage)})
		}
		fmt.Fprintf(a.stdout, "deleted client %s (%q) with its grants, tokens and consents: %s\n", client.ID, client.Name, usage)
		return nil
	case "revoke-tokens":
		if err := svc.RevokeClientTokens(ctx, c.actor(), client.ID); err != nil {
			return serviceErr("clients revoke-tokens", err)
		}
		if c.json {
			return c.printJSON(map[string]any{"client_id": client.ID, "tokens_revoked": true})
		}
		fmt.Fprintf(a.stdout, "revoked every token of client %s (%q); running servers refuse them within their token and client caches' TTLs (1 s and 5 s by default)\n", client.ID, client.Name)
		return nil
	case "rotate-secret":
		if client.Type != storage.Confidential {
			return fmt.Errorf("clients rotate-secret: client %s is public and has no secret", client.ID)
		}
		res, err := svc.RotateClientSecret(ctx, c.actor(), client.ID, *overlap)
		if err != nil {
			return serviceErr("clients rotate-secret", err)
		}
		if c.json {
			out := struct {
				clientJSON
				PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
			}{clientJSON: toClientJSON(res.Client, res.Secret)}
			if t := res.Client.PreviousSecretExpiresAt; !t.IsZero() {
				out.PreviousSecretExpiresAt = &t
			}
			return c.printJSON(out)
		}
		fmt.Fprintf(a.stdout, "client_id: %s\nclient_secret: %s\n", client.ID, res.Secret)
		if t := res.Client.PreviousSecretExpiresAt; !t.IsZero() {
			fmt.Fprintf(a.stdout, "(the old secret also works until %s)\n", timeText(t))
		} else {
			fmt.Fprintln(a.stdout, "(the old secret no longer works)")
		}
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
	row("policy_uri", client.PolicyURI)
	row("contact_email", client.ContactEmail)
	row("logo_url", client.LogoURL)
	if client.LogoType != "" {
		row("logo", fmt.Sprintf("%s, %d bytes, served by oidcd", client.LogoType, len(client.LogoImage)))
	}
	row("token_endpoint_auth_method", op.MetadataOf(client).TokenEndpointAuthMethod)
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
	if len(client.Resources) > 0 {
		row("resources", strings.Join(client.Resources, " "))
	}
	for _, r := range [][2]string{
		{"access_token_signed_response_alg", client.AccessTokenSignedResponseAlg},
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
	if t := client.PreviousSecretExpiresAt; len(client.PreviousSecretHash) > 0 && a.now().Before(t) {
		row("previous_secret", "works until "+timeText(t))
	}
	row("frontchannel_logout_uri", client.FrontchannelLogoutURI)
	row("frontchannel_logout_session_required", fmt.Sprint(client.FrontchannelLogoutSessionRequired))
	row("backchannel_logout_uri", client.BackchannelLogoutURI)
	row("backchannel_logout_session_required", fmt.Sprint(client.BackchannelLogoutSessionRequired))
	row("created_at", timeText(client.CreatedAt))
	return tw.Flush()
}

// usageJSON is a ClientUsage in --json output.
func usageJSON(u *manage.ClientUsage) map[string]int {
	return map[string]int{"grants": u.Grants, "consents": u.Consents, "users": u.Users, "sessions": u.Sessions}
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
