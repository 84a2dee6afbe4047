-- Pushed authorization requests (RFC 9126), by the digest of their
-- request_uri; deleted when used up or expired.
CREATE TABLE pushed_requests (
	hash       BLOB    NOT NULL PRIMARY KEY,
	client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	params     TEXT    NOT NULL,
	created_at INTEGER,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
CREATE INDEX pushed_requests_client_id ON pushed_requests (client_id);
