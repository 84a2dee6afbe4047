-- oidcd schema, PostgreSQL flavour.
-- Times are unix microseconds UTC; NULL is the zero time.
-- Hashes are SHA-256 digests (B6); lookups compare the whole value (B7).
-- Scopes are space-separated; string lists are JSON arrays.
-- Columns that results are ordered by use the "C" collation, so the order is
-- the bytewise one SQLite uses.

CREATE TABLE clients (
	id                        TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
	name                      TEXT    NOT NULL,
	type                      TEXT    NOT NULL,
	secret_hash               BYTEA,
	secret_sealed             BYTEA,
	response_types            TEXT    NOT NULL,
	redirect_uris             TEXT    NOT NULL,
	post_logout_redirect_uris TEXT    NOT NULL,
	jwt_alg                   TEXT    NOT NULL,
	require_consent           BOOLEAN NOT NULL,
	reuse_consent             BOOLEAN NOT NULL,
	scope                     TEXT    NOT NULL,
	website                   TEXT    NOT NULL,
	terms_url                 TEXT    NOT NULL,
	contact_email             TEXT    NOT NULL,
	logo_url                  TEXT    NOT NULL,
	created_at                BIGINT
);
CREATE INDEX clients_created_at ON clients (created_at);

CREATE TABLE codes (
	hash                  BYTEA   NOT NULL PRIMARY KEY,
	grant_id              TEXT    NOT NULL,
	client_id             TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	user_id               TEXT    NOT NULL,
	session_id            TEXT    NOT NULL,
	redirect_uri          TEXT    NOT NULL,
	scope                 TEXT    NOT NULL,
	nonce                 TEXT    NOT NULL,
	claims                TEXT    NOT NULL,
	code_challenge        TEXT    NOT NULL,
	code_challenge_method TEXT    NOT NULL,
	auth_time             BIGINT,
	created_at            BIGINT,
	expires_at            BIGINT,
	consumed_at           BIGINT
);
CREATE INDEX codes_expires_at ON codes (expires_at);
CREATE INDEX codes_client_id ON codes (client_id);
CREATE INDEX codes_user_id ON codes (user_id);
CREATE INDEX codes_grant_id ON codes (grant_id);

CREATE TABLE grants (
	id         TEXT    NOT NULL PRIMARY KEY,
	client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	user_id    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	scope      TEXT    NOT NULL,
	claims     TEXT    NOT NULL,
	nonce      TEXT    NOT NULL,
	auth_time  BIGINT,
	created_at BIGINT,
	expires_at BIGINT,
	revoked_at BIGINT
);
CREATE INDEX grants_user_id ON grants (user_id);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at);
CREATE INDEX grants_revoked_at ON grants (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE tokens (
	hash       BYTEA   NOT NULL PRIMARY KEY,
	kind       TEXT    NOT NULL,
	grant_id   TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
	client_id  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	scope      TEXT    NOT NULL,
	created_at BIGINT,
	expires_at BIGINT,
	used_at    BIGINT
);
CREATE INDEX tokens_grant_id ON tokens (grant_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

CREATE TABLE consents (
	user_id    TEXT    NOT NULL,
	client_id  TEXT    COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scope      TEXT    NOT NULL,
	given_at   BIGINT,
	expires_at BIGINT,
	PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_id ON consents (client_id);
CREATE INDEX consents_expires_at ON consents (expires_at);

CREATE TABLE signing_keys (
	id             TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
	alg            TEXT    NOT NULL,
	private_sealed BYTEA,
	created_at     BIGINT,
	retired_at     BIGINT
);

CREATE TABLE sessions (
	hash       BYTEA   NOT NULL PRIMARY KEY,
	id         TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	auth_time  BIGINT,
	created_at BIGINT,
	expires_at BIGINT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE users (
	id                     TEXT    NOT NULL PRIMARY KEY,
	username               TEXT    COLLATE "C" NOT NULL UNIQUE,
	password_hash          TEXT    NOT NULL,
	admin                  BOOLEAN NOT NULL,
	name                   TEXT    NOT NULL,
	given_name             TEXT    NOT NULL,
	family_name            TEXT    NOT NULL,
	middle_name            TEXT    NOT NULL,
	nickname               TEXT    NOT NULL,
	preferred_username     TEXT    NOT NULL,
	profile                TEXT    NOT NULL,
	picture                TEXT    NOT NULL,
	website                TEXT    NOT NULL,
	gender                 TEXT    NOT NULL,
	birthdate              TEXT    NOT NULL,
	zoneinfo               TEXT    NOT NULL,
	locale                 TEXT    NOT NULL,
	email                  TEXT    NOT NULL,
	email_verified         BOOLEAN NOT NULL,
	phone_number           TEXT    NOT NULL,
	phone_number_verified  BOOLEAN NOT NULL,
	address_formatted      TEXT    NOT NULL,
	address_street_address TEXT    NOT NULL,
	address_locality       TEXT    NOT NULL,
	address_region         TEXT    NOT NULL,
	address_postal_code    TEXT    NOT NULL,
	address_country        TEXT    NOT NULL,
	created_at             BIGINT,
	updated_at             BIGINT
);

-- One row per failure; expires_at is the failure's time plus the window it
-- was recorded with, after which DeleteExpired removes it.
CREATE TABLE throttle_failures (
	id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key        BYTEA   NOT NULL,
	at         BIGINT  NOT NULL,
	expires_at BIGINT  NOT NULL
);
CREATE INDEX throttle_failures_key_at ON throttle_failures (key, at);
CREATE INDEX throttle_failures_expires_at ON throttle_failures (expires_at);
