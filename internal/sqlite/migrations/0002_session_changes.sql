-- A change log of sessions, written by triggers in the same transaction as
-- the change itself, so that other processes on this file (the admin CLI,
-- a second server) can tell a running server what they rotated or revoked.
-- The server polls it (Store.Follow) and keeps its session cache current.
CREATE TABLE session_changes (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id TEXT NOT NULL,
	generation INTEGER NOT NULL,
	revoked    INTEGER NOT NULL
) STRICT;

CREATE TRIGGER sessions_changed AFTER UPDATE OF generation, revoked_at ON sessions
WHEN NEW.generation IS NOT OLD.generation OR NEW.revoked_at IS NOT OLD.revoked_at
BEGIN
	INSERT INTO session_changes (session_id, generation, revoked)
	VALUES (NEW.id, NEW.generation, NEW.revoked_at IS NOT NULL);
END;

-- Deleting a user deletes its sessions by cascade, which fires this too.
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
BEGIN
	INSERT INTO session_changes (session_id, generation, revoked)
	VALUES (OLD.id, OLD.generation, 1);
END;
