package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkDiscoveryHandler is the server's whole handler chain (access
// log, recover, routing, method check) for the precomputed discovery
// document, without the network; BenchmarkFixedJSONHandler is the same body
// from a bare handler. Their difference is what oidcd adds per request.
func BenchmarkDiscoveryHandler(b *testing.B) {
	e := newTestServer(b, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	h := e.srv.Handler()
	req := httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func BenchmarkFixedJSONHandler(b *testing.B) {
	body := make([]byte, 2000)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
