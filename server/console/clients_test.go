package console

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
)

// adminBrowser is a browser signed in as a new admin "root".
func (e *env) adminBrowser(t *testing.T) *http.Client {
	t.Helper()
	e.addUser(t, "root", "root-password", true)
	c := e.browser(t)
	e.login(t, c, "root", "root-password")
	return c
}

var (
	clientIDRE = regexp.MustCompile(`<dt>Client ID</dt><dd><code>([^<]+)</code>`)
	secretRE   = regexp.MustCompile(`id="client_secret">([^<]+)<`)
)

// clientForm is a complete client form as the browser posts it.
func clientFormValues(name string, redirects ...string) url.Values {
	return url.Values{
		"client_name": {name}, "type": {"confidential"}, "response_types": {"code"},
		"redirect_uris": {strings.Join(redirects, "\r\n")}, "scope": {"openid profile email"},
		"id_token_signed_response_alg": {"RS256"}, "require_consent": {"1"}, "reuse_consent": {"1"},
		"client_uri": {"https://shop.example"}, "contacts": {"ops@shop.example"},
		"grant_types":               {"authorization_code", "refresh_token", "client_credentials"},
		"post_logout_redirect_uris": {"http://127.0.0.1:9/bye"},
	}
}

func (e *env) auditActions(t *testing.T, target string) []string {
	t.Helper()
	recs, err := e.svc.Audit(t.Context(), storage.AuditQuery{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Actor != "root" || r.ActorID == "" || r.IP != "127.0.0.1" {
			t.Errorf("audit record %+v: not root from 127.0.0.1", r)
		}
		out = append(out, r.Action)
	}
	return out
}

// An admin registers a client, finds it, edits it (a new redirect URI works
// at once; a bad one is refused with the reason and changes nothing),
// rotates its secret with an overlap and deletes it after a confirmation
// that says what goes with it. Each change is in the audit log.
func TestAdminClientLifecycle(t *testing.T) { testAdminClientLifecycle(t, newEnv(t, nil)) }

// TestAdminClientLifecyclePostgres is the same on PostgreSQL.
func TestAdminClientLifecyclePostgres(t *testing.T) {
	testAdminClientLifecycle(t, newEnvPostgres(t, nil))
}

func testAdminClientLifecycle(t *testing.T, e *env) {
	c := e.adminBrowser(t)
	e.addUser(t, "alice", "alice-password", false)
	ac := e.browser(t)
	e.login(t, ac, "alice", "alice-password")

	r := e.get(t, c, "/admin/clients/new")
	wantStatus(t, "new client form", r, http.StatusOK)
	for _, want := range []string{`name="require_consent" value="1" checked`, `name="reuse_consent" value="1" checked`, `<label for="client_name">`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("new client form lacks %s", want)
		}
	}
	r = e.post(t, c, "/admin/clients/new", "/admin/clients/new", clientFormValues("Shop <1>", "http://127.0.0.1:9/cb"))
	wantStatus(t, "create client", r, http.StatusOK)
	idm, sm := clientIDRE.FindStringSubmatch(r.body), secretRE.FindStringSubmatch(r.body)
	if idm == nil || sm == nil || !strings.Contains(r.body, "shown only once") {
		t.Fatalf("the created client's page shows no id or secret:\n%s", r.body)
	}
	id, secret := idm[1], sm[1]
	e.clock.Add(time.Second) // audit records in order
	cl, err := e.store.Client(t.Context(), id)
	if err != nil || cl.Name != "Shop <1>" || !cl.RequireConsent || !cl.ReuseConsent || cl.Website != "https://shop.example" ||
		len(cl.PostLogoutRedirectURIs) != 1 || strings.Join(cl.Scope, " ") != "openid profile email" {
		t.Fatalf("stored client %+v %v", cl, err)
	}

	r = e.get(t, c, "/admin/clients?q=SHOP")
	if !strings.Contains(r.body, "Shop &lt;1&gt;") || !strings.Contains(r.body, id) {
		t.Errorf("search does not find the client:\n%s", r.body)
	}
	if r = e.get(t, c, "/admin/clients/?q=nothing-like-it"); strings.Contains(r.body, id) {
		t.Error("search finds the client for another word")
	}

	// The relying party signs alice in.
	p := e.newRP(t, id, secret, "http://127.0.0.1:9/cb")
	tok := e.signIn(t, ac, p)

	// A bad redirect URI: refused with the reason, nothing stored.
	bad := clientFormValues("Shop <1>", "http://127.0.0.1:9/cb", "https://shop.example/cb#frag")
	r = e.post(t, c, "/admin/clients/"+id, "/admin/clients/"+id, bad)
	wantStatus(t, "bad redirect URI", r, http.StatusBadRequest)
	if !strings.Contains(r.body, "not saved") || !strings.Contains(r.body, "fragment") {
		t.Errorf("the refusal does not say why:\n%s", r.body)
	}
	if got, _ := e.store.Client(t.Context(), id); len(got.RedirectURIs) != 1 {
		t.Fatalf("a refused edit changed the client: %v", got.RedirectURIs)
	}

	// A new redirect URI works at once.
	p2 := e.newRP(t, id, secret, "http://127.0.0.1:9/cb2")
	if _, err := e.trySignIn(t, ac, p2); err == nil {
		t.Fatal("an unregistered redirect URI was accepted")
	}
	r = e.post(t, c, "/admin/clients/"+id, "/admin/clients/"+id, clientFormValues("Shop <1>", "http://127.0.0.1:9/cb", "http://127.0.0.1:9/cb2"))
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/clients/"+id+"?done=client-saved" {
		t.Fatalf("save: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	e.signIn(t, ac, p2)
	e.clock.Add(time.Second) // audit records in order
	if r = e.get(t, c, "/admin/clients/"+id+"?done=client-saved"); !strings.Contains(r.body, "Client saved.") || !strings.Contains(r.body, "http://127.0.0.1:9/cb2") {
		t.Errorf("the client page after saving:\n%s", r.body)
	}

	// Rotate with an hour of overlap: both secrets work, then only the new.
	cc := func(sec string) error {
		_, err := (&clientcredentials.Config{ClientID: id, ClientSecret: sec, TokenURL: e.ts.URL + "/token"}).Token(p.ctx)
		return err
	}
	r = e.post(t, c, "/admin/clients/"+id, "/admin/clients/"+id+"/rotate-secret", url.Values{"overlap": {"1h"}})
	wantStatus(t, "rotate", r, http.StatusOK)
	sm = secretRE.FindStringSubmatch(r.body)
	if sm == nil || sm[1] == secret || !strings.Contains(r.body, "previous secret keeps working until") {
		t.Fatalf("rotation page:\n%s", r.body)
	}
	newSecret := sm[1]
	if err := cc(secret); err != nil {
		t.Fatalf("the old secret during the overlap: %v", err)
	}
	if err := cc(newSecret); err != nil {
		t.Fatalf("the new secret: %v", err)
	}
	e.clock.Add(61 * time.Minute)
	e.login(t, c, "root", "root-password") // a fresh admin window after the hour
	var re *oauth2.RetrieveError
	if err := cc(secret); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("the old secret after the overlap: %v", err)
	}
	if err := cc(newSecret); err != nil {
		t.Fatalf("the new secret after the overlap: %v", err)
	}
	r = e.post(t, c, "/admin/clients/"+id, "/admin/clients/"+id+"/rotate-secret", url.Values{"overlap": {"forever"}})
	wantStatus(t, "rotate with a bad overlap", r, http.StatusBadRequest)

	// Revoke every token: the client's tokens end, the client stays, and a
	// new sign-in works.
	p3 := e.newRP(t, id, newSecret, "http://127.0.0.1:9/cb")
	tok3 := e.signIn(t, ac, p3)
	e.clock.Add(time.Second) // audit records in order
	r = e.post(t, c, "/admin/clients/"+id, "/admin/clients/"+id+"/revoke-tokens", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/clients/"+id+"?done=client-tokens-revoked" {
		t.Fatalf("revoke tokens: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if r = e.get(t, c, "/admin/clients/"+id+"?done=client-tokens-revoked"); !strings.Contains(r.body, "Every token issued to the client until now was revoked.") {
		t.Errorf("the client page after revoking its tokens:\n%s", r.body)
	}
	if _, err := p3.refresh(tok3); err == nil {
		t.Fatal("a refresh token works after its client's tokens were revoked")
	}
	if _, err := p3.refresh(e.signIn(t, ac, p3)); err != nil {
		t.Fatalf("a token issued after the revocation: %v", err)
	}
	e.clock.Add(time.Second)

	// Delete: the confirmation says what goes; then it is gone, with its grants.
	r = e.get(t, c, "/admin/clients/"+id+"/delete")
	wantStatus(t, "delete confirmation", r, http.StatusOK)
	for _, want := range []string{"(users holding them: 1)", "its remembered consents: 1", "cannot be undone", `action="/admin/clients/` + id + `/delete"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("delete confirmation lacks %q:\n%s", want, r.body)
		}
	}
	r = e.post(t, c, "/admin/clients/"+id+"/delete", "/admin/clients/"+id+"/delete", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/clients?done=client-deleted" {
		t.Fatalf("delete: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if _, err := e.store.Client(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("client after delete: %v", err)
	}
	if _, err := p.refresh(tok); err == nil {
		t.Fatal("the refresh token works after the client was deleted")
	}
	wantStatus(t, "the deleted client's page", e.get(t, c, "/admin/clients/"+id), http.StatusNotFound)

	got := strings.Join(e.auditActions(t, "client:"+id), " ")
	want := strings.Join([]string{manage.ActionClientDeleted, manage.ActionClientTokensRevoked, manage.ActionClientSecretRotated,
		manage.ActionClientUpdated, manage.ActionClientCreated}, " ")
	if got != want {
		t.Errorf("audit actions %q, want %q", got, want)
	}
}

// A logo uploaded in the client form (multipart) is served by oidcd; the
// form can remove it again.
func TestAdminClientLogoUpload(t *testing.T) {
	e := newEnv(t, nil)
	c := e.adminBrowser(t)
	cl, _ := e.newClient(t, "Logo App", true)
	var img bytes.Buffer
	png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 4, 4)))

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range formWith(clientFormValues("Logo App", "http://127.0.0.1:9/cb"), "csrf_token", e.token(t, c, "/admin/clients/"+cl.ID)) {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("logo_file", "logo.png")
	fw.Write(img.Bytes())
	mw.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.ts.URL+"/admin/clients/"+cl.ID, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", resp.StatusCode, b)
	}
	r := e.get(t, c, "/logo/"+cl.ID)
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "image/png" || r.body != img.String() {
		t.Fatalf("served logo: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r = e.get(t, c, "/admin/clients/"+cl.ID); !strings.Contains(r.body, `<img src="/logo/`+cl.ID+`"`) {
		t.Errorf("the client page does not show the logo")
	}
	r = e.post(t, c, "/admin/clients/"+cl.ID, "/admin/clients/"+cl.ID, formWith(clientFormValues("Logo App", "http://127.0.0.1:9/cb"), "remove_logo", "1"))
	wantStatus(t, "remove logo", r, http.StatusSeeOther)
	if got, _ := e.store.Client(t.Context(), cl.ID); len(got.LogoImage) != 0 {
		t.Error("the logo was not removed")
	}
}

// formWith is f with one more field.
func formWith(f url.Values, k, v string) url.Values {
	f.Set(k, v)
	return f
}

// The client form covers every property: what it posts is stored, and the
// edit form shows it back.
func TestAdminClientEveryProperty(t *testing.T) {
	e := newEnv(t, nil)
	c := e.adminBrowser(t)
	f := clientFormValues("Full", "https://rp.example/cb")
	for k, v := range map[string]string{
		"tos_uri": "https://rp.example/tos", "logo_uri": "", "frontchannel_logout_uri": "https://rp.example/fc",
		"frontchannel_logout_session_required": "1", "backchannel_logout_uri": "https://rp.example/bc",
		"backchannel_logout_session_required": "1", "token_endpoint_auth_method": "client_secret_post",
		"subject_type": "pairwise", "require_pushed_authorization_requests": "1", "dpop_bound_access_tokens": "1",
		"request_uris": "https://rp.example/req", "software_id": "sw-1",
		"software_version": "2.0", "id_token_signed_response_alg": "ES256",
		"resources": "https://api.example/\r\n\r\nhttps://mcp.example/mcp", "access_token_signed_response_alg": "ES256",
		"jwks":                            `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`,
		"id_token_encrypted_response_alg": "ECDH-ES", "userinfo_signed_response_alg": "ES256",
		"userinfo_encrypted_response_alg": "ECDH-ES+A256KW", "userinfo_encrypted_response_enc": "A256GCM",
	} {
		f.Set(k, v)
	}
	r := e.post(t, c, "/admin/clients/new", "/admin/clients/new", f)
	wantStatus(t, "create", r, http.StatusOK)
	id := clientIDRE.FindStringSubmatch(r.body)[1]
	cl, err := e.store.Client(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"tos":                 cl.TermsURL == "https://rp.example/tos",
		"fc":                  cl.FrontchannelLogoutURI == "https://rp.example/fc" && cl.FrontchannelLogoutSessionRequired,
		"bc":                  cl.BackchannelLogoutURI == "https://rp.example/bc" && cl.BackchannelLogoutSessionRequired,
		"auth":                cl.TokenEndpointAuthMethod == "client_secret_post",
		"pairwise":            cl.SubjectType == "pairwise",
		"par":                 cl.RequirePushedAuthorizationRequests,
		"dpop":                cl.DPoPBoundAccessTokens,
		"req uris":            len(cl.RequestURIs) == 1,
		"software":            cl.SoftwareID == "sw-1" && cl.SoftwareVersion == "2.0",
		"jwt_alg":             cl.JWTAlg == "ES256",
		"contact":             cl.ContactEmail == "ops@shop.example",
		"grants":              len(cl.GrantTypes) == 3,
		"resources":           strings.Join(cl.Resources, " ") == "https://api.example/ https://mcp.example/mcp",
		"jwt access tokens":   cl.AccessTokenSignedResponseAlg == "ES256",
		"id token encryption": cl.IDTokenEncryptedResponseAlg == "ECDH-ES" && cl.IDTokenEncryptedResponseEnc == "A128CBC-HS256",
		"userinfo": cl.UserinfoSignedResponseAlg == "ES256" && cl.UserinfoEncryptedResponseAlg == "ECDH-ES+A256KW" &&
			cl.UserinfoEncryptedResponseEnc == "A256GCM",
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s not stored: %+v", name, cl)
		}
	}
	r = e.get(t, c, "/admin/clients/"+id)
	for _, want := range []string{`value="https://rp.example/fc"`, `name="dpop_bound_access_tokens" value="1" checked`,
		`<option value="pairwise" selected>`, `<option value="client_secret_post" selected>`, `<option value="ES256" selected>`,
		`name="grant_types" value="client_credentials" aria-describedby="grant_types_hint" checked`,
		"https://api.example/\nhttps://mcp.example/mcp</textarea>", `<option value="ES256" selected>JWT (RFC 9068) signed with ES256</option>`,
		`<option value="ECDH-ES" selected>`, `<option value="ECDH-ES&#43;A256KW" selected>`, `<option value="A256GCM" selected>`,
		`<option value="A128CBC-HS256" selected>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("edit form lacks %s", want)
		}
	}
	// Saving the form unchanged changes nothing (and records nothing).
	before := len(e.auditActions(t, "client:"+id))
	form := url.Values{}
	for k, v := range f {
		form[k] = v
	}
	wantStatus(t, "save unchanged", e.post(t, c, "/admin/clients/"+id, "/admin/clients/"+id, form), http.StatusSeeOther)
	if after := len(e.auditActions(t, "client:"+id)); after != before {
		t.Errorf("an unchanged save was recorded: %d records, want %d", after, before)
	}
}

// A redirect URI added in the console on one node is accepted by another
// node within op.Config.ClientCacheTTL (5 s): before, the other node may
// still refuse it from its cache; after, it accepts it.
func TestAdminRedirectURIOnEveryNode(t *testing.T) { testRedirectURIOnEveryNode(t, newEnv(t, nil)) }

// The same with two nodes on one PostgreSQL database.
func TestAdminRedirectURIOnEveryNodePostgres(t *testing.T) {
	testRedirectURIOnEveryNode(t, newEnvPostgres(t, nil))
}

func testRedirectURIOnEveryNode(t *testing.T, a *env) {
	b := a.node(t)
	c := a.adminBrowser(t)
	cl, _ := a.newClient(t, "Shop", false)
	b.addUser(t, "alice", "alice-password", false)
	ub := b.browser(t)
	b.login(t, ub, "alice", "alice-password")
	authorize := func(redirect string) response {
		q := url.Values{"client_id": {cl.ID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {redirect},
			"state": {"s"}, "nonce": {"n"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		return b.get(t, ub, "/authorize?"+q.Encode())
	}
	if r := authorize("http://127.0.0.1:9/cb"); r.StatusCode != http.StatusFound {
		t.Fatalf("node b, the registered redirect URI: %d\n%s", r.StatusCode, r.body)
	}
	wantStatus(t, "node b, an unregistered redirect URI", authorize("http://127.0.0.1:9/new"), http.StatusBadRequest)

	f := clientFormValues("Shop", "http://127.0.0.1:9/cb", "http://127.0.0.1:9/new")
	f.Del("require_consent")
	wantStatus(t, "save on node a", a.post(t, c, "/admin/clients/"+cl.ID, "/admin/clients/"+cl.ID, f), http.StatusSeeOther)
	a.clock.Add(5*time.Second + time.Millisecond)
	r := authorize("http://127.0.0.1:9/new")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "http://127.0.0.1:9/new?") {
		t.Fatalf("node b after the client cache lifetime: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
}
