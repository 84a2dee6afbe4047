package op

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/oidcd/oidcd/storage"
)

// consentField carries the consent form's CSRF token; its presence marks a
// POST to /authorize as the answer to the consent page.
const consentField = "consent_csrf"

func withoutConsentFields(params url.Values) url.Values {
	out := url.Values{}
	for k, v := range params {
		if k != consentField && k != "allow" {
			out[k] = v
		}
	}
	return out
}

// canSkipConsent applies django-oidc-provider's rules: prompt=consent always asks; public
// clients using the code or hybrid flow always ask (their identity is not
// proven, RFC 6749 §10.2); otherwise a client without require_consent skips,
// and a client with reuse_consent skips when a stored, unexpired consent
// covers every requested scope and every claim asked for individually: a
// remembered consent covers only what its page showed.
func (p *Provider) canSkipConsent(ctx context.Context, req *authRequest, user *User) (bool, error) {
	if slices.Contains(req.prompt, "consent") {
		return false, nil
	}
	c := req.client
	if c.Type == storage.Public && req.responseType.code {
		return false, nil
	}
	if !c.RequireConsent {
		return true, nil
	}
	if !c.ReuseConsent {
		return false, nil
	}
	stored, err := p.store.Consent(ctx, user.ID, c.ID, p.now())
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if !req.scope.subsetOf(stored.Scope) {
		return false, nil
	}
	for _, c := range extraClaims(req.claims, req.scope) {
		if !slices.Contains(stored.Claims, c) && !slices.Contains(extraClaimsCovered(stored.Scope), c) {
			return false, nil
		}
	}
	return true, nil
}

// extraClaimsCovered are the claims the scopes of a stored consent release.
func extraClaimsCovered(scope []string) []string {
	var out []string
	for _, s := range scope {
		out = append(out, scopeClaims[s]...)
	}
	return out
}

// consentCSRF binds the consent form to the browser session and to this
// exact request (SECURITY F1).
func (p *Provider) consentCSRF(req *authRequest, user *User) string {
	return base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("consent", sessionOf(user), user.ID, req.params.Encode()))
}

// ScopeInfo is a scope as the consent page shows it.
type ScopeInfo struct {
	Name        string
	Title       string
	Description string
}

// ClaimInfo is a claim asked for individually, as the consent page shows it.
type ClaimInfo struct {
	Name  string
	Title string
}

// ConsentPage is the context of the authorize.html template (django-oidc-provider's
// client, hidden_inputs, params and scopes). Claims are the claims the
// request asks for beyond its scopes (the "claims" parameter): a template
// must show them too, as they will be released.
type ConsentPage struct {
	Client       *storage.Client
	HiddenInputs template.HTML
	Params       map[string]string
	Scopes       []ScopeInfo
	Claims       []ClaimInfo
	// Resources are the resources (RFC 8707) the tokens will be for;
	// empty when the request names none.
	Resources []string
	Action    string
	// Logo is the local URL of the client's logo, "" without one.
	Logo string
}

func (p *Provider) consentPage(w http.ResponseWriter, r *http.Request, req *authRequest, user *User) {
	var hidden strings.Builder
	keys := make([]string, 0, len(req.params))
	params := map[string]string{}
	for k := range req.params {
		keys = append(keys, k)
		params[k] = req.params.Get(k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range req.params[k] {
			fmt.Fprintf(&hidden, `<input type="hidden" name="%s" value="%s">`+"\n",
				template.HTMLEscapeString(k), template.HTMLEscapeString(v))
		}
	}
	fmt.Fprintf(&hidden, `<input type="hidden" name="%s" value="%s">`, consentField, p.consentCSRF(req, user))
	var scopes []ScopeInfo
	for _, s := range req.scope {
		if def, ok := p.scope(s); ok {
			scopes = append(scopes, ScopeInfo{Name: def.Name, Title: def.Title, Description: def.Description})
		} else {
			scopes = append(scopes, ScopeInfo{Name: s, Title: s})
		}
	}
	var claims []ClaimInfo
	for _, c := range extraClaims(req.claims, req.scope) {
		claims = append(claims, ClaimInfo{Name: c, Title: claimTitles[c]})
	}
	data := ConsentPage{
		Client:       req.client,
		HiddenInputs: template.HTML(hidden.String()),
		Params:       params,
		Scopes:       scopes,
		Claims:       claims,
		Resources:    req.resources,
		Logo:         p.logoPath(req.client),
		Action:       p.issuerURL.EscapedPath() + PathAuthorize,
	}
	if err := p.pages.Render(w, http.StatusOK, "authorize.html", data, ""); err != nil {
		p.log.ErrorContext(r.Context(), "render consent page", "err", err)
	}
}

// consentAnswer handles the POST from the consent page.
func (p *Provider) consentAnswer(w http.ResponseWriter, r *http.Request, req *authRequest, user *User, csrf string, allow bool) {
	if user == nil {
		p.authError(w, r, &redirectError{e: newErr(errLoginRequired, "The user is no longer logged in."), req: req})
		return
	}
	if !p.cfg.Sealer.VerifyMAC(decodeB64(csrf), "consent", sessionOf(user), user.ID, req.params.Encode()) {
		p.errorPage(w, r, newErr(errAccessDenied, "The consent form has expired or was not sent from this browser. Please start again."))
		return
	}
	ctx := r.Context()
	kind := EventConsentDeclined
	if allow {
		kind = EventConsentAccepted
	}
	p.Emit(ctx, Event{Kind: kind, UserID: user.ID, ClientID: req.client.ID, Scope: req.scope})
	if h := p.cfg.Hooks.OnConsent; h != nil {
		h(ctx, ConsentEvent{UserID: user.ID, Client: req.client, Scope: req.scope, Claims: extraClaims(req.claims, req.scope), Accepted: allow})
	}
	if !allow {
		p.authError(w, r, &redirectError{e: newErr(errAccessDenied, "The user declined the request."), req: req})
		return
	}
	now := p.now()
	err := p.store.SaveConsent(ctx, &storage.Consent{
		UserID: user.ID, ClientID: req.client.ID, Scope: req.scope, Claims: extraClaims(req.claims, req.scope),
		GivenAt: now, ExpiresAt: now.Add(p.cfg.SkipConsentExpire),
	})
	if err != nil {
		p.authError(w, r, &redirectError{e: asError(err), req: req})
		return
	}
	p.respond(w, r, req, user)
}

func sessionOf(user *User) string {
	if user.SessionID != "" {
		return user.SessionID
	}
	return user.ID + "@" + user.AuthTime.UTC().String()
}

// decodeB64 decodes base64url, giving nil for malformed input.
func decodeB64(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}
