-- A client's logo as oidcd serves it itself (the consent page never loads
-- an image from another host).
ALTER TABLE clients ADD COLUMN logo_image BYTEA;
ALTER TABLE clients ADD COLUMN logo_type TEXT NOT NULL DEFAULT '';
