package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var metricsRE = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// OIDCD_METRICS_ADDR serves /metrics and /debug/pprof/ on a listener of its
// own; the public listener never exposes them; /healthz and /readyz answer
// there.
func TestServeMetricsListener(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2", "OIDCD_METRICS_ADDR=127.0.0.1:0"})
	m := metricsRE.FindStringSubmatch(s.logs())
	if m == nil {
		t.Fatalf("no metrics listener:\n%s", s.logs())
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/healthz", "/readyz", "/jwks"} {
		if code, body := get(s.url + p); code != http.StatusOK {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	if code, _ := get(s.url + "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d", code)
	}
	// Profiles of the live process: on the metrics listener, never on
	// the public one.
	if code, body := get("http://" + m[1] + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ on the metrics listener: %d", code)
	}
	if code, body := get("http://" + m[1] + "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Errorf("/debug/pprof/heap on the metrics listener: %d", code)
	}
	if code, _ := get(s.url + "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ on the public listener: %d", code)
	}
	code, body := get("http://" + m[1] + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`oidcd_http_requests_total{code="200",endpoint="/jwks",method="GET"} 1`,
		// One from serve's wait for readiness, one above.
		`oidcd_http_requests_total{code="200",endpoint="/readyz",method="GET"} 2`,
		`oidcd_signing_key_age_seconds{alg="RS256"`,
		`go_sql_max_open_connections{db_name="writer"} 1`,
		`oidcd_db_query_duration_seconds_count`,
		`oidcd_build_info{`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, body := get(s.url + "/healthz"); code != http.StatusOK || strings.Contains(body, "version") {
		t.Errorf("/healthz tells the version by default: %s", body)
	}
	s.stop(t)

	s = serve(t, dir, []string{"OIDCD_HEALTHZ_VERSION=true"})
	var h struct {
		Status  string
		Version struct {
			GoVersion string `json:"go_version"`
		}
	}
	getJSON(t, s.url+"/healthz", &h)
	if h.Status != "ok" || !strings.HasPrefix(h.Version.GoVersion, "go") {
		t.Errorf("/healthz with OIDCD_HEALTHZ_VERSION: %+v", h)
	}
}

// Security events are one JSON line each with a stable "event" field (with
// OIDCD_LOG_FORMAT=json), from the server and from the command line.
func TestSecurityEventLog(t *testing.T) {
	dir := t.TempDir()
	env := []string{"OIDCD_LOG_FORMAT=json"}
	events := func(stderr string) []map[string]any {
		var out []map[string]any
		sc := bufio.NewScanner(strings.NewReader(stderr))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("not a JSON line: %q", sc.Text())
			}
			if _, ok := m["event"]; ok {
				out = append(out, m)
			}
		}
		return out
	}
	ok(t, dir, "migrate")
	r := oidcd(t, dir, env, "users", "create", "--username", "alice", "--password", "long enough", "--admin")
	ev := events(r.stderr)
	if r.code != 0 || len(ev) != 1 || ev[0]["event"] != "admin.user_created" || ev[0]["username"] != "alice" || ev[0]["msg"] != "security event" {
		t.Fatalf("users create: %d %v\n%s", r.code, ev, r.stderr)
	}
	if strings.Contains(r.stderr, "long enough") {
		t.Fatal("the password reached the log")
	}
	r = oidcd(t, dir, env, "keys", "rotate", "--alg", "ES256")
	kinds := ""
	for _, e := range events(r.stderr) {
		kinds += e["event"].(string) + " "
	}
	if kinds != "admin.key_rotated " {
		t.Fatalf("keys rotate events: %q\n%s", kinds, r.stderr)
	}

	// The server: the first key created, a failed login.
	dir = t.TempDir()
	s := serve(t, dir, append(env, "OIDCD_ADMIN_PASSWORD=hunter2hunter2"))
	resp, err := http.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.stop(t)
	var found bool
	for _, line := range strings.Split(s.logs(), "\n") {
		if strings.Contains(line, `"event":"key.created"`) {
			found = true
		}
		if strings.Contains(line, `"path":"/login"`) && !strings.Contains(line, `"request_id":"`) {
			t.Errorf("access log line without request_id: %s", line)
		}
	}
	if !found {
		t.Errorf("no key.created event:\n%s", s.logs())
	}
}
