package storagetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func testClientRoundTrip(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := fullClient("rp-full")
	complete(t, "client", c)
	ok(t, s.CreateClient(ctx, c), "CreateClient")
	got, err := s.Client(ctx, c.ID)
	ok(t, err, "Client")
	same(t, "client", c, got)

	// Zero values round-trip as zero values.
	pub := &storage.Client{ID: "rp-public", Type: storage.Public}
	ok(t, s.CreateClient(ctx, pub), "CreateClient public")
	got, err = s.Client(ctx, pub.ID)
	ok(t, err, "Client public")
	same(t, "public client", pub, got)
	if !got.CreatedAt.IsZero() {
		t.Errorf("zero CreatedAt loaded as %v", got.CreatedAt)
	}
}

func testClientCreateDuplicate(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := mustClient(t, s, "rp")
	other := fullClient("rp")
	other.Name = "impostor"
	is(t, s.CreateClient(ctx, other), storage.ErrAlreadyExists, "CreateClient with a taken id")
	got, err := s.Client(ctx, "rp")
	ok(t, err, "Client")
	same(t, "client after failed duplicate", c, got)
}

func testClientNotFound(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	mustClient(t, s, "rp")
	_, err := s.Client(ctx, "nope")
	is(t, err, storage.ErrNotFound, "Client unknown")
	for _, id := range []string{"RP", "rp ", "r%", "rp\x00", "rp\xff"} {
		_, err = s.Client(ctx, id)
		is(t, err, storage.ErrNotFound, "Client("+id+")")
	}
	is(t, s.UpdateClient(ctx, fullClient("nope")), storage.ErrNotFound, "UpdateClient unknown")
	is(t, s.DeleteClient(ctx, "nope"), storage.ErrNotFound, "DeleteClient unknown")
}

func testClientUpdate(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	before := mustClient(t, s, "rp")
	keep := mustClient(t, s, "rp-other")

	u := &storage.Client{
		ID:                      "rp",
		Name:                    "Renamed",
		Type:                    storage.Public,
		SecretHash:              newHash(),
		SecretSealed:            []byte("resealed"),
		PreviousSecretHash:      newHash(),
		PreviousSecretExpiresAt: at(2 * time.Hour),
		ResponseTypes:           []string{"id_token"},
		RedirectURIs:            []string{"https://new.example/cb"},
		PostLogoutRedirectURIs:  []string{"https://new.example/bye", "https://new.example/bye2"},
		JWTAlg:                  "HS256",
		RequireConsent:          true,
		ReuseConsent:            true,
		Scope:                   []string{"read"},
		PublicPasswordGrant:     true,
		Website:                 "https://new.example/",
		TermsURL:                "https://new.example/terms",
		ContactEmail:            "new@new.example",
		LogoURL:                 "https://new.example/logo.svg",
		LogoImage:               []byte("GIF89a..."),
		LogoType:                "image/gif",
		CreatedAt:               at(-day),
		ClientMetadata: storage.ClientMetadata{
			TokenEndpointAuthMethod:            "client_secret_jwt",
			PolicyURI:                          "https://new.example/privacy",
			TokenEndpointAuthSigningAlg:        "HS512",
			GrantTypes:                         []string{"client_credentials"},
			JWKS:                               `{"keys":[]}`,
			JWKSURI:                            "https://new.example/jwks",
			SubjectType:                        "public",
			SectorIdentifierURI:                "https://new.example/sector.json",
			RequirePushedAuthorizationRequests: true,
			DPoPBoundAccessTokens:              true,
			RequestURIs:                        []string{"https://new.example/r1", "https://new.example/r2"},
			RequestObjectSigningAlg:            "none",
			AccessTokenSignedResponseAlg:       "ES256",
			Resources:                          []string{"https://new.example/api"},
			IDTokenEncryptedResponseAlg:        "ECDH-ES",
			IDTokenEncryptedResponseEnc:        "A128CBC-HS256",
			UserinfoSignedResponseAlg:          "RS256",
			UserinfoEncryptedResponseAlg:       "RSA-OAEP-256",
			UserinfoEncryptedResponseEnc:       "A256GCM",
			SoftwareID:                         "new-software",
			SoftwareVersion:                    "3",
		},
		RegistrationTokenHash:             newHash(),
		FrontchannelLogoutURI:             "https://new.example/fc",
		FrontchannelLogoutSessionRequired: true,
		BackchannelLogoutURI:              "https://new.example/bc",
		BackchannelLogoutSessionRequired:  true,
	}
	// TokensRevokedAt is RevokeClientTokens' alone: an update keeps it.
	complete(t, "updated client", u, "TokensRevokedAt")
	ok(t, s.UpdateClient(ctx, u), "UpdateClient")
	got, err := s.Client(ctx, "rp")
	ok(t, err, "Client")
	want := *u
	want.TokensRevokedAt = before.TokensRevokedAt
	same(t, "updated client", &want, got)

	// Clearing fields clears them.
	cleared := &storage.Client{ID: "rp", Type: storage.Public}
	ok(t, s.UpdateClient(ctx, cleared), "UpdateClient cleared")
	got, err = s.Client(ctx, "rp")
	ok(t, err, "Client")
	want = *cleared
	want.TokensRevokedAt = before.TokensRevokedAt
	same(t, "cleared client", &want, got)

	got, err = s.Client(ctx, keep.ID)
	ok(t, err, "Client other")
	same(t, "untouched client", keep, got)
}

func testClientList(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	l, err := s.ListClients(ctx)
	ok(t, err, "ListClients empty")
	if len(l) != 0 {
		t.Fatalf("ListClients on an empty store returned %d clients", len(l))
	}
	var want []*storage.Client
	ages := []time.Duration{time.Minute, 3 * time.Minute, 2 * time.Minute}
	for i, id := range []string{"c", "a", "b"} {
		c := fullClient(id)
		c.CreatedAt = at(-ages[i])
		ok(t, s.CreateClient(ctx, c), "CreateClient")
		want = append(want, c)
	}
	// by creation time: a (−3m), b (−2m), c (−1m)
	want = []*storage.Client{want[1], want[2], want[0]}
	l, err = s.ListClients(ctx)
	ok(t, err, "ListClients")
	if len(l) != len(want) {
		t.Fatalf("ListClients returned %d clients, want %d", len(l), len(want))
	}
	for i := range want {
		same(t, "ListClients["+want[i].ID+"]", want[i], l[i])
	}
}

func testClientDeleteCascades(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	gone := mustClient(t, s, "rp-gone")
	kept := mustClient(t, s, "rp-kept")
	const user = "user-1"

	goneCode := mustCode(t, s, gone.ID, user)
	keptCode := mustCode(t, s, kept.ID, user)
	goneGrant, goneAccess, goneRefresh := mustGrant(t, s, gone.ID, user)
	keptGrant, keptAccess, _ := mustGrant(t, s, kept.ID, user)
	ok(t, s.SaveConsent(ctx, fullConsent(user, gone.ID)), "SaveConsent")
	ok(t, s.SaveConsent(ctx, fullConsent(user, kept.ID)), "SaveConsent")

	ok(t, s.DeleteClient(ctx, gone.ID), "DeleteClient")

	_, err := s.Client(ctx, gone.ID)
	is(t, err, storage.ErrNotFound, "Client after delete")
	is(t, s.DeleteClient(ctx, gone.ID), storage.ErrNotFound, "DeleteClient twice")
	_, err = s.ConsumeCode(ctx, goneCode.Hash, t0, nil)
	is(t, err, storage.ErrNotFound, "ConsumeCode of deleted client")
	_, err = s.Grant(ctx, goneGrant.ID)
	is(t, err, storage.ErrNotFound, "Grant of deleted client")
	tokenGone(t, s, goneAccess.Hash, t0, "access token of deleted client")
	tokenGone(t, s, goneRefresh.Hash, t0, "refresh token of deleted client")
	_, err = s.Consent(ctx, user, gone.ID, t0)
	is(t, err, storage.ErrNotFound, "Consent of deleted client")

	// The other client keeps everything.
	l, err := s.ListClients(ctx)
	ok(t, err, "ListClients")
	if len(l) != 1 || l[0].ID != kept.ID {
		t.Errorf("ListClients after delete = %v, want only %s", l, kept.ID)
	}
	_, err = s.ConsumeCode(ctx, keptCode.Hash, t0, nil)
	ok(t, err, "ConsumeCode of kept client")
	_, err = s.Grant(ctx, keptGrant.ID)
	ok(t, err, "Grant of kept client")
	tokenFound(t, s, keptAccess.Hash, t0, "token of kept client")
	_, err = s.Consent(ctx, user, kept.ID, t0)
	ok(t, err, "Consent of kept client")
}

// Values are the caller's: changing what was stored or what was returned
// changes nothing in the store.
func testValuesAreCopies(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := fullClient("rp")
	want := *c
	want.RedirectURIs, want.Scope, want.SecretHash = slices.Clone(c.RedirectURIs), slices.Clone(c.Scope), bytes.Clone(c.SecretHash)
	ok(t, s.CreateClient(ctx, c), "CreateClient")
	c.RedirectURIs[0], c.Scope[0], c.SecretHash[0] = "https://evil.example/cb", "admin", c.SecretHash[0]^1
	got, err := s.Client(ctx, "rp")
	ok(t, err, "Client")
	same(t, "client after changing the stored value", &want, got)
	got.RedirectURIs[0], got.Scope[0] = "https://evil.example/cb", "admin"
	got, err = s.Client(ctx, "rp")
	ok(t, err, "Client again")
	same(t, "client after changing a returned value", &want, got)
}

// RevokeClientTokens ends every grant of one client and records when, for
// the tokens that have no row; other clients keep theirs.
func testRevokeClientTokens(t *testing.T, s storage.Provider) {
	ctx := t.Context()
	c := &storage.Client{ID: "rp", Name: "rp", Type: storage.Confidential, CreatedAt: t0}
	ok(t, s.CreateClient(ctx, c), "CreateClient")
	mustClient(t, s, "rp-other")
	_, userAccess, userRefresh := mustGrant(t, s, "rp", "user-1")
	cc := &storage.Grant{ID: newID("grant"), ClientID: "rp", Scope: []string{"read"}, CreatedAt: t0}
	ccAccess := newToken(cc, storage.AccessToken, t0)
	ok(t, s.CreateGrant(ctx, cc, ccAccess), "CreateGrant client_credentials")
	_, otherAccess, _ := mustGrant(t, s, "rp-other", "user-1")

	now := at(time.Minute)
	ok(t, s.RevokeClientTokens(ctx, "rp", now), "RevokeClientTokens")
	for what, h := range map[string][]byte{"user access": userAccess.Hash, "user refresh": userRefresh.Hash, "client_credentials": ccAccess.Hash} {
		tokenGone(t, s, h, now, what+" token of the client")
	}
	tokenFound(t, s, otherAccess.Hash, now, "another client's token")
	got, err := s.Client(ctx, "rp")
	ok(t, err, "Client")
	if !got.TokensRevokedAt.Equal(now) {
		t.Errorf("TokensRevokedAt = %v, want %v", got.TokensRevokedAt, now)
	}
	other, err := s.Client(ctx, "rp-other")
	ok(t, err, "Client other")
	if !other.TokensRevokedAt.Equal(fullClient("rp-other").TokensRevokedAt) {
		t.Errorf("another client's TokensRevokedAt = %v", other.TokensRevokedAt)
	}
	// A grant made afterwards lives.
	_, later, _ := mustGrant(t, s, "rp", "user-2")
	tokenFound(t, s, later.Hash, now, "a token issued after the revocation")

	is(t, s.RevokeClientTokens(ctx, "nope", now), storage.ErrNotFound, "RevokeClientTokens of an unknown client")
}
