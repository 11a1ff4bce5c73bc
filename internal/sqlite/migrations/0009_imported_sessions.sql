-- The credentials of an imported session's generation 0 (auth.ImportedSecrets)
-- move onto the session's row: read with it, so that no session pays a read of
-- its own for them, and inserted with it, one row per imported session instead
-- of two. NULL for every session Gatehouse started; they go with the row.
ALTER TABLE sessions ADD COLUMN imported_access_uid TEXT;
ALTER TABLE sessions ADD COLUMN imported_csrf BLOB;

UPDATE sessions
SET (imported_access_uid, imported_csrf) = (
	SELECT access_uid, csrf FROM imported_sessions WHERE session_id = sessions.id)
WHERE id IN (SELECT session_id FROM imported_sessions);

DROP TABLE imported_sessions;
