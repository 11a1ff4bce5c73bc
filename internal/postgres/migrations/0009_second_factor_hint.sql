-- A hint on the user row, read with the user at sign-in: the user may
-- have a second factor. A password sign-in of a user without it asks no
-- factor table (auth/factorhint.go). The triggers below set it, and bump
-- factor_version, in the statement that makes a factor usable, whatever
-- code writes it; only auth clears it, by a compare-and-swap on
-- factor_version, so that a factor added meanwhile keeps it set. Adding
-- columns with constant defaults rewrites no rows.
ALTER TABLE users
	ADD COLUMN may_have_second_factor boolean NOT NULL DEFAULT false,
	ADD COLUMN factor_version         bigint  NOT NULL DEFAULT 0;

-- Conservatively, any factor row counts, even an unconfirmed TOTP secret
-- or used-up recovery codes: a hint set wrongly costs reads, one missing
-- would skip a second step.
UPDATE users SET may_have_second_factor = true
WHERE id IN (SELECT user_id FROM totp_secrets
	UNION SELECT user_id FROM recovery_codes
	UNION SELECT user_id FROM passkey_credentials);

-- The row update takes the user row's lock, so a concurrent
-- compare-and-swap that clears the hint either commits first (and this
-- sets it again) or waits and then finds factor_version moved.
CREATE FUNCTION mark_second_factor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE users SET may_have_second_factor = true, factor_version = factor_version + 1 WHERE id = NEW.user_id;
	RETURN NULL;
END;
$$;

CREATE TRIGGER totp_confirmed AFTER UPDATE OF confirmed_at ON totp_secrets
FOR EACH ROW
WHEN (NEW.confirmed_at IS NOT NULL AND OLD.confirmed_at IS NULL)
EXECUTE FUNCTION mark_second_factor();

CREATE TRIGGER totp_inserted_confirmed AFTER INSERT ON totp_secrets
FOR EACH ROW
WHEN (NEW.confirmed_at IS NOT NULL)
EXECUTE FUNCTION mark_second_factor();

CREATE TRIGGER recovery_code_added AFTER INSERT ON recovery_codes
FOR EACH ROW
EXECUTE FUNCTION mark_second_factor();

CREATE TRIGGER passkey_added AFTER INSERT ON passkey_credentials
FOR EACH ROW
EXECUTE FUNCTION mark_second_factor();
