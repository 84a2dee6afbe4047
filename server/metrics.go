package server

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oidcd/oidcd/internal/buildinfo"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// Metrics are the server's Prometheus metrics (the names are listed in the
// README). The engine knows nothing of Prometheus: it reports op.Events
// through Hooks.Event, which the server counts here.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	events        *prometheus.CounterVec
	tokens        *prometheus.CounterVec
	logins        prometheus.Counter
	loginFailures prometheus.Counter
	lockouts      prometheus.Counter
	consents      *prometheus.CounterVec
	backchannel   *prometheus.CounterVec
	reuse         *prometheus.CounterVec
	queries       prometheus.Histogram
}

// NewMetrics creates the metrics in a registry of their own, with the Go
// runtime and process collectors and oidcd_build_info.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcd_http_requests_total", Help: "HTTP requests by endpoint (route pattern), method and status code.",
	}, []string{"endpoint", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "oidcd_http_request_duration_seconds", Help: "HTTP request latency by endpoint (route pattern).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"endpoint"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcd_events_total", Help: "Security and operational events by their stable name (the log's event field).",
	}, []string{"event"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcd_tokens_issued_total", Help: "Successful token responses by grant type.",
	}, []string{"grant_type"})
	m.logins = prometheus.NewCounter(prometheus.CounterOpts{Name: "oidcd_logins_total", Help: "Successful password logins (login form and password grant)."})
	m.loginFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "oidcd_login_failures_total", Help: "Failed password logins: wrong username or password."})
	m.lockouts = prometheus.NewCounter(prometheus.CounterOpts{Name: "oidcd_login_lockouts_total", Help: "Login attempts refused unchecked by the brute-force lock."})
	m.consents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcd_consents_total", Help: "Answers on the consent page.",
	}, []string{"decision"})
	m.backchannel = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcd_backchannel_deliveries_total", Help: "Back-channel logout token deliveries by result.",
	}, []string{"result"})
	m.reuse = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcd_token_reuse_detected_total", Help: "Replayed authorization codes and reused refresh tokens (the grant is revoked).",
	}, []string{"artifact"})
	m.queries = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "oidcd_db_query_duration_seconds", Help: "Database statement latency.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.events, m.tokens, m.logins, m.loginFailures,
		m.lockouts, m.consents, m.backchannel, m.reuse, m.queries} {
		f(c)
	}
	// Series that exist from the start, so that rate() and alerts see 0.
	for _, d := range []string{"accepted", "declined"} {
		m.consents.WithLabelValues(d)
	}
	for _, r := range []string{"delivered", "failed"} {
		m.backchannel.WithLabelValues(r)
	}
	for _, a := range []string{"authorization_code", "refresh_token"} {
		m.reuse.WithLabelValues(a)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := buildinfo.Read()
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "oidcd_build_info", Help: "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.Commit, "goversion": bi.GoVersion},
	})
	info.Set(1)
	f(info)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// Registry is where further collectors may be registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Event counts one op.Event (install as op.Hooks.Event; the server does).
func (m *Metrics) Event(_ context.Context, e op.Event) {
	m.events.WithLabelValues(string(e.Kind)).Inc()
	switch e.Kind {
	case op.EventTokenIssued:
		m.tokens.WithLabelValues(e.GrantType).Inc()
	case op.EventLoginSucceeded:
		m.logins.Inc()
	case op.EventLoginFailed:
		m.loginFailures.Inc()
	case op.EventLoginLocked:
		m.lockouts.Inc()
	case op.EventConsentAccepted:
		m.consents.WithLabelValues("accepted").Inc()
	case op.EventConsentDeclined:
		m.consents.WithLabelValues("declined").Inc()
	case op.EventBackchannelDelivered:
		m.backchannel.WithLabelValues("delivered").Inc()
	case op.EventBackchannelFailed:
		m.backchannel.WithLabelValues("failed").Inc()
	case op.EventTokenReuse:
		m.reuse.WithLabelValues(e.Reason).Inc()
	}
}

// ObserveQuery records one database statement's duration.
func (m *Metrics) ObserveQuery(d time.Duration) { m.queries.Observe(d.Seconds()) }

// RegisterDB adds the connection-pool statistics of db (go_sql_* metrics,
// labelled db_name=name).
func (m *Metrics) RegisterDB(name string, db *sql.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// observeRequest records one request. endpoint is the route pattern that
// matched ("" for none), never the raw path, so that the number of series
// stays bounded whatever clients send.
func (m *Metrics) observeRequest(pattern, method string, status int, d time.Duration) {
	endpoint := endpointOf(pattern)
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch:
	default:
		method = "other"
	}
	m.requests.WithLabelValues(endpoint, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// endpointOf turns a ServeMux pattern ("POST /token/{$}") into a label
// ("/token").
func endpointOf(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if _, p, ok := strings.Cut(pattern, " "); ok {
		pattern = p
	}
	pattern = strings.TrimSuffix(pattern, "{$}")
	if len(pattern) > 1 {
		pattern = strings.TrimSuffix(pattern, "/")
	}
	return pattern
}

// keyAges reports the age of every signing key at scrape time.
type keyAges struct {
	store storage.Keys
	now   func() time.Time
	desc  *prometheus.Desc
}

func newKeyAges(store storage.Keys, now func() time.Time) *keyAges {
	return &keyAges{store: store, now: now, desc: prometheus.NewDesc("oidcd_signing_key_age_seconds",
		"Age of each signing key (state active or retired; retired keys stay published until their tokens expire).",
		[]string{"kid", "alg", "state"}, nil)}
}

func (k *keyAges) Describe(ch chan<- *prometheus.Desc) { ch <- k.desc }

func (k *keyAges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	all, err := k.store.ListKeys(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(k.desc, err)
		return
	}
	now := k.now()
	for _, key := range all {
		state := "active"
		if !key.RetiredAt.IsZero() {
			state = "retired"
		}
		ch <- prometheus.MustNewConstMetric(k.desc, prometheus.GaugeValue, now.Sub(key.CreatedAt).Seconds(), key.ID, key.Alg, state)
	}
}
