package console

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// rp is a relying party built as real ones are: go-oidc's discovery and
// verifier, x/oauth2's code exchange and refresh.
type rp struct {
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
	ctx      context.Context
}

func (e *env) newRP(t *testing.T, clientID, secret, redirect string) *rp {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), e.ts.Client())
	provider, err := oidc.NewProvider(ctx, e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &rp{
		conf: &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: redirect,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID, Now: e.clock.Now}),
		provider: provider,
		ctx:      ctx,
	}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// signIn runs the code flow in browser c (already signed in to oidcd),
// allowing the consent page when it comes, and returns the tokens after
// checking the ID token.
func (e *env) signIn(t *testing.T, c *http.Client, p *rp) *oauth2.Token {
	t.Helper()
	tok, err := e.trySignIn(t, c, p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type flowError string

func (f flowError) Error() string { return string(f) }

func (e *env) trySignIn(t *testing.T, c *http.Client, p *rp) (*oauth2.Token, error) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	r := do(t, c, "GET", p.conf.AuthCodeURL("st4te", oidc.Nonce("n0nce"), oauth2.S256ChallengeOption(verifier)), nil)
	if r.StatusCode == http.StatusOK && strings.Contains(r.body, `name="allow"`) {
		form := url.Values{"allow": {"Authorize"}}
		for _, m := range hiddenRE.FindAllStringSubmatch(r.body, -1) {
			form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		// As a browser does, the checked "remember this decision" box is sent.
		if strings.Contains(r.body, `name="remember" value="1" checked`) {
			form.Set("remember", "1")
		}
		r = do(t, c, "POST", e.ts.URL+"/authorize", form)
	}
	if r.StatusCode != http.StatusFound && r.StatusCode != http.StatusSeeOther {
		return nil, flowError("authorize: status " + r.Status + "\n" + r.body)
	}
	cb, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(cb.String(), p.conf.RedirectURL) || cb.Query().Get("code") == "" {
		return nil, flowError("authorize went to " + cb.String())
	}
	tok, err := p.conf.Exchange(p.ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, err := p.verifier.Verify(p.ctx, raw); err != nil {
		return nil, err
	}
	return tok, nil
}

// refresh uses the refresh token of tok.
func (p *rp) refresh(tok *oauth2.Token) (*oauth2.Token, error) {
	old := *tok
	old.Expiry = time.Unix(1, 0) // expired: the source refreshes
	return p.conf.TokenSource(p.ctx, &old).Token()
}
