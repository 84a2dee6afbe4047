package op

import (
	"net/http"
	"strings"
)

// Endpoint paths, relative to the issuer.
const (
	PathDiscovery = "/.well-known/openid-configuration"
	// PathOAuthMetadata is RFC 8414's well-known URI, relative to the
	// issuer (see Mount for the form RFC 8414 §3.1 puts before a path).
	PathOAuthMetadata = "/.well-known/oauth-authorization-server"
	PathAuthorize     = "/authorize"
	PathToken         = "/token"
	PathUserinfo      = "/userinfo"
	PathJWKS          = "/jwks"
	PathIntrospect    = "/introspect"
	PathRevoke        = "/revoke"
	// PathRegister is the client registration endpoint (RFC 7591 §3);
	// PathRegister + "/{client_id}" is each client's configuration
	// endpoint (RFC 7592 §2).
	PathRegister = "/register"
	// PathPAR is the pushed authorization request endpoint (RFC 9126 §2).
	PathPAR = "/par"
	// RFC 8628, when Config.DeviceFlow is on.
	PathDeviceAuthorization = "/device_authorization"
	PathDevice              = "/device"
	// PathLogo + "/{client_id}" serves a client's logo (docs/security.md
	// "Browser pages": pages load images from the provider only).
	PathLogo = "/logo"
	// PathAssets + "/{name}" serves the pages' stylesheets and the site's
	// logo (web.Renderer.ServeAsset).
	PathAssets = "/assets"
	// PathEndSession is RP-Initiated Logout's end_session_endpoint, served
	// when Users implements SessionEnder.
	PathEndSession = "/end-session"
	// PathCheckSession is Session Management's check_session_iframe,
	// served when Config.SessionManagement is on.
	PathCheckSession = "/check-session-iframe"
)

// routes is the provider's own mux, used by ServeHTTP.
func (p *Provider) routes() *http.ServeMux {
	mux := http.NewServeMux()
	p.Mount(mux, "")
	return mux
}

// Mount registers the provider's endpoints on a host's mux under prefix
// (the issuer's path, "" at the root), so that requests are routed once.
// It is an alternative to mounting the Provider itself as a handler.
//
// This is the table of contents of the provider. Every endpoint answers
// with and without a trailing slash; other methods get 405.
func (p *Provider) Mount(mux *http.ServeMux, prefix string) {
	prefix = strings.TrimSuffix(prefix, "/")
	handle := func(path string, methods []string, h http.HandlerFunc, cors bool) {
		if cors {
			h = withCORS(h)
			methods = append(methods, http.MethodOptions)
		}
		allowed := strings.Join(methods, ", ")
		hh := func(w http.ResponseWriter, r *http.Request) {
			if queryTooLong(r) && path != PathAuthorize { // SECURITY L6; /authorize answers with a page
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": errInvalidRequest, "error_description": "The query string is too long."})
				return
			}
			for _, m := range methods {
				if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
					h(w, r)
					return
				}
			}
			w.Header().Set("Allow", allowed)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": errInvalidRequest, "error_description": "method not allowed"})
		}
		mux.HandleFunc(prefix+path, hh)
		mux.HandleFunc(prefix+path+"/{$}", hh)
	}
	get, getPost, post := []string{http.MethodGet}, []string{http.MethodGet, http.MethodPost}, []string{http.MethodPost}
	handle(PathDiscovery, get, p.serveDiscovery, true)
	handle(PathOAuthMetadata, get, p.serveDiscovery, true)
	if prefix != "" {
		// RFC 8414 §3.1: for an issuer with a path, the well-known string
		// goes between the host and the path. Clients that follow it (the
		// MCP SDK does) find the metadata when the host mux is at the
		// origin's root.
		mux.HandleFunc(PathOAuthMetadata+prefix, withCORS(onlyGet(p.serveDiscovery)))
	}
	handle(PathJWKS, get, p.serveJWKS, true)
	handle(PathAuthorize, getPost, p.authorize, false)
	handle(PathToken, post, p.token, true)
	handle(PathUserinfo, getPost, p.userinfo, true)
	handle(PathRevoke, post, p.revoke, true)
	handle(PathIntrospect, post, p.introspect, false)
	handle(PathLogo+"/{id}", get, p.serveLogo, false)
	handle(PathAssets+"/{name}", get, p.pages.ServeAsset, false)
	handle(PathPAR, post, p.pushedAuthorizationRequest, true)
	if p.cfg.Registration.Enabled {
		handle(PathRegister, post, p.register, true)
		handle(PathRegister+"/{id}", []string{http.MethodGet, http.MethodPut, http.MethodDelete}, p.registrationClient, true)
	}
	if p.cfg.DeviceFlow {
		handle(PathDeviceAuthorization, post, p.deviceAuthorization, true)
		handle(PathDevice, getPost, p.device, false)
	}
	if p.endSessionEnabled() {
		handle(PathEndSession, getPost, p.serveEndSession, false)
	}
	if p.cfg.SessionManagement {
		handle(PathCheckSession, get, p.serveCheckSession, false)
	}
}

// endSessionEnabled: the end-session endpoint needs a way to sign the
// browser out of the host.
func (p *Provider) endSessionEnabled() bool {
	_, ok := p.cfg.Users.(SessionEnder)
	return ok
}

// onlyGet answers 405 to anything but GET, HEAD and OPTIONS.
func onlyGet(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, OPTIONS")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": errInvalidRequest, "error_description": "method not allowed"})
			return
		}
		h(w, r)
	}
}

// withCORS lets browser applications on any origin call an endpoint
// (discovery, JWKS, token, userinfo). None of them uses cookies, so no
// credentials are allowed and "*" is safe. Preflights are answered here.
func withCORS(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		if r.Header.Get("Origin") != "" {
			hdr.Set("Access-Control-Allow-Origin", "*")
			hdr.Set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce")
		}
		if r.Method == http.MethodOptions {
			hdr.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			hdr.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
			hdr.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	}
}
