-- Times are INTEGER Unix microseconds in UTC: compact, sortable, and an
-- exact round trip of the microsecond-truncated times the service uses.
-- NULL in locked_at / revoked_at means "not locked" / "still live".

-- AUTOINCREMENT: a deleted user's id is never handed out again, so a token
-- or log line naming an old id can never be mistaken for a new account.
-- It also moves the sequence past ids inserted explicitly by ImportUsers.
CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	email         TEXT    NOT NULL UNIQUE,
	password_hash TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	locked_at     INTEGER
) STRICT;

CREATE TABLE sessions (
	id                TEXT    PRIMARY KEY,
	user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	generation        INTEGER NOT NULL,
	rotated_at        INTEGER NOT NULL,
	access_expires_at INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	last_used_at      INTEGER NOT NULL,
	expires_at        INTEGER NOT NULL,
	revoked_at        INTEGER,
	ip                TEXT    NOT NULL,
	user_agent        TEXT    NOT NULL
) STRICT;

-- Serves ListSessions, the eviction in CreateSession, RevokeUserSessions and
-- the ON DELETE CASCADE from users.
CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at);

CREATE TABLE secrets (
	name       TEXT    PRIMARY KEY,
	value      BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
