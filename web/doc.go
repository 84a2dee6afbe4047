// Package web holds the embedded HTML templates of oidcd's pages (consent,
// device, error, form_post, login, logout, end_session, check_session),
// their gettext catalogs (locales/*.po: en, es, fr, pl), the stylesheet and
// the site's branding, and renders the pages with html/template in the
// language a request prefers, letting a host overlay any template and any
// catalog with its own files. It imports nothing of oidcd.
package web
