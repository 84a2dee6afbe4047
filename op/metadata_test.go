package op_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage/memstore"
)

// TestAuthorizationServerMetadata: RFC 8414 metadata is served and says
// exactly what the OpenID discovery document says (one source of truth).
func TestAuthorizationServerMetadata(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, oauth := doReq(t, "GET", env.srv.URL+"/.well-known/oauth-authorization-server", nil, map[string]string{"Origin": "https://mcp.example"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("oauth metadata: %d %v", resp.StatusCode, resp.Header)
	}
	_, oidc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, nil)
	if !reflect.DeepEqual(oauth, oidc) {
		t.Fatalf("the two metadata documents differ:\nRFC 8414: %v\nOIDC:     %v", oauth, oidc)
	}
	// RFC 8414 §2: required members; §3.3: issuer identical to ours.
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "response_types_supported", "jwks_uri"} {
		if oauth[k] == nil {
			t.Errorf("RFC 8414 member %s missing", k)
		}
	}
	if oauth["issuer"] != env.srv.URL {
		t.Errorf("issuer %v", oauth["issuer"])
	}
	for _, m := range []string{"POST", "PUT"} {
		if resp, _ := doReq(t, m, env.srv.URL+"/.well-known/oauth-authorization-server", nil, nil); resp.StatusCode != 405 {
			t.Errorf("%s: %d, want 405", m, resp.StatusCode)
		}
	}
	if resp, _ := doReq(t, "GET", env.srv.URL+"/.well-known/oauth-authorization-server/", nil, nil); resp.StatusCode != 200 {
		t.Errorf("trailing slash: %d", resp.StatusCode)
	}
}

// TestAuthorizationServerMetadataUnderPath: with an issuer that has a path,
// Mount also serves RFC 8414 §3.1's form (well-known string before the path).
func TestAuthorizationServerMetadataUnderPath(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	env := newTestEnv(t, nil)
	issuer := "http://" + srv.Listener.Addr().String() + "/openid"
	p, err := op.New(t.Context(), op.Config{Issuer: issuer, Storage: memstore.New(), Users: env.users, Sealer: env.sealer})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Mount(mux, "/openid")
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	base := "http://" + srv.Listener.Addr().String()
	_, a := doReq(t, "GET", base+"/.well-known/oauth-authorization-server/openid", nil, nil)
	_, b := doReq(t, "GET", base+"/openid/.well-known/oauth-authorization-server", nil, nil)
	_, c := doReq(t, "GET", base+"/openid/.well-known/openid-configuration", nil, nil)
	if a["issuer"] != issuer || !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
		t.Fatalf("metadata under a path:\n%v\n%v\n%v", a, b, c)
	}
	if a["token_endpoint"] != issuer+"/token" {
		t.Fatalf("token endpoint %v", a["token_endpoint"])
	}
	if resp, _ := doReq(t, "POST", base+"/.well-known/oauth-authorization-server/openid", nil, nil); resp.StatusCode != 405 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}
