package sqlstore

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// benchIssue measures the work of one authorization-code exchange: create a
// code, consume it, create the grant with an access and a refresh token, and
// look the access token up.
func benchIssue(b *testing.B, s *Store) {
	ctx := b.Context()
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		b.Fatal(err)
	}
	h := func() []byte { x := make([]byte, 32); rand.Read(x); return x }
	now := time.Now()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		gid := fmt.Sprintf("g%d", i)
		code := &storage.AuthCode{Hash: h(), GrantID: gid, ClientID: "rp", UserID: "u", Scope: []string{"openid"},
			CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := s.CreateCode(ctx, code); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Code(ctx, code.Hash, now); err != nil {
			b.Fatal(err)
		}
		g := &storage.Grant{ID: gid, ClientID: "rp", UserID: "u", Scope: code.Scope, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		at := &storage.Token{Hash: h(), Kind: storage.AccessToken, GrantID: gid, ClientID: "rp", UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		rt := &storage.Token{Hash: h(), Kind: storage.RefreshToken, GrantID: gid, ClientID: "rp", UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := s.ConsumeCode(ctx, code.Hash, now, g, at, rt); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Token(ctx, at.Hash, now); err != nil {
			b.Fatal(err)
		}
	}
}
