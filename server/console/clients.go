package console

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

type clientRow struct {
	ID, Name, Type, ResponseTypes, RedirectURIs, Created string
}

type clientsData struct {
	Search  string
	Clients []clientRow
	Total   int
}

// clients lists the clients, or those matching the search q.
func (c *Console) clients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	all, err := c.svc.ListClients(r.Context(), manage.ClientQuery{Search: q})
	if err != nil {
		c.serverError(w, r, "console: list clients", err)
		return
	}
	data := &clientsData{Search: q, Total: len(all)}
	for _, cl := range all {
		data.Clients = append(data.Clients, clientRow{ID: cl.ID, Name: cl.Name, Type: string(cl.Type),
			ResponseTypes: joinComma(cl.ResponseTypes), RedirectURIs: joinComma(cl.RedirectURIs), Created: dateText(cl.CreatedAt)})
	}
	c.render(w, r, http.StatusOK, "clients.html", &view{Title: "clients", Section: "clients", Data: data}, nil)
}

// clientFormData is the data of client_form.html.
type clientFormData struct {
	New    bool
	ID     string
	Form   *clientForm
	Client *storage.Client // nil for a new client

	ResponseTypes, GrantTypes, JWTAlgs, AuthMethods, SubjectTypes []string
	// Algs are the algorithms the provider accepts for access tokens,
	// userinfo signing and encryption.
	Algs                         op.ClientAlgs
	PreviousSecretUntil, Created string
}

func (c *Console) renderClientForm(w http.ResponseWriter, r *http.Request, status int, cl *storage.Client, f *clientForm, problem problem) {
	d := &clientFormData{New: cl == nil, Form: f, Client: cl,
		ResponseTypes: responseTypeOptions, GrantTypes: grantTypeOptions, JWTAlgs: jwtAlgOptions,
		AuthMethods: authMethodOpts, SubjectTypes: subjectTypeOptions, Algs: op.SupportedClientAlgs()}
	title, arg := "client-new", ""
	if cl != nil {
		d.ID, d.Created, title, arg = cl.ID, dateText(cl.CreatedAt), "client", cl.Name
		if len(cl.PreviousSecretHash) > 0 && cl.PreviousSecretExpiresAt.After(c.now()) {
			d.PreviousSecretUntil = dateText(cl.PreviousSecretExpiresAt)
		}
	}
	c.render(w, r, status, "client_form.html", &view{Title: title, TitleArg: arg, Section: "clients", Error: problem, Data: d}, nil)
}

// clientNew shows the form of a new client.
func (c *Console) clientNew(w http.ResponseWriter, r *http.Request) {
	c.renderClientForm(w, r, http.StatusOK, nil, newClientForm(), problem{})
}

// clientCreate registers a client and shows its secret, once.
func (c *Console) clientCreate(w http.ResponseWriter, r *http.Request) {
	f := parseClientForm(r)
	res, err := c.svc.CreateClient(r.Context(), c.actorFor(r), f.client(), nil)
	if errors.Is(err, manage.ErrInvalid) {
		c.renderClientForm(w, r, http.StatusBadRequest, nil, f, refused("client-not-created", err))
		return
	} else if err != nil {
		c.serverError(w, r, "console: create client", err)
		return
	}
	c.renderSecret(w, r, res, "client-created")
}

// secretData is the data of client_secret.html.
type secretData struct {
	ID, Name, Secret    string
	Warnings            []string
	PreviousSecretUntil string
}

// renderSecret shows a client after a change that made a secret: the only
// time the secret can be read.
func (c *Console) renderSecret(w http.ResponseWriter, r *http.Request, res *manage.ClientResult, title string) {
	d := &secretData{ID: res.Client.ID, Name: res.Client.Name, Secret: res.Secret, Warnings: res.Warnings}
	if len(res.Client.PreviousSecretHash) > 0 && !res.Client.PreviousSecretExpiresAt.IsZero() {
		d.PreviousSecretUntil = dateText(res.Client.PreviousSecretExpiresAt)
	}
	c.render(w, r, http.StatusOK, "client_secret.html", &view{Title: title, Section: "clients", Data: d}, nil)
}

// client shows the form of an existing client with its actions.
func (c *Console) client(w http.ResponseWriter, r *http.Request) {
	cl, ok := c.findClient(w, r)
	if !ok {
		return
	}
	c.renderClientForm(w, r, http.StatusOK, cl, formOf(cl), problem{})
}

// clientSave stores the form's properties; a redirect URI added here is
// accepted at once by this node and by every node within the client cache
// lifetime.
func (c *Console) clientSave(w http.ResponseWriter, r *http.Request) {
	cl, ok := c.findClient(w, r)
	if !ok {
		return
	}
	f := parseClientForm(r)
	res, err := c.svc.UpdateClient(r.Context(), c.actorFor(r), cl.ID, manage.ClientUpdate{Edit: func(sc *storage.Client) error {
		f.apply(sc)
		return nil
	}})
	switch {
	case errors.Is(err, manage.ErrInvalid), errors.Is(err, manage.ErrRefused):
		f.HasLogo = len(cl.LogoImage) > 0
		c.renderClientForm(w, r, http.StatusBadRequest, cl, f, refused("client-not-saved", err))
		return
	case errors.Is(err, storage.ErrNotFound):
		c.notFound(w, r)
		return
	case err != nil:
		c.serverError(w, r, "console: update client", err)
		return
	}
	if res.Secret != "" || len(res.Warnings) > 0 {
		c.renderSecret(w, r, res, "client-saved")
		return
	}
	c.redirect(w, r, "/admin/clients/"+url.PathEscape(cl.ID), "client-saved")
}

// clientRotateSecret gives the client a new secret; the old one keeps
// working for the overlap chosen.
func (c *Console) clientRotateSecret(w http.ResponseWriter, r *http.Request) {
	cl, ok := c.findClient(w, r)
	if !ok {
		return
	}
	overlap, err := time.ParseDuration(r.PostForm.Get("overlap"))
	if err != nil || overlap < 0 || overlap > 30*24*time.Hour {
		c.renderClientForm(w, r, http.StatusBadRequest, cl, formOf(cl), problem{Key: "overlap-missing"})
		return
	}
	res, err := c.svc.RotateClientSecret(r.Context(), c.actorFor(r), cl.ID, overlap)
	switch {
	case errors.Is(err, manage.ErrInvalid), errors.Is(err, manage.ErrRefused):
		c.renderClientForm(w, r, http.StatusBadRequest, cl, formOf(cl), refused("secret-not-rotated", err))
		return
	case err != nil:
		c.serverError(w, r, "console: rotate client secret", err)
		return
	}
	c.renderSecret(w, r, res, "client-secret")
}

// clientRevokeTokens ends every token issued to the client so far (oidcd
// clients revoke-tokens); the client stays.
func (c *Console) clientRevokeTokens(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch err := c.svc.RevokeClientTokens(r.Context(), c.actorFor(r), id); {
	case errors.Is(err, storage.ErrNotFound):
		c.notFound(w, r)
	case err != nil:
		c.serverError(w, r, "console: revoke client tokens", err)
	default:
		c.redirect(w, r, "/admin/clients/"+url.PathEscape(id), "client-tokens-revoked")
	}
}

// deleteData is the data of the deletion confirmations.
type deleteData struct {
	// Kind is "client", "key" or "user": the template says what goes
	// with each.
	Kind, ID, Name, Action, Back      string
	Grants, Users, Consents, Sessions int
}

// clientDeleteConfirm says what deleting the client takes with it.
func (c *Console) clientDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	cl, ok := c.findClient(w, r)
	if !ok {
		return
	}
	u, err := c.svc.ClientUsage(r.Context(), cl.ID)
	if err != nil {
		c.serverError(w, r, "console: client usage", err)
		return
	}
	path := c.prefix + "/admin/clients/" + url.PathEscape(cl.ID)
	d := &deleteData{Kind: "client", ID: cl.ID, Name: cl.Name, Action: path + "/delete", Back: path,
		Grants: u.Grants, Users: u.Users, Consents: u.Consents, Sessions: u.Sessions}
	c.render(w, r, http.StatusOK, "confirm_delete.html", &view{Title: "client-delete", TitleArg: cl.Name, Section: "clients", Data: d}, nil)
}

// clientDelete deletes the client with everything it holds.
func (c *Console) clientDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch _, err := c.svc.DeleteClient(r.Context(), c.actorFor(r), id); {
	case errors.Is(err, storage.ErrNotFound):
		c.notFound(w, r)
	case err != nil:
		c.serverError(w, r, "console: delete client", err)
	default:
		c.redirect(w, r, "/admin/clients", "client-deleted")
	}
}

// findClient reads the client of the path's {id}, answering 404 itself.
func (c *Console) findClient(w http.ResponseWriter, r *http.Request) (*storage.Client, bool) {
	cl, err := c.svc.Client(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		c.notFound(w, r)
		return nil, false
	case err != nil:
		c.serverError(w, r, "console: read client", err)
		return nil, false
	}
	return cl, true
}
