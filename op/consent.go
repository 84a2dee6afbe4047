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
		if k != consentField && k != "allow" && k != "remember" && k != rememberOffered {
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

// ScopeInfo is a scope as the consent page shows it, in the page's
// language.
type ScopeInfo struct {
	Name        string
	Title       string
	Description string
	// New marks a scope the user's previous consent to this client did not
	// cover (false when there was none).
	New bool
}

// ClaimInfo is a claim asked for individually, as the consent page shows it.
type ClaimInfo struct {
	Name  string
	Title string
	New   bool
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
	// PolicyURL is the client's privacy policy (policy_uri), "" without one.
	PolicyURL string
	// HasNew: some scope or claim is marked New.
	HasNew bool
	// CanRemember: the client's reuse_consent lets the user's answer be
	// remembered; the form then offers a "remember" checkbox (checked), and
	// an unchecked box leaves the answer unremembered. RememberDays is how
	// long a remembered answer lasts (SkipConsentExpire).
	CanRemember  bool
	RememberDays int
}

// rememberOffered marks a consent form that offered the "remember"
// checkbox, so that its absence means "do not remember".
const rememberOffered = "remember_offered"

func (p *Provider) consentPage(w http.ResponseWriter, r *http.Request, req *authRequest, user *User) {
	ctx := r.Context()
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
	canRemember := req.client.ReuseConsent
	if canRemember {
		fmt.Fprintf(&hidden, "\n"+`<input type="hidden" name="%s" value="1">`, rememberOffered)
	}
	// What the previous consent (expired or not) did not cover is new.
	var before *storage.Consent
	if all, err := p.store.ListConsents(ctx, user.ID); err == nil {
		for _, c := range all {
			if c.ClientID == req.client.ID {
				before = c
			}
		}
	} else {
		p.log.WarnContext(ctx, "consent page: previous consents", "err", err)
	}
	lang := p.pageLanguage(ctx, r, req.uiLocales, user)
	data := ConsentPage{
		Client:       req.client,
		HiddenInputs: template.HTML(hidden.String()),
		Params:       params,
		Resources:    req.resources,
		Logo:         p.logoPath(req.client),
		PolicyURL:    req.client.PolicyURI,
		Action:       p.issuerURL.EscapedPath() + PathAuthorize,
		CanRemember:  canRemember,
		RememberDays: int(p.cfg.SkipConsentExpire.Hours() / 24),
	}
	for _, s := range req.scope {
		info := p.scopeInfo(lang, s)
		info.New = before != nil && !slices.Contains(before.Scope, s)
		data.HasNew = data.HasNew || info.New
		data.Scopes = append(data.Scopes, info)
	}
	for _, c := range extraClaims(req.claims, req.scope) {
		isNew := before != nil && !slices.Contains(before.Claims, c) && !slices.Contains(extraClaimsCovered(before.Scope), c)
		data.HasNew = data.HasNew || isNew
		data.Claims = append(data.Claims, ClaimInfo{Name: c, Title: p.claimTitle(lang, c), New: isNew})
	}
	if err := p.pages.RenderLang(w, lang, http.StatusOK, "authorize.html", data, ""); err != nil {
		p.log.ErrorContext(ctx, "render consent page", "err", err)
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
	// A consent is remembered unless the form offered the choice and the
	// user unchecked it (a form without the checkbox, django-oidc-provider's
	// included, remembers as before).
	if !(r.PostForm.Has(rememberOffered) && !r.PostForm.Has("remember")) {
		now := p.now()
		err := p.store.SaveConsent(ctx, &storage.Consent{
			UserID: user.ID, ClientID: req.client.ID, Scope: req.scope, Claims: extraClaims(req.claims, req.scope),
			GivenAt: now, ExpiresAt: now.Add(p.cfg.SkipConsentExpire),
		})
		if err != nil {
			p.authError(w, r, &redirectError{e: asError(err), req: req})
			return
		}
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
