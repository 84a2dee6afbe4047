package console

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
)

type keyRow struct {
	KID, Alg, Created, State, Activates, Retires, Deletable string
	CanRetire, CanDelete                                    bool
}

type keysData struct {
	Keys []keyRow
	Algs []string
}

// keysPage lists the signing keys with their state and the forms to
// create, import, rotate, retire and delete them.
func (c *Console) keysPage(w http.ResponseWriter, r *http.Request) {
	c.renderKeys(w, r, http.StatusOK, problem{})
}

func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, status int, problem problem) {
	all, err := c.svc.Keys(r.Context())
	if err != nil {
		c.serverError(w, r, "console: list keys", err)
		return
	}
	now := c.now()
	d := &keysData{Algs: keys.ServerAlgs}
	for _, k := range all {
		row := keyRow{KID: k.KID, Alg: k.Alg, Created: dateText(k.CreatedAt), State: k.State,
			CanRetire: k.RetiredAt.IsZero(),
			CanDelete: k.State == keys.StateRetired && !k.DeletableAt.IsZero() && !now.Before(k.DeletableAt)}
		if !k.ActivatesAt.IsZero() && k.State == keys.StateNext {
			row.Activates = dateText(k.ActivatesAt)
		}
		if !k.RetiredAt.IsZero() {
			row.Retires = dateText(k.RetiredAt)
		}
		if !k.DeletableAt.IsZero() {
			row.Deletable = dateText(k.DeletableAt)
		}
		d.Keys = append(d.Keys, row)
	}
	c.render(w, r, status, "keys.html", &view{Title: "keys", Section: "keys", Error: problem, Data: d}, nil)
}

// keyCreate generates a key; keyRotate generates one that replaces the
// active keys of its algorithm once every node and relying party knows it.
func (c *Console) keyCreate(w http.ResponseWriter, r *http.Request) {
	res, err := c.svc.CreateKey(r.Context(), c.actorFor(r), r.PostForm.Get("alg"))
	c.keyDone(w, r, err, res, "key-created")
}

func (c *Console) keyRotate(w http.ResponseWriter, r *http.Request) {
	res, err := c.svc.RotateKey(r.Context(), c.actorFor(r), r.PostForm.Get("alg"))
	c.keyDone(w, r, err, res, "key-created")
}

// keyImport stores a pasted or uploaded PEM private key (PKCS #8, PKCS #1
// as django-oidc-provider's creatersakey writes it, or SEC 1).
func (c *Console) keyImport(w http.ResponseWriter, r *http.Request) {
	pem := strings.TrimSpace(r.PostForm.Get("pem"))
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["pem_file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			if f, err := fhs[0].Open(); err == nil {
				b, _ := io.ReadAll(io.LimitReader(f, maxFormBytes))
				f.Close()
				pem = string(b)
			}
		}
	}
	if pem == "" {
		c.renderKeys(w, r, http.StatusBadRequest, problem{Key: "pem-missing"})
		return
	}
	res, err := c.svc.ImportKey(r.Context(), c.actorFor(r), []byte(pem))
	c.keyDone(w, r, err, res, "key-created")
}

func (c *Console) keyRetire(w http.ResponseWriter, r *http.Request) {
	_, err := c.svc.RetireKey(r.Context(), c.actorFor(r), r.PathValue("kid"))
	c.keyDone(w, r, err, nil, "key-retired")
}

// keyDeleteConfirm asks before a retired key goes.
func (c *Console) keyDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	kid := r.PathValue("kid")
	all, err := c.svc.Keys(r.Context())
	if err != nil {
		c.serverError(w, r, "console: list keys", err)
		return
	}
	for _, k := range all {
		if k.KID != kid {
			continue
		}
		d := &deleteData{Kind: "key", ID: k.KID, Name: k.Alg + " " + k.KID,
			Action: c.prefix + "/admin/keys/" + url.PathEscape(kid) + "/delete", Back: c.prefix + "/admin/keys"}
		c.render(w, r, http.StatusOK, "confirm_delete.html", &view{Title: "key-delete", Section: "keys", Data: d}, nil)
		return
	}
	c.notFound(w, r)
}

func (c *Console) keyDelete(w http.ResponseWriter, r *http.Request) {
	err := c.svc.DeleteKey(r.Context(), c.actorFor(r), r.PathValue("kid"))
	c.keyDone(w, r, err, nil, "key-deleted")
}

// keyDone answers a key change: the key list with a notice, or the
// reason it was refused.
func (c *Console) keyDone(w http.ResponseWriter, r *http.Request, err error, res *manage.KeyResult, done string) {
	switch {
	case errors.Is(err, manage.ErrInvalid), errors.Is(err, manage.ErrRefused):
		c.renderKeys(w, r, http.StatusBadRequest, refused("refused", err))
	case errors.Is(err, storage.ErrNotFound):
		c.notFound(w, r)
	case err != nil:
		c.serverError(w, r, "console: key change", err)
	default:
		c.redirect(w, r, "/admin/keys", done)
	}
}
