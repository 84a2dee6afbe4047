package op_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// Resource indicators (RFC 8707) over real HTTP.

const (
	resOrders = "https://api.example/orders"
	resMCP    = "https://mcp.example/mcp"
)

// resourceEnv declares two resources for every client; "web" is a
// confidential code client, "narrow" may ask only for resOrders, "rs" is
// the resource server of resOrders (it introspects).
type resourceEnv struct {
	*testEnv
	web, webSecret, narrow, narrowSecret, rs, rsSecret string
}

func newResourceEnv(t *testing.T, mutate func(*op.Config)) *resourceEnv {
	env := newTestEnv(t, func(c *op.Config) {
		c.Resources = []op.Resource{{URI: resOrders}, {URI: resMCP}}
		if mutate != nil {
			mutate(c)
		}
	})
	e := &resourceEnv{testEnv: env}
	e.web, e.webSecret = env.client(storage.Client{Name: "Web", Scope: []string{"openid", "profile", "offline_access", "orders:read"},
		ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}}})
	e.narrow, e.narrowSecret = env.client(storage.Client{Name: "Narrow", Scope: []string{"openid", "offline_access", "orders:read"},
		ClientMetadata: storage.ClientMetadata{Resources: []string{resOrders}, GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}}})
	e.rs, e.rsSecret = env.client(storage.Client{Name: "Orders API", Scope: []string{"token_introspection", resOrders}})
	return e
}

// authURL is an authorization request of client id with extra parameters
// (resource may repeat).
func (e *resourceEnv) authURL(id string, extra url.Values) string {
	q := url.Values{"client_id": {id}, "redirect_uri": {rpCallback}, "response_type": {"code"},
		"scope": {"openid offline_access"}, "state": {"st"}}
	for k, v := range extra {
		q[k] = v
	}
	return e.srv.URL + op.PathAuthorize + "?" + q.Encode()
}

// code runs the browser through an authorization request and returns
// the code.
func (e *resourceEnv) code(id string, extra url.Values) string {
	e.t.Helper()
	got := e.browser().authorize(e.authURL(id, extra))
	if got.Get("code") == "" {
		e.t.Fatalf("no code: %v", got)
	}
	return got.Get("code")
}

func (e *resourceEnv) redeem(id, secret, code string, extra url.Values) (int, map[string]any) {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}}
	for k, v := range extra {
		form[k] = v
	}
	st, body, _ := e.formRequest(op.PathToken, id, secret, form)
	return st, body
}

// audience is the aud that the resource server's introspection shows for
// token (nil when it may not see it).
func (e *resourceEnv) audience(token string) []string {
	e.t.Helper()
	_, body, _ := e.formRequest(op.PathIntrospect, e.rs, e.rsSecret, url.Values{"token": {token}})
	if body["active"] != true {
		return nil
	}
	var out []string
	switch a := body["aud"].(type) {
	case string:
		out = []string{a}
	case []any:
		for _, v := range a {
			out = append(out, v.(string))
		}
	}
	return out
}

// TestResourceRefusals: negative cases first. A resource that is not an
// absolute URI, has a fragment, is declared nowhere or not for this
// client, is invalid_target at every endpoint, and nothing is issued.
func TestResourceRefusals(t *testing.T) {
	e := newResourceEnv(t, nil)
	bad := []struct {
		name, client, resource string
	}{
		{"undeclared resource", "web", "https://evil.example/api"},
		{"fragment", "web", resOrders + "#frag"},
		{"relative URI", "web", "/orders"},
		{"scheme only", "web", "https:"},
		{"not in the client's own list", "narrow", resMCP},
	}
	ids := map[string][2]string{"web": {e.web, e.webSecret}, "narrow": {e.narrow, e.narrowSecret}}
	for _, tc := range bad {
		id, secret := ids[tc.client][0], ids[tc.client][1]
		t.Run("authorize/"+tc.name, func(t *testing.T) {
			pg := e.browser().get(e.authURL(id, url.Values{"resource": {resOrders, tc.resource}}))
			got := callback(t, pg)
			if got.Get("error") != "invalid_target" || got.Get("state") != "st" || got.Get("code") != "" {
				t.Errorf("got %v, want invalid_target", got)
			}
		})
		t.Run("par/"+tc.name, func(t *testing.T) {
			st, body, _ := e.formRequest(op.PathPAR, id, secret, url.Values{"response_type": {"code"},
				"redirect_uri": {rpCallback}, "scope": {"openid"}, "resource": {tc.resource}})
			if st != 400 || body["error"] != "invalid_target" {
				t.Errorf("got %d %v", st, body)
			}
		})
		t.Run("client_credentials/"+tc.name, func(t *testing.T) {
			st, body, _ := e.formRequest(op.PathToken, id, secret, url.Values{"grant_type": {"client_credentials"},
				"scope": {"orders:read"}, "resource": {tc.resource}})
			if st != 400 || body["error"] != "invalid_target" || body["access_token"] != nil {
				t.Errorf("got %d %v", st, body)
			}
		})
		t.Run("code/"+tc.name, func(t *testing.T) {
			// A request the code's client gets wrong does not burn the code.
			code := e.code(id, nil)
			if st, body := e.redeem(id, secret, code, url.Values{"resource": {tc.resource}}); st != 400 || body["error"] != "invalid_target" {
				t.Errorf("got %d %v", st, body)
			}
			if st, body := e.redeem(id, secret, code, nil); st != 200 {
				t.Errorf("the code after a refused resource: %d %v", st, body)
			}
		})
	}
	t.Run("too many resources", func(t *testing.T) {
		var many []string
		for i := range op.MaxResources + 1 {
			many = append(many, fmt.Sprintf("https://api%d.example/", i))
		}
		st, body, _ := e.formRequest(op.PathToken, e.web, e.webSecret, url.Values{"grant_type": {"client_credentials"}, "resource": many})
		if st != 400 || body["error"] != "invalid_target" {
			t.Errorf("got %d %v", st, body)
		}
	})
	t.Run("no resources declared", func(t *testing.T) {
		// The default: without declared resources or a client list, every
		// resource is refused.
		plain := newTestEnv(t, nil)
		id, secret := plain.client(storage.Client{Scope: []string{"orders:read"}})
		st, body, _ := plain.formRequest(op.PathToken, id, secret, url.Values{"grant_type": {"client_credentials"}, "resource": {resOrders}})
		if st != 400 || body["error"] != "invalid_target" {
			t.Errorf("got %d %v", st, body)
		}
	})
}

// TestResourceNoWidening: a code authorized for one resource is redeemed
// only for it, and refresh narrows but never widens (RFC 8707 §2.2).
func TestResourceNoWidening(t *testing.T) {
	e := newResourceEnv(t, nil)
	code := e.code(e.web, url.Values{"resource": {resOrders}})
	if st, body := e.redeem(e.web, e.webSecret, code, url.Values{"resource": {resMCP}}); st != 400 || body["error"] != "invalid_target" {
		t.Fatalf("code widened to another resource: %d %v", st, body)
	}
	st, body := e.redeem(e.web, e.webSecret, code, nil)
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, body)
	}
	if aud := e.audience(body["access_token"].(string)); !slices.Equal(aud, []string{resOrders}) {
		t.Errorf("aud %v", aud)
	}
	refresh := body["refresh_token"].(string)
	st, body, _ = e.formRequest(op.PathToken, e.web, e.webSecret, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {refresh}, "resource": {resOrders, resMCP}})
	if st != 400 || body["error"] != "invalid_target" {
		t.Fatalf("refresh widened: %d %v", st, body)
	}
	// The refused request did not rotate the token.
	st, body, _ = e.formRequest(op.PathToken, e.web, e.webSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, body)
	}
	if aud := e.audience(body["access_token"].(string)); !slices.Equal(aud, []string{resOrders}) {
		t.Errorf("refreshed aud %v", aud)
	}
}

// TestResourceCodeFlow: several resources at /authorize, shown on the
// consent page; the token is for all of them, introspection by their
// resource server shows them as aud, and refresh narrows to one.
func TestResourceCodeFlow(t *testing.T) {
	e := newResourceEnv(t, nil)
	id, secret := e.client(storage.Client{Name: "Consenting", RequireConsent: true,
		Scope: []string{"openid", "offline_access"}})
	b := e.browser()
	pg := b.get(e.authURL(id, url.Values{"resource": {resOrders, resMCP, resOrders}}))
	for _, r := range []string{resOrders, resMCP} {
		if !strings.Contains(pg.body, "<code>"+r+"</code>") {
			t.Errorf("the consent page does not name %s:\n%s", r, pg.body)
		}
	}
	got := callback(t, b.consent(pg, true))
	st, body := e.redeem(id, secret, got.Get("code"), nil)
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, body)
	}
	access := body["access_token"].(string)
	if aud := e.audience(access); !slices.Equal(aud, []string{resOrders, resMCP}) {
		t.Errorf("aud %v, want both resources once each", aud)
	}
	// A resource server whose scope names neither the client nor a
	// resource of the token does not see it.
	other, otherSecret := e.client(storage.Client{Name: "Other API", Scope: []string{"token_introspection", "https://other.example/"}})
	if _, info, _ := e.formRequest(op.PathIntrospect, other, otherSecret, url.Values{"token": {access}}); info["active"] != false {
		t.Errorf("another resource server sees the token: %v", info)
	}
	st, body, _ = e.formRequest(op.PathToken, id, secret, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {body["refresh_token"].(string)}, "resource": {resMCP}})
	if st != 200 {
		t.Fatalf("refresh narrowing: %d %v", st, body)
	}
	// resMCP only: the orders server no longer sees it.
	if aud := e.audience(body["access_token"].(string)); aud != nil {
		t.Errorf("a token for %s is visible to the orders API: %v", resMCP, aud)
	}
	// The grant still holds both: the next refresh may ask for the other.
	st, body, _ = e.formRequest(op.PathToken, id, secret, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {body["refresh_token"].(string)}, "resource": {resOrders}})
	if st != 200 {
		t.Fatalf("refresh for the other resource: %d %v", st, body)
	}
	if aud := e.audience(body["access_token"].(string)); !slices.Equal(aud, []string{resOrders}) {
		t.Errorf("aud %v", aud)
	}
}

// TestResourceAtTokenEndpointOnly: a code requested without resources may
// be redeemed for one the client may ask for (narrowing an unrestricted
// grant); the client's own list is the limit.
func TestResourceAtTokenEndpointOnly(t *testing.T) {
	e := newResourceEnv(t, nil)
	st, body := e.redeem(e.narrow, e.narrowSecret, e.code(e.narrow, nil), url.Values{"resource": {resOrders}})
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, body)
	}
	if aud := e.audience(body["access_token"].(string)); !slices.Equal(aud, []string{resOrders}) {
		t.Errorf("aud %v", aud)
	}
	// Without resources anywhere the token is the client's, as before.
	st, body = e.redeem(e.web, e.webSecret, e.code(e.web, nil), nil)
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, body)
	}
	_, info, _ := e.formRequest(op.PathIntrospect, e.rs, e.rsSecret, url.Values{"token": {body["access_token"].(string)}})
	if info["active"] != false {
		t.Errorf("the orders API sees a token not meant for it: %v", info)
	}
}

// TestResourcePARAndRequestObject: resources pushed to /par and carried
// in a request object (a JSON array) reach the token.
func TestResourcePARAndRequestObject(t *testing.T) {
	e := newResourceEnv(t, nil)
	st, body, _ := e.formRequest(op.PathPAR, e.web, e.webSecret, url.Values{"response_type": {"code"},
		"redirect_uri": {rpCallback}, "scope": {"openid"}, "state": {"p"}, "resource": {resOrders, resMCP}})
	if st != http.StatusCreated {
		t.Fatalf("par: %d %v", st, body)
	}
	got := e.browser().authorize(e.srv.URL + op.PathAuthorize + "?" + url.Values{"client_id": {e.web}, "request_uri": {body["request_uri"].(string)}}.Encode())
	st, body = e.redeem(e.web, e.webSecret, got.Get("code"), nil)
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, body)
	}
	if aud := e.audience(body["access_token"].(string)); !slices.Equal(aud, []string{resOrders, resMCP}) {
		t.Errorf("aud from /par %v", aud)
	}

	none, noneSecret := e.client(storage.Client{ClientMetadata: storage.ClientMetadata{RequestObjectSigningAlg: "none"}})
	for _, tc := range []struct {
		name     string
		resource any
		want     []string
		err      string
	}{
		{"array", []string{resMCP, resOrders}, []string{resMCP, resOrders}, ""},
		{"string", resOrders, []string{resOrders}, ""},
		{"empty array", []string{}, nil, "invalid_request_object"},
		{"array with an undeclared resource", []string{resOrders, "https://evil.example/"}, nil, "invalid_target"},
	} {
		t.Run("request object "+tc.name, func(t *testing.T) {
			obj := unsigned(t, e.objectClaims(none, "resource", tc.resource))
			u := e.srv.URL + op.PathAuthorize + "?" + url.Values{"client_id": {none}, "request": {obj},
				"response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {rpCallback}}.Encode()
			got := e.browser().authorize(u)
			if tc.err != "" {
				if got.Get("error") != tc.err {
					t.Errorf("got %v, want %s", got, tc.err)
				}
				return
			}
			st, body := e.redeem(none, noneSecret, got.Get("code"), nil)
			if st != 200 {
				t.Fatalf("redeem: %d %v", st, body)
			}
			_, info, _ := e.formRequest(op.PathIntrospect, e.rs, e.rsSecret, url.Values{"token": {body["access_token"].(string)}})
			if info["active"] != true || jsonString(info["aud"]) != jsonString(tc.want) {
				t.Errorf("introspection %v, want aud %v", info, tc.want)
			}
		})
	}
}

// TestResourceClientCredentialsAndDevice: the token endpoint's other
// grants take resources too.
func TestResourceClientCredentialsAndDevice(t *testing.T) {
	e := newResourceEnv(t, func(c *op.Config) { c.DeviceFlow = true })
	st, body, _ := e.formRequest(op.PathToken, e.narrow, e.narrowSecret, url.Values{"grant_type": {"client_credentials"},
		"scope": {"orders:read"}, "resource": {resOrders}})
	if st != 200 {
		t.Fatalf("client_credentials: %d %v", st, body)
	}
	if aud := e.audience(body["access_token"].(string)); !slices.Equal(aud, []string{resOrders}) {
		t.Errorf("client_credentials aud %v", aud)
	}

	tv := e.deviceClient()
	st, body, _ = e.formRequest(op.PathDeviceAuthorization, tv, "", url.Values{"scope": {"openid"}, "resource": {"/relative"}})
	if st != 400 || body["error"] != "invalid_target" {
		t.Errorf("device authorization with a relative resource: %d %v", st, body)
	}
	st, body, _ = e.formRequest(op.PathDeviceAuthorization, tv, "", url.Values{"scope": {"openid offline_access"}, "resource": {resOrders, resMCP}})
	if st != 200 {
		t.Fatalf("device authorization: %d %v", st, body)
	}
	deviceCode := body["device_code"].(string)
	// The device consent page names the resources.
	b := e.browser()
	form := b.get(body["verification_uri_complete"].(string))
	m := regexp.MustCompile(`name="user_code" value="([^"]*)"`).FindStringSubmatch(form.body)
	if m == nil {
		t.Fatalf("verification page: %s", form.body)
	}
	consent := b.enterCode(form, html.UnescapeString(m[1]))
	for _, r := range []string{resOrders, resMCP} {
		if !strings.Contains(consent.body, "<code>"+r+"</code>") {
			t.Errorf("the device consent page does not name %s", r)
		}
	}
	if pg := b.deviceConsent(consent, true); pg.status != 200 {
		t.Fatalf("approve: %d", pg.status)
	}
	st, body, _ = e.formRequest(op.PathToken, tv, "", url.Values{"grant_type": {op.GrantTypeDeviceCode},
		"device_code": {deviceCode}, "resource": {"https://evil.example/"}})
	if st != 400 || body["error"] != "invalid_target" {
		t.Errorf("device grant widened: %d %v", st, body)
	}
	e.clock.Add(10 * time.Second)
	st, body, _ = e.formRequest(op.PathToken, tv, "", url.Values{"grant_type": {op.GrantTypeDeviceCode},
		"device_code": {deviceCode}, "resource": {resOrders}})
	if st != 200 {
		t.Fatalf("device grant: %d %v", st, body)
	}
	if aud := e.audience(body["access_token"].(string)); !slices.Equal(aud, []string{resOrders}) {
		t.Errorf("device aud %v", aud)
	}
}

// TestResourceTokenExchangeSeveralTargets: RFC 8693 §2.1 allows several
// audience and resource values; the token is for all of them.
func TestResourceTokenExchangeSeveralTargets(t *testing.T) {
	e := newExchangeEnv(t, func(c *op.Config) { c.Resources = []op.Resource{{URI: resOrders}, {URI: resMCP}} })
	own, _ := e.userToken(e.svc, e.svcSecret, "openid", "profile")
	st, body := e.exchange(e.svc, e.svcSecret, url.Values{"subject_token": {own}, "subject_token_type": {op.TokenTypeAccessToken},
		"audience": {e.api, e.web}, "resource": {resOrders, resMCP}})
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, body)
	}
	info := e.introspect(body["access_token"].(string))
	if want := jsonString([]string{e.api, e.web, resOrders, resMCP}); jsonString(info["aud"]) != want {
		t.Errorf("aud %v, want %s", info["aud"], want)
	}
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"one unknown audience among several", url.Values{"audience": {e.api, "nobody"}}},
		{"an undeclared resource", url.Values{"resource": {resOrders, "https://evil.example/"}}},
		{"a resource with a fragment", url.Values{"resource": {resOrders + "#x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := subjectAccess(own)
			for k, v := range tc.form {
				form[k] = v
			}
			if st, body := e.exchange(e.svc, e.svcSecret, form); st != 400 || body["error"] != "invalid_target" {
				t.Errorf("got %d %v", st, body)
			}
		})
	}
}

// TestResourceRegistration: a client registers its own list at /register
// only from the declared resources; the command line's rules (absolute,
// no fragment) apply to both.
func TestResourceRegistration(t *testing.T) {
	e := newResourceEnv(t, func(c *op.Config) { c.Registration.Open = true })
	for _, tc := range []struct {
		name      string
		resources []string
	}{
		{"undeclared", []string{"https://evil.example/"}},
		{"fragment", []string{resOrders + "#x"}},
		{"relative", []string{"/orders"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := webClient()
			md["resources"] = tc.resources
			resp, body := regRequest(t, http.MethodPost, e.srv.URL+op.PathRegister, "", md)
			if resp.StatusCode != 400 || body["error"] != "invalid_client_metadata" {
				t.Errorf("got %d %v", resp.StatusCode, body)
			}
		})
	}
	md := webClient()
	md["resources"] = []string{resMCP}
	resp, body := regRequest(t, http.MethodPost, e.srv.URL+op.PathRegister, "", md)
	if resp.StatusCode != 201 || jsonString(body["resources"]) != jsonString([]string{resMCP}) {
		t.Fatalf("register: %d %v", resp.StatusCode, body)
	}
	id, secret := body["client_id"].(string), body["client_secret"].(string)
	if st, body := e.redeem(id, secret, e.code(id, url.Values{"resource": {resMCP}}), nil); st != 200 {
		t.Errorf("the registered resource: %d %v", st, body)
	}
	pg := e.browser().get(e.authURL(id, url.Values{"resource": {resOrders}}))
	if got := callback(t, pg); got.Get("error") != "invalid_target" {
		t.Errorf("a declared resource outside the client's list: %v", got)
	}
	if _, _, err := op.NewClient(storage.Client{Name: "x", RedirectURIs: []string{rpCallback},
		ClientMetadata: storage.ClientMetadata{Resources: []string{"https://ok.example/", "urn:x#y"}}}, e.sealer, e.clock.Now(), nil); err == nil ||
		!strings.Contains(err.Error(), "fragment") {
		t.Errorf("NewClient with a fragment: %v", err)
	}
}

// TestResourceConfig: op.New refuses a declaration that is not a resource
// indicator, or one declared twice.
func TestResourceConfig(t *testing.T) {
	for _, bad := range [][]op.Resource{{{URI: "/relative"}}, {{URI: resOrders + "#f"}}, {{URI: resOrders}, {URI: resOrders}}} {
		cfg := op.Config{Issuer: "https://id.example", Resources: bad}
		_, err := op.New(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), "resource") {
			t.Errorf("op.New with %v: %v", bad, err)
		}
	}
}

// TestResourceMiddlewaresCheckAudience: a resource server that declares
// its identifier (Provider.ProtectResource, Introspector.Resource) refuses
// a live token issued for another resource, or for none, and accepts one
// for itself, with the audience in TokenInfo.
func TestResourceMiddlewaresCheckAudience(t *testing.T) {
	e := newResourceEnv(t, nil)
	var seen []string
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti, _ := op.TokenInfoFrom(r.Context())
		seen = ti.Audience
	})
	inProcess := httptest.NewServer(e.p.ProtectResource(resOrders, "orders:read")(ok))
	defer inProcess.Close()
	remote := &op.Introspector{Endpoint: e.srv.URL + op.PathIntrospect, ClientID: e.rs, ClientSecret: e.rsSecret, Resource: resOrders, CacheTTL: -1}
	remoteSrv := httptest.NewServer(remote.Protect("orders:read")(ok))
	defer remoteSrv.Close()

	token := func(resource ...string) string {
		t.Helper()
		st, body, _ := e.formRequest(op.PathToken, e.web, e.webSecret, url.Values{"grant_type": {"client_credentials"},
			"scope": {"orders:read"}, "resource": resource})
		if st != 200 {
			t.Fatalf("token: %d %v", st, body)
		}
		return body["access_token"].(string)
	}
	forMCP, forNone, forOrders := token(resMCP), token(), token(resOrders, resMCP)
	// The introspecting server must see tokens without a resource to judge
	// them: give it the web client too.
	wide, wideSecret := e.client(storage.Client{Name: "Wide API", Scope: []string{"token_introspection", e.web}})
	wideRemote := &op.Introspector{Endpoint: e.srv.URL + op.PathIntrospect, ClientID: wide, ClientSecret: wideSecret, Resource: resOrders, CacheTTL: -1}
	wideSrv := httptest.NewServer(wideRemote.Protect()(ok))
	defer wideSrv.Close()

	get := func(srv *httptest.Server, tok string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, srv := range map[string]*httptest.Server{"Provider.ProtectResource": inProcess, "Introspector.Resource": remoteSrv, "Introspector seeing the client": wideSrv} {
		if st := get(srv, forMCP); st != 401 {
			t.Errorf("%s: a token for %s: %d, want 401", name, resMCP, st)
		}
		if st := get(srv, forNone); st != 401 {
			t.Errorf("%s: a token without a resource: %d, want 401", name, st)
		}
		seen = nil
		if st := get(srv, forOrders); st != 200 || !slices.Equal(seen, []string{resOrders, resMCP}) {
			t.Errorf("%s: the token for it: %d, audience %v", name, st, seen)
		}
	}
	// Protect without a resource keeps accepting every live token.
	plain := httptest.NewServer(e.p.Protect()(ok))
	defer plain.Close()
	if st := get(plain, forMCP); st != 200 {
		t.Errorf("Protect() refused a live token: %d", st)
	}
}
