-- RFC 8707 resource indicators (issue 13): the resources (absolute URIs,
-- space-separated) an authorization code, a device authorization and a
-- grant were authorized for; an access token's audience is a subset.
ALTER TABLE codes ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE device_auths ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN resources TEXT NOT NULL DEFAULT '';
