package sqlstore

import (
	"context"
	"time"

	"github.com/oidcd/oidcd/storage"
)

const clientCols = `id, name, type, secret_hash, secret_sealed, response_types, redirect_uris,
	post_logout_redirect_uris, jwt_alg, require_consent, reuse_consent, scope, website,
	terms_url, contact_email, logo_url, created_at, metadata, registration_token_hash,
	public_password_grant, logo_image, logo_type, frontchannel_logout_uri,
	frontchannel_logout_session_required, backchannel_logout_uri, backchannel_logout_session_required,
	previous_secret_hash, previous_secret_expires_at, tokens_revoked_at`

func clientArgs(c *storage.Client) []any {
	return []any{c.ID, c.Name, string(c.Type), blobArg(c.SecretHash), blobArg(c.SecretSealed),
		listArg(c.ResponseTypes), listArg(c.RedirectURIs), listArg(c.PostLogoutRedirectURIs),
		c.JWTAlg, c.RequireConsent, c.ReuseConsent, scopeArg(c.Scope), c.Website,
		c.TermsURL, c.ContactEmail, c.LogoURL, timeArg(c.CreatedAt), metadataArg(c.ClientMetadata),
		blobArg(c.RegistrationTokenHash), c.PublicPasswordGrant, blobArg(c.LogoImage), c.LogoType,
		c.FrontchannelLogoutURI, c.FrontchannelLogoutSessionRequired, c.BackchannelLogoutURI,
		c.BackchannelLogoutSessionRequired, blobArg(c.PreviousSecretHash), timeArg(c.PreviousSecretExpiresAt),
		timeArg(c.TokensRevokedAt)}
}

type scanner interface{ Scan(dest ...any) error }

func scanClient(r scanner) (*storage.Client, error) {
	var c storage.Client
	var typ string
	err := r.Scan(&c.ID, &c.Name, &typ, &c.SecretHash, &c.SecretSealed,
		listCol{&c.ResponseTypes}, listCol{&c.RedirectURIs}, listCol{&c.PostLogoutRedirectURIs},
		&c.JWTAlg, &c.RequireConsent, &c.ReuseConsent, scopeCol{&c.Scope}, &c.Website,
		&c.TermsURL, &c.ContactEmail, &c.LogoURL, timeCol{&c.CreatedAt}, metadataCol{&c.ClientMetadata},
		&c.RegistrationTokenHash, &c.PublicPasswordGrant, &c.LogoImage, &c.LogoType,
		&c.FrontchannelLogoutURI, &c.FrontchannelLogoutSessionRequired, &c.BackchannelLogoutURI,
		&c.BackchannelLogoutSessionRequired, &c.PreviousSecretHash, timeCol{&c.PreviousSecretExpiresAt},
		timeCol{&c.TokensRevokedAt})
	if err != nil {
		return nil, err
	}
	c.Type = storage.ClientType(typ)
	return &c, nil
}

// CreateClient implements storage.Clients.
func (s *Store) CreateClient(ctx context.Context, c *storage.Client) error {
	if err := checkID("client", c.ID); err != nil {
		return err
	}
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, clientArgs(c)...)
	return s.wrapErr("create client", err)
}

// Client implements storage.Clients.
func (s *Store) Client(ctx context.Context, id string) (*storage.Client, error) {
	if unmatchable(id) {
		return nil, notFound("client")
	}
	c, err := scanClient(s.reader().row(ctx, `SELECT `+clientCols+` FROM clients WHERE id = ?`, id))
	if err != nil {
		return nil, s.wrapErr("client", err)
	}
	return c, nil
}

// UpdateClient implements storage.Clients. tokens_revoked_at is left as
// stored: only RevokeClientTokens moves it, so that an update made from an
// older read cannot take a revocation back.
func (s *Store) UpdateClient(ctx context.Context, c *storage.Client) error {
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	a := clientArgs(c)
	args := append(a[1:len(a)-1], c.ID)
	n, err := s.writer().execN(ctx, `UPDATE clients SET name = ?, type = ?, secret_hash = ?,
		secret_sealed = ?, response_types = ?, redirect_uris = ?, post_logout_redirect_uris = ?,
		jwt_alg = ?, require_consent = ?, reuse_consent = ?, scope = ?, website = ?,
		terms_url = ?, contact_email = ?, logo_url = ?, created_at = ?, metadata = ?,
		registration_token_hash = ?, public_password_grant = ?, logo_image = ?, logo_type = ?,
		frontchannel_logout_uri = ?, frontchannel_logout_session_required = ?,
		backchannel_logout_uri = ?, backchannel_logout_session_required = ?,
		previous_secret_hash = ?, previous_secret_expires_at = ?
		WHERE id = ?`, args...)
	if err != nil {
		return s.wrapErr("update client", err)
	}
	if n == 0 {
		return notFound("update client")
	}
	return nil
}

// RevokeClientTokens implements storage.Clients.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string, now time.Time) error {
	defer s.forgetAll()
	return s.inTx(ctx, func(c conn) error {
		n, err := c.execN(ctx, `UPDATE clients SET tokens_revoked_at = ? WHERE id = ?`, now.UnixMicro(), clientID)
		if err != nil {
			return s.wrapErr("revoke client tokens", err)
		}
		if n == 0 {
			return notFound("revoke client tokens")
		}
		return s.revokeGrantsWhereTx(ctx, c, "client_id", clientID, now)
	})
}

// DeleteClient implements storage.Clients. The explicit deletes duplicate the
// schema's ON DELETE CASCADE so the contract holds even with foreign keys off.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	defer s.forgetAll()
	return s.inTx(ctx, func(c conn) error {
		n, err := c.execN(ctx, `DELETE FROM clients WHERE id = ?`, id)
		if err != nil {
			return s.wrapErr("delete client", err)
		}
		if n == 0 {
			return notFound("delete client")
		}
		for _, q := range []string{ // grants before tokens, the order every transaction locks them in
			`DELETE FROM codes WHERE client_id = ?`,
			`DELETE FROM device_auths WHERE client_id = ?`,
			`DELETE FROM grants WHERE client_id = ?`,
			`DELETE FROM tokens WHERE client_id = ?`,
			`DELETE FROM consents WHERE client_id = ?`,
			`DELETE FROM pushed_requests WHERE client_id = ?`,
			`DELETE FROM session_clients WHERE client_id = ?`,
			`DELETE FROM logout_messages WHERE client_id = ?`,
		} {
			if _, err := c.exec(ctx, q, id); err != nil {
				return s.wrapErr("delete client", err)
			}
		}
		return nil
	})
}

// ListClients implements storage.Clients.
func (s *Store) ListClients(ctx context.Context) ([]*storage.Client, error) {
	rows, err := s.reader().rows(ctx, `SELECT `+clientCols+` FROM clients ORDER BY created_at NULLS FIRST, id`)
	if err != nil {
		return nil, s.wrapErr("list clients", err)
	}
	defer rows.Close()
	var out []*storage.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, s.wrapErr("list clients", err)
		}
		out = append(out, c)
	}
	return out, s.wrapErr("list clients", rows.Err())
}
