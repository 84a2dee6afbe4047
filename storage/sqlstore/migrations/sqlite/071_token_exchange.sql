-- RFC 8693 token exchange (issue 14): the audience of an exchanged token
-- (space-separated client ids) and the "act" claim (JSON) of its grant.
ALTER TABLE tokens ADD COLUMN audience TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN actor TEXT NOT NULL DEFAULT '';
