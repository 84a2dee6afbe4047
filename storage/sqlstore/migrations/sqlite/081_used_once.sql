-- One-time values (client assertion jti, RFC 7523 §3; DPoP proof jti), by
-- digest, kept until they expire: a replay on any node finds the row.
CREATE TABLE used_once (
	key        BLOB NOT NULL PRIMARY KEY,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX used_once_expires_at ON used_once (expires_at);
