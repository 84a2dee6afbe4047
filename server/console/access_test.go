package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
)

var grantIDRE = regexp.MustCompile(`name="grant_id" value="([^"]+)"`)

// An admin sees a user's and a client's consents, grants and sessions,
// and revokes them one by one or all at once.
func TestAdminConsentsAndSessions(t *testing.T) { testAdminConsentsAndSessions(t, newEnv(t, nil)) }

// TestAdminConsentsAndSessionsPostgres is the same on PostgreSQL.
func TestAdminConsentsAndSessionsPostgres(t *testing.T) {
	testAdminConsentsAndSessions(t, newEnvPostgres(t, nil))
}

func testAdminConsentsAndSessions(t *testing.T, e *env) {
	c := e.adminBrowser(t)
	alice := e.addUser(t, "alice", "alice-password", false)
	cl, secret := e.newClient(t, "Shop", true)
	a1, a2 := e.browser(t), e.browser(t)
	e.login(t, a1, "alice", "alice-password")
	e.login(t, a2, "alice", "alice-password")
	p := e.newRP(t, cl.ID, secret, "http://127.0.0.1:9/cb")
	tok1 := e.signIn(t, a1, p)
	tok2 := e.signIn(t, a2, p)

	wantStatus(t, "consents without a filter", e.get(t, c, "/admin/consents"), http.StatusOK)
	wantStatus(t, "unknown user", e.get(t, c, "/admin/consents?user=nobody"), http.StatusNotFound)
	for _, q := range []string{"?user=alice", "?client=" + cl.ID} {
		r := e.get(t, c, "/admin/consents"+q)
		wantStatus(t, "consents"+q, r, http.StatusOK)
		if !strings.Contains(r.body, "alice") || !strings.Contains(r.body, "Shop") || len(grantIDRE.FindAllString(r.body, -1)) != 2 {
			t.Fatalf("consents%s:\n%s", q, r.body)
		}
	}

	// Revoke one grant: that token stops, the other works.
	r := e.get(t, c, "/admin/consents?user=alice")
	gid := grantIDRE.FindStringSubmatch(r.body)[1]
	r = e.post(t, c, "/admin/consents?user=alice", "/admin/consents/revoke-grant", url.Values{"grant_id": {gid}, "back": {"user=alice"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/consents?user=alice&done=revoked" {
		t.Fatalf("revoke grant: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	ok1, ok2 := 0, 0
	if _, err := p.refresh(tok1); err == nil {
		ok1 = 1
	}
	if _, err := p.refresh(tok2); err == nil {
		ok2 = 1
	}
	if ok1+ok2 != 1 {
		t.Fatalf("after revoking one grant, %d of 2 refresh tokens work", ok1+ok2)
	}

	// Sessions: both of alice's, by user and by client; end one.
	for _, q := range []string{"?user=alice", "?client=" + cl.ID} {
		r = e.get(t, c, "/admin/sessions"+q)
		if n := strings.Count(r.body, `name="session_id"`); n != 2 {
			t.Fatalf("sessions%s lists %d sessions:\n%s", q, n, r.body)
		}
	}
	sessions, err := e.svc.UserSessions(t.Context(), alice.ID)
	if err != nil || len(sessions) != 2 {
		t.Fatalf("sessions: %v %v", sessions, err)
	}
	sess1, _ := e.srv.Session(requestWith(t, e, a1))
	r = e.post(t, c, "/admin/sessions?user=alice", "/admin/sessions/revoke", url.Values{"session_id": {sess1.ID}, "back": {"user=alice"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/sessions?user=alice&done=session-ended" {
		t.Fatalf("end session: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	wantLogin(t, "the ended session", e.get(t, a1, "/account"), "/account")
	wantStatus(t, "the other session", e.get(t, a2, "/account"), http.StatusOK)

	// Revoke the consent: the remaining grant goes with it.
	r = e.post(t, c, "/admin/consents?client="+cl.ID, "/admin/consents/revoke", url.Values{"user_id": {alice.ID}, "client_id": {cl.ID}, "back": {"client=" + cl.ID}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/consents?client="+cl.ID+"&done=consent-gone" {
		t.Fatalf("revoke consent: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	_, err1 := p.refresh(tok1)
	_, err2 := p.refresh(tok2)
	if err1 == nil || err2 == nil {
		t.Fatal("a refresh token works after the consent was revoked")
	}
	if _, err := e.store.Consent(t.Context(), alice.ID, cl.ID, e.clock.Now()); err == nil {
		t.Fatal("the consent is still there")
	}
	// "back" only ever leads to a console page with a user or client filter.
	r = e.post(t, c, "/admin/sessions?user=alice", "/admin/sessions/revoke", url.Values{"session_id": {"gone"}, "back": {"next=https://evil.example"}})
	if r.Header.Get("Location") != "/admin/sessions" {
		t.Fatalf("redirect after a bad back: %q", r.Header.Get("Location"))
	}

	// End every session of the user.
	r = e.post(t, c, "/admin/sessions?user=alice", "/admin/sessions/revoke-user", url.Values{"user_id": {alice.ID}, "back": {"user=alice"}})
	wantStatus(t, "end all sessions", r, http.StatusSeeOther)
	wantLogin(t, "alice's last session", e.get(t, a2, "/account"), "/account")

	want := map[string]bool{manage.ActionGrantRevoked: true, manage.ActionSessionRevoked: true, manage.ActionConsentRevoked: true, manage.ActionUserSessionsEnded: true}
	recs, err := e.svc.Audit(t.Context(), storage.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.Actor == "root" {
			delete(want, rec.Action)
		}
	}
	if len(want) > 0 {
		t.Errorf("not in the audit log: %v", want)
	}
}

// The audit log page shows every change with who, when, from where and
// what, filters by target and action, and pages back in time.
func TestAdminAuditLog(t *testing.T) { testAdminAuditLog(t, newEnv(t, nil)) }

// TestAdminAuditLogPostgres is the same on PostgreSQL.
func TestAdminAuditLogPostgres(t *testing.T) { testAdminAuditLog(t, newEnvPostgres(t, nil)) }

func testAdminAuditLog(t *testing.T, e *env) {
	c := e.adminBrowser(t)
	carol := e.addUser(t, "carol", "carol-password", false)
	page := "/admin/users/" + carol.ID
	for range 51 { // 102 records
		e.clock.Add(time.Second)
		wantStatus(t, "lock", e.post(t, c, page, page+"/lock", url.Values{"locked": {"true"}}), http.StatusSeeOther)
		wantStatus(t, "unlock", e.post(t, c, page, page+"/lock", url.Values{"locked": {"false"}}), http.StatusSeeOther)
	}
	e.svc.CreateClient(t.Context(), manage.CommandLine("ops"), manageSpec("CLI client"), nil)

	r := e.get(t, c, "/admin/audit")
	wantStatus(t, "audit", r, http.StatusOK)
	if n := strings.Count(r.body, `<td data-label="When">`); n != auditPerPage {
		t.Fatalf("first page: %d records", n)
	}
	for _, want := range []string{"cli:ops", "admin.client_created", ">root<", "127.0.0.1", `href="/admin/users/` + carol.ID + `">user:` + carol.ID} {
		if !strings.Contains(r.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	m := regexp.MustCompile(`href="(/admin/audit\?before=[^"]+)" rel="next"`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no link to older records")
	}
	r = e.get(t, c, strings.ReplaceAll(m[1], "&amp;", "&"))
	if n := strings.Count(r.body, `<td data-label="When">`); n != 3 {
		t.Fatalf("second page: %d records, want 3", n)
	}
	r = e.get(t, c, "/admin/audit?action=admin.client_created")
	if n := strings.Count(r.body, `<td data-label="When">`); n != 1 {
		t.Fatalf("filtered by action: %d records", n)
	}
	r = e.get(t, c, "/admin/audit?target=user:"+carol.ID)
	if strings.Contains(r.body, "admin.client_created") || !strings.Contains(r.body, "admin.user_locked") {
		t.Fatal("the target filter does not filter")
	}
}

// With stateless client_credentials tokens, a client's grants list says
// that such tokens are not among them (and how to revoke them); without,
// it says nothing of them.
func TestGrantsListNamesStatelessTokens(t *testing.T) {
	const notice = "not grants and are not listed here"
	for _, stateless := range []bool{false, true} {
		e := newEnv(t, func(c *Config) { c.StatelessClientCredentials = stateless })
		c := e.adminBrowser(t)
		cl, _ := e.newClient(t, "Service", true)
		r := e.get(t, c, "/admin/consents?client="+cl.ID)
		wantStatus(t, "consents of a client", r, http.StatusOK)
		if strings.Contains(r.body, notice) != stateless {
			t.Errorf("stateless %v: the page %s the notice:\n%s", stateless, map[bool]string{true: "lacks", false: "shows"}[stateless], r.body)
		}
	}
}
