package console

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// maxFormBytes bounds a console form: the largest are a pasted PEM key and
// an uploaded logo (256 KiB).
const maxFormBytes = 1 << 20

// adminCookie holds the time of the browser's last admin request, MACed
// and bound to its login session: the admin idle timeout, the same on every
// node without a database write per page.
const adminCookie = "oidcd_admin"

// actor is who makes a console request.
type actor struct {
	sess *storage.Session
	user *storage.User
}

type actorKey struct{}

func actorOf(r *http.Request) *actor {
	a, _ := r.Context().Value(actorKey{}).(*actor)
	return a
}

// user admits a signed-in user: anyone else is sent to the login page,
// which comes back here. A POST must carry a good CSRF token.
func (c *Console) user(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := c.signedIn(w, r)
		if !ok {
			return
		}
		if !c.checkPost(w, r, a) {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, a)))
	})
}

// admin admits an account with the admin flag whose session is fresh
// enough for the admin pages (AdminSessionExpire since sign-in,
// AdminIdleExpire since the last admin request); a signed-in user without
// the flag gets 403 on every admin route, a stale admin session the login
// page. A POST must carry a good CSRF token.
func (c *Console) admin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := c.signedIn(w, r)
		if !ok {
			return
		}
		if !a.user.Admin {
			c.log.WarnContext(r.Context(), "console: admin page refused to a non-admin", "user", a.user.ID, "path", r.URL.EscapedPath(), "ip", c.srv.ClientIP(r))
			c.forbidden(w, r, a, problem{Key: "admin-only"})
			return
		}
		now := c.now()
		last := a.sess.AuthTime
		if t, ok := c.adminSeen(r, a.sess); ok && t.After(last) {
			last = t
		}
		if now.Sub(a.sess.AuthTime) > c.cfg.AdminSessionExpire || now.Sub(last) > c.cfg.AdminIdleExpire {
			c.log.InfoContext(r.Context(), "console: admin session timed out", "user", a.user.ID)
			c.toLogin(w, r, c.prefix+"/admin/")
			return
		}
		if !c.checkPost(w, r, a) {
			return
		}
		c.setAdminSeen(w, a.sess, now)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, a)))
	})
}

// signedIn returns the request's user, or sends the browser to the login
// page and returns false.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request) (*actor, bool) {
	sess, err := c.srv.Session(r)
	if err != nil {
		c.serverError(w, r, "console: session", err)
		return nil, false
	}
	if sess != nil {
		u, err := c.store.User(r.Context(), sess.UserID)
		switch {
		case err == nil:
			return &actor{sess: sess, user: u}, true
		case !errors.Is(err, storage.ErrNotFound):
			c.serverError(w, r, "console: session user", err)
			return nil, false
		}
		// The account is gone: as good as signed out.
	}
	fallback := c.prefix + "/account"
	if strings.HasPrefix(r.URL.Path, c.prefix+"/admin") {
		fallback = c.prefix + "/admin/"
	}
	c.toLogin(w, r, fallback)
	return nil, false
}

// toLogin sends the browser to the login page, which returns to the page
// asked for (a GET) or to fallback (a form post, which cannot be
// replayed by a redirect).
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request, fallback string) {
	next := r.URL.RequestURI()
	status := http.StatusFound
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		next, status = fallback, http.StatusSeeOther
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, c.srv.LoginURL(next), status)
}

// checkPost parses a form post and checks its CSRF token; it answers 403
// itself and returns false when the token is missing, forged, expired,
// used before or from another session, or when the browser says the post
// comes from another site. Other methods pass.
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request, a *actor) bool {
	if r.Method != http.MethodPost {
		return true
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(maxFormBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		c.badRequest(w, r, a, problem{Key: "bad-form"})
		return false
	}
	// Fetch metadata: a browser marks posts from other sites.
	cross := r.Header.Get("Sec-Fetch-Site") == "cross-site"
	if cross || !c.useCSRF(r.Context(), a.sess, r.PostForm.Get("csrf_token")) {
		c.log.WarnContext(r.Context(), "console: form refused: bad CSRF token", "user", a.user.ID, "path", r.URL.EscapedPath(), "ip", c.srv.ClientIP(r), "cross_site", cross)
		c.forbidden(w, r, a, problem{Key: "csrf"})
		return false
	}
	return true
}

// adminSeen reads the admin idle cookie of sess.
func (c *Console) adminSeen(r *http.Request, sess *storage.Session) (time.Time, bool) {
	ck, err := r.Cookie(adminCookie)
	if err != nil {
		return time.Time{}, false
	}
	ts, raw, mac, ok := parseSeen(ck.Value)
	if !ok || !c.sealer.VerifyMAC(mac, "console admin seen", hex.EncodeToString(sess.Hash), ts) {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw)), 0), true
}

// setAdminSeen records an admin request of sess at now.
func (c *Console) setAdminSeen(w http.ResponseWriter, sess *storage.Session, now time.Time) {
	raw := binary.BigEndian.AppendUint64(nil, uint64(now.Unix()))
	ts := base64.RawURLEncoding.EncodeToString(raw)
	mac := c.sealer.MAC("console admin seen", hex.EncodeToString(sess.Hash), ts)
	http.SetCookie(w, &http.Cookie{
		Name: adminCookie, Value: ts + "." + base64.RawURLEncoding.EncodeToString(mac),
		Path: c.prefix + "/admin", HttpOnly: true, Secure: c.srv.SecureCookies(), SameSite: http.SameSiteLaxMode,
	})
}

// parseSeen splits the admin idle cookie into its time (text and 8 bytes)
// and its MAC; ok is false for anything malformed.
func parseSeen(v string) (ts string, raw, mac []byte, ok bool) {
	ts, macText, found := strings.Cut(v, ".")
	if !found || len(ts) != 11 || len(macText) > 128 {
		return "", nil, nil, false
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(ts)
	mac, err2 := base64.RawURLEncoding.DecodeString(macText)
	if err1 != nil || err2 != nil || len(raw) != 8 || len(mac) == 0 {
		return "", nil, nil, false
	}
	return ts, raw, mac, true
}
