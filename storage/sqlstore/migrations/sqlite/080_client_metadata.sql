-- Registration metadata beyond django-oidc-provider's (RFC 7591, OpenID Connect Dynamic
-- Client Registration, RFC 9126, RFC 9068): one JSON object, so that a new
-- property needs no new column; the registration access token's digest
-- (RFC 7592); initial access tokens for /register, by digest.
ALTER TABLE clients ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN registration_token_hash BLOB;

CREATE TABLE registration_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY,
	uses_left  INTEGER NOT NULL, -- 0: no limit; -1: used up
	created_at INTEGER,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX registration_tokens_expires_at ON registration_tokens (expires_at);
