-- The ring of access-token signing keys (package keyring). sealed is the
-- key material under AES-256-GCM with a key derived from the root secret,
-- which is never in this database: a copy of it signs nothing. The root
-- key's row has no sealed material.
CREATE TABLE signing_keys (
	id           text        NOT NULL,
	alg          text        NOT NULL,
	state        text        NOT NULL CHECK (state IN ('published', 'active', 'retired')),
	sealed       bytea,
	created_at   timestamptz NOT NULL,
	activated_at timestamptz,
	retired_at   timestamptz,
	CONSTRAINT signing_keys_pkey PRIMARY KEY (id)
);
