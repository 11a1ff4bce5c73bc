-- The credentials of an imported session's generation 0 (auth.ImportedSecrets)
-- move onto the session's row: read with it, so that no session pays a read of
-- its own for them, and inserted with it, one row per imported session instead
-- of two. NULL for every session Gatehouse started; they go with the row.
ALTER TABLE sessions ADD COLUMN imported_access_uid text, ADD COLUMN imported_csrf bytea;

UPDATE sessions s SET imported_access_uid = i.access_uid, imported_csrf = i.csrf
FROM imported_sessions i WHERE i.session_id = s.id;

DROP TABLE imported_sessions;
