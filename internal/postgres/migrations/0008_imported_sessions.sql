-- The credentials of an imported session's generation 0 (auth.ImportedSecrets),
-- which the Rails app made at random and Gatehouse cannot derive. They are
-- needed only until the session's first refresh has left the grace window;
-- PruneImportedSecrets then deletes them. Kept apart from sessions so that
-- an ordinary session carries nothing for them.
CREATE TABLE imported_sessions (
	session_id text  NOT NULL,
	access_uid text  NOT NULL,
	csrf       bytea NOT NULL,
	CONSTRAINT imported_sessions_pkey PRIMARY KEY (session_id),
	CONSTRAINT imported_sessions_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
