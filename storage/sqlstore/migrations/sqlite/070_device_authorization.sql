-- RFC 8628 device authorization grant (issue 14).
-- Clients list the grants they may use (RFC 7591 §2 grant_types), a JSON
-- array; empty means django-oidc-provider's implied grants.
ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL DEFAULT '[]';

-- Device authorizations, by the digests of the device code and user code.
CREATE TABLE device_auths (
	device_code_hash BLOB    NOT NULL PRIMARY KEY,
	user_code_hash   BLOB    NOT NULL UNIQUE,
	client_id        TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scope            TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	grant_id         TEXT    NOT NULL,
	user_id          TEXT    NOT NULL,
	session_id       TEXT    NOT NULL,
	auth_time        INTEGER,
	interval_us      INTEGER NOT NULL,
	created_at       INTEGER,
	expires_at       INTEGER,
	last_polled_at   INTEGER,
	consumed_at      INTEGER
) WITHOUT ROWID;
CREATE INDEX device_auths_client_id ON device_auths (client_id);
CREATE INDEX device_auths_expires_at ON device_auths (expires_at);
