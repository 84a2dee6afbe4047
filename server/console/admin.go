package console

import (
	"net/http"
	"strings"
)

// route is one admin page: a method and a path under /admin (with
// ServeMux wildcards), and its handler.
type route struct {
	method, path string
	h            http.HandlerFunc
}

// adminTable is the table of contents of the admin pages: every admin
// route, under the issuer's path + "/admin". A list page also answers with
// a trailing slash.
func (c *Console) adminTable() []route {
	return []route{
		{"GET", "/{$}", c.overview},

		{"GET", "/clients", c.clients},
		{"GET", "/clients/new", c.clientNew},
		{"POST", "/clients/new", c.clientCreate},
		{"GET", "/clients/{id}", c.client},
		{"POST", "/clients/{id}", c.clientSave},
		{"POST", "/clients/{id}/rotate-secret", c.clientRotateSecret},
		{"POST", "/clients/{id}/revoke-tokens", c.clientRevokeTokens},
		{"GET", "/clients/{id}/delete", c.clientDeleteConfirm},
		{"POST", "/clients/{id}/delete", c.clientDelete},

		{"GET", "/keys", c.keysPage},
		{"POST", "/keys/create", c.keyCreate},
		{"POST", "/keys/rotate", c.keyRotate},
		{"POST", "/keys/import", c.keyImport},
		{"POST", "/keys/{kid}/retire", c.keyRetire},
		{"GET", "/keys/{kid}/delete", c.keyDeleteConfirm},
		{"POST", "/keys/{kid}/delete", c.keyDelete},

		{"GET", "/users", c.users},
		{"GET", "/users/new", c.userNew},
		{"POST", "/users/new", c.userCreate},
		{"GET", "/users/{id}", c.userPage},
		{"POST", "/users/{id}", c.userSave},
		{"POST", "/users/{id}/password", c.userPassword},
		{"POST", "/users/{id}/lock", c.userLock},
		{"POST", "/users/{id}/admin", c.userAdmin},
		{"GET", "/users/{id}/delete", c.userDeleteConfirm},
		{"POST", "/users/{id}/delete", c.userDelete},

		{"GET", "/consents", c.consents},
		{"POST", "/consents/revoke", c.consentRevoke},
		{"POST", "/consents/revoke-grant", c.grantRevoke},
		{"GET", "/sessions", c.sessions},
		{"POST", "/sessions/revoke", c.sessionRevoke},
		{"POST", "/sessions/revoke-user", c.sessionsRevokeUser},

		{"GET", "/audit", c.audit},
	}
}

// adminRoutes registers adminTable on mux under base.
func (c *Console) adminRoutes(mux *http.ServeMux, base string) {
	for _, rt := range c.adminTable() {
		mux.HandleFunc(rt.method+" "+base+rt.path, rt.h)
		if rt.method == "GET" && rt.path != "/{$}" && !strings.Contains(rt.path, "{") {
			mux.HandleFunc("GET "+base+rt.path+"/{$}", rt.h)
		}
	}
	mux.HandleFunc("GET "+base, c.toOverview)
	// Anything else: 404, after the admin gate, so only admins learn it.
	mux.HandleFunc("/", c.adminNotFound)
}

func (c *Console) toOverview(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, c.prefix+"/admin/", http.StatusMovedPermanently)
}

func (c *Console) adminNotFound(w http.ResponseWriter, r *http.Request) {
	c.notFound(w, r)
}

// overview is the admin's home: what there is, with links.
func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "overview.html", &view{Title: "overview", Section: "overview"}, nil)
}
