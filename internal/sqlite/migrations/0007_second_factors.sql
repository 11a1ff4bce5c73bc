-- Second factors (auth/stepup.go). A session records how its sign-in was
-- proven (auth_methods, comma-separated: they set its AAL), when and how
-- it last proved its user (authenticated_at, authenticated_by: the step-up
-- rule) and whether it still waits for its second factor (pending).
-- Sessions from before say nothing: auth reads that as a password sign-in
-- proven at creation.
ALTER TABLE sessions ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER;
ALTER TABLE sessions ADD COLUMN authenticated_by TEXT NOT NULL DEFAULT '';

-- TOTP secrets (package mfa), sealed under the root secret: a reader of
-- the database cannot compute codes. last_step is the time step of the
-- last accepted code, so a code is accepted once.
CREATE TABLE totp_secrets (
	user_id      INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	sealed       BLOB    NOT NULL,
	created_at   INTEGER NOT NULL,
	confirmed_at INTEGER,
	last_step    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Recovery codes, only their keyed hashes; used_at marks one used.
CREATE TABLE recovery_codes (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash       BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	used_at    INTEGER,
	PRIMARY KEY (user_id, hash)
) STRICT;
