package server

import (
	"bufio"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/oidcd/oidcd/internal/reqid"
)

// statusWriter records what a handler wrote, for the access log and for
// panic recovery.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	// expected marks an error answer that is no fault (a readiness probe
	// during start-up), which the handler has logged itself: the access
	// log puts it at info level whatever its status.
	expected bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps streaming responses working.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

// Hijack is passed through for completeness.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("server: hijack not supported")
}

// accessLog logs one line per request: method, path (never the query
// string, which can hold tokens and codes: SECURITY E7, D11), status, size,
// duration and client IP.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			if m := s.cfg.Metrics; m != nil {
				// r.Pattern: set by the ServeMux on this very request.
				m.observeRequest(r.Pattern, r.Method, status, time.Since(start))
			}
			level := levelFor(status)
			if sw.expected {
				level = slog.LevelInfo
			}
			if !s.log.Enabled(r.Context(), level) {
				return
			}
			s.log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.EscapedPath()),
				slog.Int("status", status),
				slog.Int64("bytes", sw.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("ip", s.clientIP(r)),
			)
		}()
		next.ServeHTTP(sw, r)
	})
}

// requestID gives every request an id: the X-Request-Id of a trusted
// proxy (OIDCD_TRUSTED_PROXIES) when it is well-formed, else a new random
// one. It is sent back in X-Request-Id, shown on error pages and added to
// every log line of the request.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if s.peerTrusted(r) {
			if v := r.Header.Get("X-Request-Id"); reqid.Valid(v) {
				id = v
			}
		}
		if id == "" {
			id = reqid.New()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(reqid.NewContext(r.Context(), id)))
	})
}

// peerTrusted reports whether the TCP peer of r is a trusted proxy.
func (s *Server) peerTrusted(r *http.Request) bool {
	if len(s.cfg.TrustedProxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && s.trusted(ap.Addr().Unmap())
}

// recover turns a panic into a logged 500; the process never crashes.
func (s *Server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving request",
				"method", r.Method, "path", r.URL.EscapedPath(), "panic", v, "stack", string(debug.Stack()))
			if sw.status == 0 {
				h := sw.Header()
				for k := range h {
					delete(h, k)
				}
				h.Set("Content-Type", "text/plain; charset=utf-8")
				h.Set("Cache-Control", "no-store")
				sw.WriteHeader(http.StatusInternalServerError)
				sw.Write([]byte("internal server error\n"))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// clientIP returns the IP of the client making r: the TCP peer, or, when
// the peer is a trusted proxy, the rightmost address of X-Forwarded-For that
// is not itself a trusted proxy (SECURITY G2). Empty if unknown.
func (s *Server) clientIP(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	var ip netip.Addr
	if err == nil {
		ip = peer.Addr().Unmap()
	} else if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		ip = a.Unmap()
	} else {
		return ""
	}
	if !s.trusted(ip) {
		return ip.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			ap, err2 := netip.ParseAddrPort(h)
			if err2 != nil {
				break // garbage: trust nothing further left
			}
			a = ap.Addr()
		}
		ip = a.Unmap()
		if !s.trusted(ip) {
			break
		}
	}
	return ip.String()
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// levelFor logs server errors as errors and everything else as info.
func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
