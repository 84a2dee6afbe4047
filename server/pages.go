package server

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// Pages are pages a host adds to the server, such as the web console
// (package server/console): they mount their own routes, like
// op.Provider.Mount, and use the server's sessions through the exported
// methods below.
type Pages interface {
	// Mount adds the pages' routes to mux under prefix, the issuer's path
	// without a trailing slash ("" at the root).
	Mount(mux *http.ServeMux, prefix string)
}

// AddPages mounts p under the issuer's path, behind the server's request
// id, access log and panic recovery. Call it before the handler serves.
func (s *Server) AddPages(p Pages) { p.Mount(s.mux, s.prefix) }

// Prefix is the issuer's path without a trailing slash ("" at the root):
// where the server's pages live.
func (s *Server) Prefix() string { return s.prefix }

// Session returns the live login session of r's cookie, or nil when the
// browser is not signed in.
func (s *Server) Session(r *http.Request) (*storage.Session, error) { return s.session(r) }

// ClientIP returns the IP of the client making r, honouring
// Config.TrustedProxies (SECURITY G2).
func (s *Server) ClientIP(r *http.Request) string { return s.clientIP(r) }

// SecureCookies reports whether the server's cookies carry Secure.
func (s *Server) SecureCookies() bool { return s.secure }

// LoginURL is the login page that returns to next (a path on this origin)
// once signed in.
func (s *Server) LoginURL(next string) string {
	u := s.prefix + "/login"
	if next = safeNext(next); next != "" {
		u += "?" + url.Values{"next": {next}}.Encode()
	}
	return u
}

// SignIn starts a new login session for userID, as the login form does
// after a good password: a fresh session id and cookie (SECURITY F5), the
// browser's previous session ended. Pages call it after a change that ended
// the user's sessions (a new password) to keep the browser signed in.
func (s *Server) SignIn(w http.ResponseWriter, r *http.Request, userID string) (*storage.Session, error) {
	if old := cookieHash(r); old != nil {
		if err := s.store.DeleteSession(r.Context(), old); err != nil {
			return nil, err
		}
	}
	value, sess, err := s.startSession(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   int(s.cfg.SessionExpire / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	s.provider.SetBrowserState(w, sess.ID) // Session Management 1.0: the state changed
	return sess, nil
}

// SignOut ends the browser's login session as the logout page does: the
// session is deleted, its grants revoked and its relying parties told
// (back-channel logout queued); the cookie is cleared. It returns the
// front-channel logout URIs to load.
func (s *Server) SignOut(w http.ResponseWriter, r *http.Request) ([]string, error) {
	sess, err := s.session(r)
	if err != nil {
		return nil, err
	}
	var front []string
	if sess != nil {
		if front, err = s.endSession(r.Context(), sess, s.clientIP(r)); err != nil {
			return nil, err
		}
	}
	s.clearSessionCookie(w)
	s.provider.SetBrowserState(w, "")
	return front, nil
}

// endSession deletes sess and ends it on the provider's side (its grants
// revoked, its clients told).
func (s *Server) endSession(ctx context.Context, sess *storage.Session, ip string) ([]string, error) {
	if err := s.store.DeleteSession(ctx, sess.Hash); err != nil {
		return nil, err
	}
	out, err := s.provider.EndSession(ctx, op.Logout{UserID: sess.UserID, SessionID: sess.ID})
	if err != nil {
		return nil, err
	}
	s.provider.Emit(ctx, op.Event{Kind: op.EventLogout, UserID: sess.UserID, IP: ip})
	return out.FrontChannelURIs, nil
}
