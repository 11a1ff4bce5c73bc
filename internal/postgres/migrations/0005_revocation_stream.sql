-- A durable, ordered log of session changes for the revocation stream
-- (GET /v1/auth/revocations), which must resume from a position after a
-- reconnect: NOTIFY alone is lost while nobody listens. Triggers write it
-- in the same transaction as the change, so a rolled-back change is never
-- logged. NOTIFY still wakes the streams.
CREATE TABLE session_changes (
	seq               bigserial   NOT NULL,
	session_id        text        NOT NULL,
	generation        bigint      NOT NULL,
	revoked           boolean     NOT NULL,
	rotated_at        timestamptz NOT NULL,
	access_expires_at timestamptz NOT NULL,
	CONSTRAINT session_changes_pkey PRIMARY KEY (seq)
);

-- A bigserial is drawn when a row is inserted, not when its transaction
-- commits: two concurrent changes can commit in the other order, and a
-- reader that saw seq 11 before 10 committed would skip 10 for ever. The
-- transaction-scoped advisory lock makes every logging transaction wait
-- for the previous one to commit before it draws its number, so positions
-- are in commit order. It serializes only the tail of session-changing
-- transactions (the trigger runs at their last statement). Key:
-- "gatechlg" in ASCII.
CREATE FUNCTION log_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(7449363237455817831);
	IF TG_OP = 'DELETE' THEN
		INSERT INTO session_changes (session_id, generation, revoked, rotated_at, access_expires_at)
		VALUES (OLD.id, OLD.generation, true, OLD.rotated_at, OLD.access_expires_at);
		RETURN OLD;
	END IF;
	INSERT INTO session_changes (session_id, generation, revoked, rotated_at, access_expires_at)
	VALUES (NEW.id, NEW.generation, NEW.revoked_at IS NOT NULL, NEW.rotated_at, NEW.access_expires_at);
	RETURN NEW;
END;
$$;

CREATE TRIGGER sessions_changed AFTER UPDATE OF generation, revoked_at ON sessions
FOR EACH ROW
WHEN (NEW.generation IS DISTINCT FROM OLD.generation OR NEW.revoked_at IS DISTINCT FROM OLD.revoked_at)
EXECUTE FUNCTION log_session_change();

-- A session deleted live (its user deleted) is a revocation; deleting one
-- already revoked (pruning) announces nothing new.
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
FOR EACH ROW
WHEN (OLD.revoked_at IS NULL)
EXECUTE FUNCTION log_session_change();

-- Credentials of services that follow the revocation stream. Only the
-- SHA-256 of a token is kept: the token is 256 random bits, so the hash
-- cannot be reversed by guessing and a copy of the database authenticates
-- nobody.
CREATE TABLE service_tokens (
	id         bigserial   NOT NULL,
	name       text        NOT NULL,
	hash       bytea       NOT NULL,
	created_at timestamptz NOT NULL,
	revoked_at timestamptz,
	CONSTRAINT service_tokens_pkey PRIMARY KEY (id),
	CONSTRAINT service_tokens_hash_key UNIQUE (hash)
);
