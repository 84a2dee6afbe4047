package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/storage"
)

// OAuth 2.0 Token Exchange (RFC 8693): a client trades a token it holds
// (the subject token) for an access token with another audience or a
// narrower scope, optionally naming who acts for the subject (the actor
// token, recorded as the "act" claim). It is off unless Config.TokenExchange
// is set and the client lists GrantTypeTokenExchange; beyond the default
// policy (a client re-targets or narrows its own access token) every
// exchange needs Hooks.TokenExchange to allow it.

// GrantTypeTokenExchange is RFC 8693 §2.1's grant_type.
const GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// Token type identifiers (RFC 8693 §3).
const (
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
)

// errInvalidTarget is RFC 8693 §2.2.2's error for an audience or resource
// the server will not issue a token for.
const errInvalidTarget = "invalid_target"

// TrustedIssuer is another issuer whose JWTs may be exchanged (subject
// token type TokenTypeJWT). Keys verifies their signatures; only
// asymmetric algorithms are accepted.
type TrustedIssuer struct {
	Issuer string
	Keys   jose.JSONWebKeySet
}

// ExchangeToken describes a verified subject or actor token.
type ExchangeToken struct {
	// Type is the token type URI it was presented as.
	Type string
	// Issuer is our issuer, or the trusted issuer of a foreign JWT.
	Issuer string
	// Subject is the token's subject: our user id (our tokens), the client
	// id (our client-credentials tokens) or a foreign JWT's "sub".
	Subject string
	// UserID is the user the token stands for, empty for a client's own
	// token and for foreign JWTs (the hook maps those).
	UserID string
	// ClientID is the client our token was issued to (empty for foreign JWTs).
	ClientID string
	// Scope is the scope of our access tokens (empty for JWTs).
	Scope     []string
	ExpiresAt time.Time
	// Claims are a JWT's verified claims (nil for our access tokens).
	Claims map[string]any

	sessionID string
	authTime  time.Time
	actor     string // the "act" of the grant of our access token
}

// TokenExchangeArgs are the inputs of Hooks.TokenExchange. The hook allows
// the exchange by returning nil; it may narrow Scope and must set UserID
// for a subject from a trusted issuer (the local user it stands for).
type TokenExchangeArgs struct {
	// Client is the authenticated client asking.
	Client  *storage.Client
	Subject *ExchangeToken
	// Actor is nil for impersonation, set for delegation (RFC 8693 §1.1).
	Actor *ExchangeToken
	// Audience are the requested audiences: registered client ids.
	Audience []string
	// Resource are the requested resource URIs (RFC 8707), each an
	// absolute URI without fragment. Without a hook only those the client
	// may ask for at every grant are allowed (Config.Resources, or the
	// client's own list); a hook decides on any.
	Resource []string
	// Scope is the scope to issue; the hook may narrow it.
	Scope []string
	// UserID is the user the new token is for: Subject.UserID, or what the
	// hook sets for a foreign subject.
	UserID  string
	Request *http.Request
}

// grantTokenExchange is the token exchange grant (RFC 8693 §2).
func (p *Provider) grantTokenExchange(r *http.Request, form url.Values, c *storage.Client) (*tokenResponse, error) {
	ctx := r.Context()
	subjectToken, subjectType := form.Get("subject_token"), form.Get("subject_token_type")
	if subjectToken == "" || subjectType == "" {
		return nil, newErr(errInvalidRequest, "subject_token and subject_token_type are required.")
	}
	actorToken, actorType := form.Get("actor_token"), form.Get("actor_token_type")
	if (actorToken == "") != (actorType == "") {
		// RFC 8693 §2.1: actor_token_type is required with actor_token, and
		// must not be sent without it.
		return nil, newErr(errInvalidRequest, "actor_token and actor_token_type go together.")
	}
	if rt := form.Get("requested_token_type"); rt != "" && rt != TokenTypeAccessToken {
		return nil, newErr(errInvalidRequest, "Only access tokens are issued (requested_token_type %q).", rt)
	}
	subject, err := p.exchangeToken(ctx, c, subjectToken, subjectType)
	if err != nil {
		return nil, exchangeTokenError("subject_token", err)
	}
	var actor *ExchangeToken
	if actorToken != "" {
		if actor, err = p.exchangeToken(ctx, c, actorToken, actorType); err != nil {
			return nil, exchangeTokenError("actor_token", err)
		}
	}
	// RFC 8693 §2.1: audience and resource may each be repeated.
	if len(form["audience"]) > MaxResources {
		return nil, newErr(errInvalidTarget, "The request names more than %d audiences.", MaxResources)
	}
	var audience []string
	for _, a := range form["audience"] {
		// An audience is a registered client: the resource server that
		// will introspect the token.
		if _, err := p.client(ctx, a); errors.Is(err, storage.ErrNotFound) {
			return nil, newErr(errInvalidTarget, "The audience %q is not known here.", a)
		} else if err != nil {
			return nil, err
		}
		if !slices.Contains(audience, a) {
			audience = append(audience, a)
		}
	}
	// Resources are read as at every other grant (RFC 8707 §2); whether the
	// client may have them is the policy's decision below.
	resource, e := parseResources(form["resource"])
	if e != nil {
		return nil, e
	}
	scope := scopeSet(subject.Scope)
	if s := form.Get("scope"); s != "" {
		req := parseScope(s)
		if subject.Type == TokenTypeAccessToken && !req.subsetOf(subject.Scope) {
			// Never wider than what the subject token carries.
			return nil, newErr(errInvalidScope, "The requested scope exceeds the subject token's.")
		}
		for _, sc := range req {
			if !p.scopeAllowed(c, sc) {
				return nil, newErr(errInvalidScope, "The scope %q is not available to this client.", sc)
			}
		}
		scope = req
	} else if len(c.Scope) > 0 {
		// The exchanging client's registered scope bounds what it gets,
		// as on every grant path (docs/security.md "Client policy").
		var kept scopeSet
		for _, sc := range scope {
			if p.scopeAllowed(c, sc) {
				kept = append(kept, sc)
			}
		}
		scope = kept
	}
	args := &TokenExchangeArgs{
		Client: c, Subject: subject, Actor: actor, Audience: audience, Resource: resource,
		Scope: slices.Clone(scope), UserID: subject.UserID, Request: r,
	}
	if err := p.exchangePolicy(ctx, args); err != nil {
		return nil, err
	}
	if !scopeSet(args.Scope).subsetOf(scope) {
		return nil, fmt.Errorf("op: Hooks.TokenExchange widened the scope")
	}
	if subject.Issuer != p.cfg.Issuer && args.UserID == "" {
		return nil, newErr(errInvalidRequest, "The subject_token's subject is not a user here.")
	}
	act, err := actClaim(subject, actor)
	if err != nil {
		return nil, err
	}
	now := p.now()
	exp := now.Add(p.cfg.TokenExpire)
	if !subject.ExpiresAt.IsZero() && subject.ExpiresAt.Before(exp) {
		exp = subject.ExpiresAt // never outlive the subject token
	}
	g := &storage.Grant{
		ID: newGrantID(now), ClientID: c.ID, UserID: args.UserID, SessionID: subject.sessionID,
		Scope: args.Scope, AuthTime: subject.authTime, CreatedAt: now, ExpiresAt: exp, Actor: act,
		Resources: resource,
	}
	aud := slices.Clone(audience)
	for _, res := range resource {
		if !slices.Contains(aud, res) {
			aud = append(aud, res)
		}
	}
	tok := &storage.Token{
		Kind: storage.AccessToken, GrantID: g.ID, ClientID: c.ID, UserID: args.UserID,
		Scope: args.Scope, CreatedAt: now, ExpiresAt: exp, Audience: aud, JKT: boundJKT(r),
	}
	access, err := p.newAccessToken(ctx, c, g, tok)
	if err != nil {
		return nil, err
	}
	if err := p.store.CreateGrant(ctx, g, tok); err != nil {
		return nil, err
	}
	p.log.InfoContext(ctx, "token exchanged", "client_id", c.ID, "subject_type", subject.Type,
		"subject_client", subject.ClientID, "delegation", actor != nil, "audience", aud)
	return &tokenResponse{
		AccessToken: access, IssuedTokenType: TokenTypeAccessToken, TokenType: tokenType(tok.JKT),
		ExpiresIn: int(exp.Sub(now).Seconds()), Scope: scopeSet(args.Scope).String(),
	}, nil
}

// exchangePolicy decides. Without a hook only the default is allowed: a
// client exchanging its own access token for other audiences, resources
// it may ask for (as at every grant, RFC 8707) or a narrower scope, with
// no actor (no one else's token, no delegation, no foreign JWT). A hook
// decides everything itself, resources included.
func (p *Provider) exchangePolicy(ctx context.Context, a *TokenExchangeArgs) error {
	if h := p.cfg.Hooks.TokenExchange; h != nil {
		if err := h(ctx, a); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return e
			}
			// RFC 8693 §2.2.2: unacceptable by policy is invalid_request.
			return &Error{Code: errInvalidRequest, Description: "The token exchange is not allowed.", Err: err}
		}
		return nil
	}
	for _, res := range a.Resource {
		if !p.resourceAllowed(a.Client, res) {
			return newErr(errInvalidTarget, "The resource %q is not available to this client.", res)
		}
	}
	switch {
	case a.Actor != nil:
		return newErr(errInvalidRequest, "Delegation (actor_token) is not allowed by this server's policy.")
	case a.Subject.Type != TokenTypeAccessToken || a.Subject.ClientID != a.Client.ID:
		return newErr(errInvalidRequest, "Only the client's own access tokens may be exchanged under this server's policy.")
	}
	return nil
}

// exchangeTokenError turns a failed verification into RFC 8693 §2.2.2's
// invalid_request, naming the parameter; storage outages stay 503.
func exchangeTokenError(param string, err error) error {
	var e *Error
	if errors.As(err, &e) || errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	return &Error{Code: errInvalidRequest, Description: "The " + param + " is invalid, expired or revoked.", Err: err}
}

// exchangeToken verifies a subject or actor token of the given type.
func (p *Provider) exchangeToken(ctx context.Context, c *storage.Client, value, typ string) (*ExchangeToken, error) {
	now := p.now()
	switch typ {
	case TokenTypeAccessToken:
		tok, g, err := p.lookupToken(ctx, value, now)
		if err != nil {
			return nil, err // unknown, expired, revoked
		}
		if tok.Kind != storage.AccessToken {
			return nil, errors.New("not an access token")
		}
		sub := tok.UserID
		if sub == "" {
			sub = tok.ClientID
		}
		return &ExchangeToken{
			Type: typ, Issuer: p.cfg.Issuer, Subject: sub, UserID: tok.UserID, ClientID: tok.ClientID,
			Scope: tok.Scope, ExpiresAt: tok.ExpiresAt, sessionID: g.SessionID, authTime: g.AuthTime, actor: g.Actor,
		}, nil
	case TokenTypeIDToken:
		claims, err := p.verifyIDToken(value, func() ([]byte, error) { return p.clientSecret(c) })
		if err != nil {
			return nil, err
		}
		exp, err := expiry(claims, now)
		if err != nil {
			return nil, err
		}
		sub := claims["sub"].(string)
		t := &ExchangeToken{Type: typ, Issuer: p.cfg.Issuer, Subject: sub, ExpiresAt: exp, Claims: claims}
		if azp, ok := claims["azp"].(string); ok {
			t.ClientID = azp
		} else if aud, ok := claims["aud"].(string); ok {
			t.ClientID = aud
		}
		if sid, ok := claims["sid"].(string); ok {
			t.sessionID = sid
		}
		if p.cfg.Hooks.Subject == nil {
			t.UserID = sub // the default subject is the user id
		}
		return t, nil
	case TokenTypeJWT:
		return p.foreignJWT(value, now)
	}
	return nil, newErr(errInvalidRequest, "Unsupported token type %q.", typ)
}

// foreignJWT verifies a JWT of a trusted issuer (Config.TokenExchangeIssuers).
func (p *Provider) foreignJWT(value string, now time.Time) (*ExchangeToken, error) {
	jws, err := jose.ParseSigned(value, []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("not a signed JWT with an asymmetric algorithm")
	}
	var unverified struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil {
		return nil, errors.New("payload is not JSON")
	}
	i := slices.IndexFunc(p.cfg.TokenExchangeIssuers, func(t TrustedIssuer) bool { return t.Issuer == unverified.Iss })
	if i < 0 {
		return nil, fmt.Errorf("issuer %q is not trusted", unverified.Iss)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := p.cfg.TokenExchangeIssuers[i].Keys.Key(kid)
	if len(keys) == 0 && kid == "" {
		keys = p.cfg.TokenExchangeIssuers[i].Keys.Keys
	}
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != jws.Signatures[0].Header.Algorithm {
			continue
		}
		payload, err := jws.Verify(k.Key)
		if err != nil {
			continue
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			return nil, errors.New("payload is not JSON")
		}
		exp, err := expiry(claims, now)
		if err != nil {
			return nil, err
		}
		sub, _ := claims["sub"].(string)
		if sub == "" {
			return nil, errors.New("no subject")
		}
		return &ExchangeToken{Type: TokenTypeJWT, Issuer: unverified.Iss, Subject: sub, ExpiresAt: exp, Claims: claims}, nil
	}
	return nil, errors.New("signature does not verify with the trusted issuer's keys")
}

// expiry reads a JWT's exp (required) and nbf, refusing an expired or not
// yet valid token.
func expiry(claims map[string]any, now time.Time) (time.Time, error) {
	expF, ok := claims["exp"].(float64)
	if !ok {
		return time.Time{}, errors.New("no exp")
	}
	exp := time.Unix(int64(expF), 0)
	if !now.Before(exp) {
		return time.Time{}, errors.New("expired")
	}
	if nbf, ok := claims["nbf"].(float64); ok && now.Before(time.Unix(int64(nbf), 0).Add(-time.Minute)) {
		return time.Time{}, errors.New("not yet valid")
	}
	return exp, nil
}

// actClaim is the "act" claim of the new token (RFC 8693 §4.1): the actor,
// with the actors before it nested inside when the subject token was
// itself delegated.
func actClaim(subject, actor *ExchangeToken) (string, error) {
	var prior map[string]any
	if subject.actor != "" {
		if err := json.Unmarshal([]byte(subject.actor), &prior); err != nil {
			return "", fmt.Errorf("op: stored act claim: %w", err)
		}
	}
	if actor == nil {
		if prior == nil {
			return "", nil
		}
		// Impersonating a delegated token keeps who acted.
		return subject.actor, nil
	}
	act := map[string]any{"sub": actor.Subject}
	if actor.Issuer != "" {
		act["iss"] = actor.Issuer
	}
	if actor.ClientID != "" {
		act["client_id"] = actor.ClientID
	}
	if prior != nil {
		act["act"] = prior
	}
	b, err := json.Marshal(act)
	return string(b), err
}
