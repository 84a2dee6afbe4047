package op

import (
	"encoding/base64"
	"reflect"
	"testing"
	"time"

	"github.com/oidcd/oidcd/keys"
)

func statelessProvider(t testing.TB) *Provider {
	s, err := keys.NewSealer([]byte("0123456789abcdef0123456789abcdef-stateless"))
	if err != nil {
		t.Fatal(err)
	}
	return &Provider{cfg: Config{Sealer: s}}
}

// What a stateless token carries comes back as it went in.
func TestStatelessRoundTrip(t *testing.T) {
	p := statelessProvider(t)
	in := &statelessToken{
		created: time.UnixMilli(1_800_000_000_123), expires: time.UnixMilli(1_800_003_600_123),
		clientID: "client", jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		scope: []string{"read", "write"}, audience: []string{"https://api.example/", "urn:x"},
	}
	v := p.newStatelessToken(in)
	out, err := p.parseStateless(v)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("parsed %+v, want %+v", out, in)
	}
	other := statelessProvider(t)
	other.cfg.Sealer, _ = keys.NewSealer([]byte("another secret of thirty-two bytes or more"))
	if _, err := other.parseStateless(v); err == nil {
		t.Fatal("a token verified under another system secret")
	}
}

// FuzzStatelessToken gives the parser arbitrary values, and arbitrary
// payloads under a valid MAC (what only a holder of the secret could
// make): it never panics, and what it accepts re-encodes to the same
// payload.
func FuzzStatelessToken(f *testing.F) {
	p := statelessProvider(f)
	valid := p.newStatelessToken(&statelessToken{created: time.UnixMilli(1), expires: time.UnixMilli(2),
		clientID: "c", scope: []string{"a"}, audience: []string{"https://r"}, jkt: "k"})
	payload, _ := base64.RawURLEncoding.DecodeString(valid[len(statelessPrefix) : len(valid)-44])
	f.Add(valid, payload)
	f.Add("cc1_.", []byte{statelessVersion})
	f.Add("cc1_AAAA.AAAA", append([]byte{statelessVersion}, make([]byte, 40)...))
	f.Add("eyJ.a.b", []byte{})
	f.Fuzz(func(t *testing.T, v string, payload []byte) {
		p.parseStateless(v)
		enc := base64.RawURLEncoding
		signed := statelessPrefix + enc.EncodeToString(payload) + "." + enc.EncodeToString(p.cfg.Sealer.MAC(statelessMACPart, string(payload)))
		tok, err := p.parseStateless(signed)
		if err != nil {
			return
		}
		again, err := p.parseStateless(p.newStatelessToken(tok))
		if err != nil {
			t.Fatalf("re-encoded token refused: %v", err)
		}
		again.id = tok.id
		if !reflect.DeepEqual(tok, again) {
			t.Fatalf("re-encoded %+v as %+v", tok, again)
		}
	})
}
