-- The revocation stream (GET /v1/auth/revocations) serves the session
-- change log to downstream services. To reject exactly the access token a
-- rotation retires, an entry needs the rotation's time (the previous
-- token stays valid for the refresh grace after it) and the new access
-- token's expiry (a token newer than the stream has reported is not a
-- retired one). Entries written before this migration carry 0.
ALTER TABLE session_changes ADD COLUMN rotated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE session_changes ADD COLUMN access_expires_at INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER sessions_changed;
CREATE TRIGGER sessions_changed AFTER UPDATE OF generation, revoked_at ON sessions
WHEN NEW.generation IS NOT OLD.generation OR NEW.revoked_at IS NOT OLD.revoked_at
BEGIN
	INSERT INTO session_changes (session_id, generation, revoked, rotated_at, access_expires_at)
	VALUES (NEW.id, NEW.generation, NEW.revoked_at IS NOT NULL, NEW.rotated_at, NEW.access_expires_at);
END;

DROP TRIGGER sessions_deleted;
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
WHEN OLD.revoked_at IS NULL
BEGIN
	INSERT INTO session_changes (session_id, generation, revoked, rotated_at, access_expires_at)
	VALUES (OLD.id, OLD.generation, 1, OLD.rotated_at, OLD.access_expires_at);
END;

-- Credentials of services that follow the revocation stream. Only the
-- SHA-256 of a token is kept: the token is 256 random bits, so the hash
-- cannot be reversed by guessing and a copy of the database authenticates
-- nobody.
CREATE TABLE service_tokens (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT    NOT NULL,
	hash       BLOB    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;
