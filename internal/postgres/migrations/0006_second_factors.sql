-- Second factors (auth/stepup.go). A session records how its sign-in was
-- proven (auth_methods, comma-separated: they set its AAL), when and how
-- it last proved its user (authenticated_at, authenticated_by: the step-up
-- rule) and whether it still waits for its second factor (pending).
-- Sessions from before say nothing: auth reads that as a password sign-in
-- proven at creation. Adding columns with constant defaults rewrites no
-- rows.
ALTER TABLE sessions
	ADD COLUMN pending          boolean     NOT NULL DEFAULT false,
	ADD COLUMN auth_methods     text        NOT NULL DEFAULT '',
	ADD COLUMN authenticated_at timestamptz,
	ADD COLUMN authenticated_by text        NOT NULL DEFAULT '';

-- TOTP secrets (package mfa), sealed under the root secret: a reader of
-- the database cannot compute codes. last_step is the time step of the
-- last accepted code, so a code is accepted once.
CREATE TABLE totp_secrets (
	user_id      bigint      NOT NULL,
	sealed       bytea       NOT NULL,
	created_at   timestamptz NOT NULL,
	confirmed_at timestamptz,
	last_step    bigint      NOT NULL DEFAULT 0,
	CONSTRAINT totp_secrets_pkey PRIMARY KEY (user_id),
	CONSTRAINT totp_secrets_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Recovery codes, only their keyed hashes; used_at marks one used.
CREATE TABLE recovery_codes (
	user_id    bigint      NOT NULL,
	hash       bytea       NOT NULL,
	created_at timestamptz NOT NULL,
	used_at    timestamptz,
	CONSTRAINT recovery_codes_pkey PRIMARY KEY (user_id, hash),
	CONSTRAINT recovery_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
