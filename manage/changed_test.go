package manage

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// Every field of storage.Client, those of later issues included, is named
// in the audit record when it changes: the fields are found by reflection,
// so this test covers a field added tomorrow without being edited (unless
// the field is of a kind it cannot change yet, which it then says).
func TestChangedPropertiesCoversEveryField(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	base := storage.Client{ID: "c1", Name: "App", Type: storage.Confidential, ResponseTypes: []string{"code"},
		RedirectURIs: []string{"https://app.example/cb"}, JWTAlg: "RS256", RequireConsent: true, CreatedAt: now}
	if got := changedProperties(&base, cloneClient(&base)); len(got) != 0 {
		t.Fatalf("an unchanged client: %v", got)
	}
	fields := clientFields()
	if len(fields) < 40 {
		t.Fatalf("only %d fields found in storage.Client", len(fields))
	}
	typ := reflect.TypeFor[storage.Client]()
	for _, idx := range fields {
		f := typ.FieldByIndex(idx)
		changed := cloneClient(&base)
		v := reflect.ValueOf(changed).Elem().FieldByIndex(idx)
		switch {
		case v.Kind() == reflect.String:
			v.SetString(v.String() + "x")
		case v.Kind() == reflect.Bool:
			v.SetBool(!v.Bool())
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
			v.Set(reflect.Append(v, reflect.ValueOf("https://x.example/")))
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			v.Set(reflect.Append(v, reflect.ValueOf(byte(1))))
		case v.Type() == reflect.TypeFor[time.Time]():
			v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Hour)))
		default:
			t.Errorf("storage.Client.%s is a %s: teach this test (and check changedProperties) to change it", f.Name, v.Type())
			continue
		}
		got := changedProperties(&base, changed)
		if len(got) == 0 || slices.Contains(got, "") {
			t.Errorf("a change of %s is recorded as %q", f.Name, got)
		}
	}
	// Names are those of the registration metadata where there is one.
	for _, c := range []struct {
		edit func(*storage.Client)
		want []string
	}{
		{func(c *storage.Client) { c.Resources = []string{"https://api.example/"} }, []string{"resources"}},
		{func(c *storage.Client) { c.AccessTokenSignedResponseAlg = "ES256" }, []string{"access_token_signed_response_alg"}},
		{func(c *storage.Client) { c.Website = "https://app.example/" }, []string{"client_uri"}},
		{func(c *storage.Client) { c.JWTAlg = "ES256" }, []string{"id_token_signed_response_alg"}},
		{func(c *storage.Client) {
			c.IDTokenEncryptedResponseAlg, c.IDTokenEncryptedResponseEnc = "ECDH-ES", "A256GCM"
		}, []string{"id_token_encrypted_response_alg", "id_token_encrypted_response_enc"}},
		{func(c *storage.Client) { c.Type = storage.Public }, []string{"type"}},
		{func(c *storage.Client) { c.LogoImage, c.LogoType = []byte{1}, "image/png" }, []string{"logo"}},
		{func(c *storage.Client) { c.SecretHash, c.SecretSealed = []byte{1}, []byte{2} }, []string{"client_secret"}},
		{func(c *storage.Client) { c.RedirectURIs = nil }, []string{"redirect_uris"}},
		{func(c *storage.Client) { c.JWKS = `{"keys":[]}` }, []string{"jwks"}},
		{func(c *storage.Client) { c.JWKS = `not json` }, []string{"jwks"}},
	} {
		changed := cloneClient(&base)
		c.edit(changed)
		if got := changedProperties(&base, changed); !slices.Equal(got, c.want) {
			t.Errorf("changed %v, want %v", got, c.want)
		}
	}
	if got := snakeCase("FooBarURI"); got != "foo_bar_uri" {
		t.Errorf("snakeCase: %q", got)
	}
}
