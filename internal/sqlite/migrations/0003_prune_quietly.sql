-- Deleting a session that was already revoked (pruning old sessions)
-- announces nothing: its revocation was announced when it happened, and a
-- burst of stale announcements would only fill followers' caches.
DROP TRIGGER sessions_deleted;

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
WHEN OLD.revoked_at IS NULL
BEGIN
	INSERT INTO session_changes (session_id, generation, revoked)
	VALUES (OLD.id, OLD.generation, 1);
END;
