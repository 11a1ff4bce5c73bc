-- Passkeys (package passkey). Nothing here is a secret: a credential's
-- private key never leaves its authenticator, and a ceremony's challenge
-- only works together with a signature over it.

-- The WebAuthn user handle: random, never the user id, so a credential
-- discovered by a browser does not reveal the account's number.
CREATE TABLE passkey_handles (
	user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	handle  BLOB    NOT NULL UNIQUE
) STRICT;

CREATE TABLE passkey_credentials (
	id              BLOB    PRIMARY KEY,
	user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	public_key      BLOB    NOT NULL,
	sign_count      INTEGER NOT NULL,
	aaguid          BLOB    NOT NULL,
	transports      TEXT    NOT NULL, -- comma-separated
	backup_eligible INTEGER NOT NULL,
	backed_up       INTEGER NOT NULL,
	name            TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	last_used_at    INTEGER
) STRICT;

CREATE INDEX passkey_credentials_user_id ON passkey_credentials (user_id, created_at);

-- Begun ceremonies, keyed by a hash of their challenge; taken (deleted)
-- by their finish, pruned when expired.
CREATE TABLE passkey_ceremonies (
	key        TEXT    PRIMARY KEY,
	kind       TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT    NOT NULL,
	data       BLOB    NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX passkey_ceremonies_expires_at ON passkey_ceremonies (expires_at);
CREATE INDEX passkey_ceremonies_user_id ON passkey_ceremonies (user_id);
-- A begin supersedes its session's earlier ceremony of the same kind
-- (passkey.Store.SaveCeremony).
CREATE INDEX passkey_ceremonies_session ON passkey_ceremonies (session_id, kind);
