-- Budgets of auth.Counter's Admit and Settle (internal/postgres/counter.go).
-- A back-off is a counters row whose count is its failures and whose
-- blocked_until ends its block; reset_at, when it is forgotten, covers the
-- block, so the sweep never deletes a running block.
ALTER TABLE counters ADD COLUMN blocked_until timestamptz;

-- In-flight slots: one row per holder, which frees itself at expires_at
-- should its node die before settling.
CREATE TABLE counter_slots (
	key        text        NOT NULL,
	holder     text        NOT NULL,
	expires_at timestamptz NOT NULL,
	CONSTRAINT counter_slots_pkey PRIMARY KEY (key, holder)
);

CREATE INDEX counter_slots_expires_at ON counter_slots (expires_at);

-- counter_admit checks every budget and, only if none refuses, takes from
-- each: one statement, so one round trip. It returns 0 if admitted, else
-- the wait in microseconds. Durations are microseconds. Admissions that
-- share a key are serialized by transaction-scoped advisory locks taken in
-- key order, so two admissions cannot deadlock, and the check and the take
-- see the same rows. The back-off delay mirrors auth.BackoffDelay.
CREATE FUNCTION counter_admit(
	rate_keys text[], rate_limits bigint[], rate_windows bigint[],
	backoff_keys text[], backoff_free bigint[], backoff_max bigint[], backoff_memory bigint[],
	slot_keys text[], slot_max bigint[], slot_holder text, slot_ttl bigint
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	t0   timestamptz := statement_timestamp();
	wait interval := interval '0';
	k    text;
	i    int;
	n    bigint;
	r    record;
	d    interval;
BEGIN
	FOR k IN SELECT DISTINCT x FROM unnest(rate_keys || backoff_keys || slot_keys) AS x ORDER BY 1 LOOP
		PERFORM pg_advisory_xact_lock(1668249458, hashtext(k)); -- first int: 'cntr', this lock space
	END LOOP;

	FOR i IN 1 .. coalesce(array_length(rate_keys, 1), 0) LOOP
		SELECT c.count, c.reset_at INTO r FROM counters c WHERE c.key = rate_keys[i] AND c.reset_at > t0;
		IF FOUND AND r.count >= rate_limits[i] THEN
			wait := greatest(wait, r.reset_at - t0);
		END IF;
	END LOOP;
	FOR i IN 1 .. coalesce(array_length(backoff_keys, 1), 0) LOOP
		SELECT c.blocked_until INTO r FROM counters c
		WHERE c.key = backoff_keys[i] AND c.reset_at > t0 AND c.blocked_until > t0;
		IF FOUND THEN
			wait := greatest(wait, r.blocked_until - t0);
		END IF;
	END LOOP;
	FOR i IN 1 .. coalesce(array_length(slot_keys, 1), 0) LOOP
		DELETE FROM counter_slots s WHERE s.key = slot_keys[i] AND s.expires_at <= t0;
		IF (SELECT count(*) FROM counter_slots s WHERE s.key = slot_keys[i]) >= slot_max[i] THEN
			wait := greatest(wait, interval '1 second');
		END IF;
	END LOOP;
	IF wait > interval '0' THEN
		RETURN greatest(1, ceil(extract(epoch FROM wait) * 1000000))::bigint;
	END IF;

	FOR i IN 1 .. coalesce(array_length(rate_keys, 1), 0) LOOP
		INSERT INTO counters AS c (key, count, reset_at)
		VALUES (rate_keys[i], 1, t0 + rate_windows[i] * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN c.reset_at <= t0 THEN 1 ELSE c.count + 1 END,
			reset_at = CASE WHEN c.reset_at <= t0 THEN excluded.reset_at ELSE c.reset_at END;
	END LOOP;
	FOR i IN 1 .. coalesce(array_length(backoff_keys, 1), 0) LOOP
		INSERT INTO counters AS c (key, count, reset_at)
		VALUES (backoff_keys[i], 1, t0 + backoff_memory[i] * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN c.reset_at <= t0 THEN 1 ELSE c.count + 1 END,
			reset_at = CASE WHEN c.reset_at <= t0 THEN excluded.reset_at ELSE c.reset_at END,
			blocked_until = CASE WHEN c.reset_at <= t0 THEN NULL ELSE c.blocked_until END
		RETURNING c.count INTO n;
		IF n > backoff_free[i] THEN
			d := backoff_max[i] * interval '1 microsecond';
			IF n - backoff_free[i] - 1 < 32 THEN
				d := least(d, (1::bigint << (n - backoff_free[i] - 1)::int) * interval '1 second');
			END IF;
			-- greatest ignores NULL: a block is only ever extended.
			UPDATE counters SET blocked_until = greatest(blocked_until, t0 + d), reset_at = greatest(reset_at, t0 + d)
			WHERE key = backoff_keys[i];
		END IF;
	END LOOP;
	FOR i IN 1 .. coalesce(array_length(slot_keys, 1), 0) LOOP
		INSERT INTO counter_slots (key, holder, expires_at)
		VALUES (slot_keys[i], slot_holder, t0 + slot_ttl * interval '1 microsecond')
		ON CONFLICT DO NOTHING;
	END LOOP;
	RETURN 0;
END
$$;
