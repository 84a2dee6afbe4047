-- Whether the operator lets a public client use the password grant (a
-- client lists the grant in its grant_types; public ones also need this).
ALTER TABLE clients ADD COLUMN public_password_grant INTEGER NOT NULL DEFAULT 0;
