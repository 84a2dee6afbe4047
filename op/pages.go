package op

import (
	"context"
	"net/http"

	"github.com/oidcd/oidcd/web"
)

// Pages returns the renderer of the provider's pages, with their languages
// and branding, so that a host renders its own pages (login, account) alike.
func (p *Provider) Pages() *web.Renderer { return p.pages }

// pageLanguage picks the language of a page (OIDC Core §3.1.2.1
// ui_locales): the request's ui_locales, then the user's locale claim, then
// Accept-Language, then the default. user may be nil.
func (p *Provider) pageLanguage(ctx context.Context, r *http.Request, uiLocales string, user *User) string {
	if lang, ok := p.pages.Match(uiLocales); ok {
		return lang
	}
	var locale string
	if user != nil {
		var c Claims
		if err := p.cfg.Users.Claims(ctx, user.ID, &c); err == nil {
			locale = c.Locale
		}
	}
	return p.pages.Language(r, locale)
}

// requestUILocales is the ui_locales parameter of a request that has not
// been parsed into an authorization request (the error page): from the
// query, or from a form already parsed.
func requestUILocales(r *http.Request) string {
	if v := r.URL.Query().Get("ui_locales"); v != "" {
		return boundedUILocales(v)
	}
	if r.PostForm != nil {
		return boundedUILocales(r.PostForm.Get("ui_locales"))
	}
	return ""
}

// boundedUILocales drops a ui_locales value too long to be one (SECURITY L6).
func boundedUILocales(v string) string {
	if len(v) > 256 {
		return ""
	}
	return v
}

// errorText is what the error page tells a person about an error code;
// the code and its English description are shown as technical details.
type errorText struct{ title, message string }

var (
	errTextInvalid = errorText{
		"This request cannot be completed",
		"The application that sent you here made a request that this service does not accept. Go back to the application and try again; if this happens again, contact the application's support.",
	}
	errorTexts = map[string]errorText{
		errInvalidClient: {
			"Unknown application",
			"The application that sent you here is not registered with this service, or not allowed to make this request.",
		},
		errAccessDenied: {
			"Access denied",
			"The request was refused or has expired. Go back to the application and start again.",
		},
		errServerError: {
			"Something went wrong",
			"An error occurred on our side. Please try again later.",
		},
		errTemporarilyUnavailable: {
			"Temporarily unavailable",
			"The service is temporarily unavailable. Please try again in a few seconds.",
		},
	}
)

func errorTextOf(code string) errorText {
	if t, ok := errorTexts[code]; ok {
		return t
	}
	return errTextInvalid
}

// ErrorPage is the data of error.html: Error and Description are the
// error code and its English description (as sent to relying parties;
// django-oidc-provider's error and description), Title and Message say it
// in the page's language.
type ErrorPage struct {
	Error, Description string
	Title, Message     string
	// RequestID lets a user quote the request to an operator.
	RequestID string
}

// scopeInfo is a scope's title and description in lang.
func (p *Provider) scopeInfo(lang, name string) ScopeInfo {
	def, ok := p.scope(name)
	if !ok {
		return ScopeInfo{Name: name, Title: name}
	}
	return ScopeInfo{Name: def.Name, Title: p.pages.T(lang, def.Title), Description: p.pages.T(lang, def.Description)}
}

// claimTitle is a claim's name for people, in lang.
func (p *Provider) claimTitle(lang, name string) string {
	if t, ok := claimTitles[name]; ok {
		return p.pages.T(lang, t)
	}
	return name
}
