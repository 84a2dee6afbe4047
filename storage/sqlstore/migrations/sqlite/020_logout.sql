-- Logout (issue 8): the clients' logout endpoints, the clients of each
-- browser session and the durable back-channel delivery queue.
ALTER TABLE clients ADD COLUMN frontchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN frontchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;

CREATE TABLE session_clients (
	session_id TEXT    NOT NULL,
	client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	user_id    TEXT    NOT NULL,
	created_at INTEGER,
	expires_at INTEGER,
	PRIMARY KEY (session_id, client_id)
);
CREATE INDEX session_clients_client_id ON session_clients (client_id);
CREATE INDEX session_clients_expires_at ON session_clients (expires_at);

CREATE TABLE logout_messages (
	id              TEXT    NOT NULL PRIMARY KEY,
	client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	uri             TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	session_id      TEXT    NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	lease_until     INTEGER,
	last_error      TEXT    NOT NULL,
	created_at      INTEGER,
	expires_at      INTEGER
);
CREATE INDEX logout_messages_due ON logout_messages (next_attempt_at);
CREATE INDEX logout_messages_client_id ON logout_messages (client_id);
