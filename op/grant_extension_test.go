package op_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/memstore"
)

const magicGrant = "urn:example:params:oauth:grant-type:magic-link"

// TestExtensionGrant: a grant type registered in Config.GrantTypes is
// advertised, runs after client authentication, issues the access token
// its handler decides (usable at userinfo), passes the handler's errors on,
// and still keeps the scope within the client's registered scope.
func TestExtensionGrant(t *testing.T) {
	var allowed string
	env := newTestEnv(t, func(c *op.Config) {
		c.GrantTypes = map[string]op.GrantHandler{
			magicGrant: func(_ context.Context, req *op.GrantRequest) (*op.GrantDecision, error) {
				if req.Client.ID != allowed {
					return nil, &op.Error{Code: "unauthorized_client", Description: "Not for this client."}
				}
				switch req.Form.Get("link") {
				case "alice-link":
					return &op.GrantDecision{UserID: "alice", Scope: []string{"openid", "email"}}, nil
				case "too-wide":
					return &op.GrantDecision{UserID: "alice", Scope: []string{"openid", "phone"}}, nil
				}
				return nil, &op.Error{Code: "invalid_grant", Description: "Unknown link."}
			},
		}
	})
	id, secret := env.client(storage.Client{Scope: []string{"openid", "email"}})
	other, otherSecret := env.client(storage.Client{})
	allowed = id

	_, disc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, nil)
	if gts, _ := disc["grant_types_supported"].([]any); !slices.Contains(gts, any(magicGrant)) {
		t.Fatalf("discovery does not list the extension grant: %v", gts)
	}

	status, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {magicGrant}, "link": {"alice-link"}})
	if status != 200 || body["scope"] != "openid email" || body["refresh_token"] != nil || body["id_token"] != nil {
		t.Fatalf("extension grant: %d %v", status, body)
	}
	resp, ui := doReq(t, "GET", env.srv.URL+"/userinfo", nil, map[string]string{"Authorization": "Bearer " + body["access_token"].(string)})
	if resp.StatusCode != 200 || ui["sub"] != "alice" || ui["email"] != "alice@example.com" {
		t.Fatalf("userinfo with the extension grant's token: %d %v", resp.StatusCode, ui)
	}

	for _, tc := range []struct {
		name, id, secret, link, want string
	}{
		{"handler refuses", id, secret, "nope", "invalid_grant"},
		{"handler refuses the client", other, otherSecret, "alice-link", "unauthorized_client"},
		{"scope beyond the client's registration", id, secret, "too-wide", "invalid_scope"},
		{"wrong secret", id, "wrong", "alice-link", "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := env.tokenRequest(tc.id, tc.secret, url.Values{"grant_type": {magicGrant}, "link": {tc.link}})
			if status < 400 || body["error"] != tc.want {
				t.Fatalf("%d %v, want %s", status, body, tc.want)
			}
		})
	}
}

// Extension grant types must be absolute URIs with a handler.
func TestExtensionGrantConfig(t *testing.T) {
	for _, gt := range []string{"magic", "with space:x", ""} {
		_, err := op.New(t.Context(), op.Config{Issuer: "https://id.example", Storage: memstore.New(), Users: &testUsers{},
			Sealer: testSealer(t), GrantTypes: map[string]op.GrantHandler{gt: func(context.Context, *op.GrantRequest) (*op.GrantDecision, error) { return nil, nil }}})
		if err == nil || !strings.Contains(err.Error(), "absolute URI") {
			t.Errorf("grant type %q: %v", gt, err)
		}
	}
	_, err := op.New(t.Context(), op.Config{Issuer: "https://id.example", Storage: memstore.New(), Users: &testUsers{},
		Sealer: testSealer(t), GrantTypes: map[string]op.GrantHandler{magicGrant: nil}})
	if err == nil || !strings.Contains(err.Error(), "no handler") {
		t.Errorf("nil handler: %v", err)
	}
}

func testSealer(t *testing.T) keys.Sealer {
	s, err := keys.NewSealer([]byte("0123456789abcdef0123456789abcdef-test"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
