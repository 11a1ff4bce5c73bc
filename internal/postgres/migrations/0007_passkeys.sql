-- Passkeys (package passkey); the same tables as the SQLite schema.
-- Nothing here is a secret: a credential's private key never leaves its
-- authenticator, and a ceremony's challenge only works together with a
-- signature over it.

-- The WebAuthn user handle: random, never the user id, so a credential
-- discovered by a browser does not reveal the account's number.
CREATE TABLE passkey_handles (
	user_id bigint NOT NULL,
	handle  bytea  NOT NULL,
	CONSTRAINT passkey_handles_pkey PRIMARY KEY (user_id),
	CONSTRAINT passkey_handles_handle_key UNIQUE (handle),
	CONSTRAINT passkey_handles_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE passkey_credentials (
	id              bytea       NOT NULL,
	user_id         bigint      NOT NULL,
	public_key      bytea       NOT NULL,
	sign_count      bigint      NOT NULL,
	aaguid          bytea       NOT NULL,
	transports      text        NOT NULL, -- comma-separated
	backup_eligible boolean     NOT NULL,
	backed_up       boolean     NOT NULL,
	name            text        NOT NULL,
	created_at      timestamptz NOT NULL,
	last_used_at    timestamptz,
	CONSTRAINT passkey_credentials_pkey PRIMARY KEY (id),
	CONSTRAINT passkey_credentials_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX passkey_credentials_user_id ON passkey_credentials (user_id, created_at);

-- Begun ceremonies, keyed by a hash of their challenge; taken (deleted)
-- by their finish, pruned when expired.
CREATE TABLE passkey_ceremonies (
	key        text        NOT NULL,
	kind       text        NOT NULL,
	session_id text        NOT NULL,
	user_id    bigint,
	name       text        NOT NULL,
	data       bytea       NOT NULL,
	expires_at timestamptz NOT NULL,
	CONSTRAINT passkey_ceremonies_pkey PRIMARY KEY (key),
	CONSTRAINT passkey_ceremonies_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX passkey_ceremonies_expires_at ON passkey_ceremonies (expires_at);
CREATE INDEX passkey_ceremonies_user_id ON passkey_ceremonies (user_id);
-- A begin supersedes its session's earlier ceremony of the same kind
-- (passkey.Store.SaveCeremony).
CREATE INDEX passkey_ceremonies_session ON passkey_ceremonies (session_id, kind);
