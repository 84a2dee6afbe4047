-- A check value (a MAC) of the system secret, so that the database is never
-- used with another secret than the one its data is sealed with.
CREATE TABLE secret_check (
	id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	value BLOB    NOT NULL
);
