-- The credentials of an imported session's generation 0 (auth.ImportedSecrets),
-- which the Rails app made at random and Gatehouse cannot derive. They are
-- needed only until the session's first refresh has left the grace window;
-- PruneImportedSecrets then deletes them. Kept apart from sessions so that
-- an ordinary session carries nothing for them.
CREATE TABLE imported_sessions (
	session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
	access_uid TEXT NOT NULL,
	csrf       BLOB NOT NULL
) STRICT, WITHOUT ROWID;
