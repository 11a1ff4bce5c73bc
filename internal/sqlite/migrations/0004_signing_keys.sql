-- The ring of access-token signing keys (package keyring). sealed is the
-- key material under AES-256-GCM with a key derived from the root secret,
-- which is never in this database: a copy of it signs nothing. The root
-- key's row has no sealed material.
CREATE TABLE signing_keys (
	id           TEXT    PRIMARY KEY,
	alg          TEXT    NOT NULL,
	state        TEXT    NOT NULL CHECK (state IN ('published', 'active', 'retired')),
	sealed       BLOB,
	created_at   INTEGER NOT NULL,
	activated_at INTEGER,
	retired_at   INTEGER
) STRICT;
