-- RFC 9449 DPoP (issue 14): the key thumbprint a token is bound to, and the
-- dpop_jkt an authorization code's tokens must be bound to.
ALTER TABLE tokens ADD COLUMN jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
