-- A hint on the user row, read with the user at sign-in: the user may
-- have a second factor. A password sign-in of a user without it asks no
-- factor table (auth/factorhint.go). The triggers below set it, and bump
-- factor_version, in the statement that makes a factor usable, whatever
-- code writes it; only auth clears it, by a compare-and-swap on
-- factor_version, so that a factor added meanwhile keeps it set.
ALTER TABLE users ADD COLUMN may_have_second_factor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN factor_version INTEGER NOT NULL DEFAULT 0;

-- Conservatively, any factor row counts, even an unconfirmed TOTP secret
-- or used-up recovery codes: a hint set wrongly costs reads, one missing
-- would skip a second step.
UPDATE users SET may_have_second_factor = 1
WHERE id IN (SELECT user_id FROM totp_secrets
	UNION SELECT user_id FROM recovery_codes
	UNION SELECT user_id FROM passkey_credentials);

CREATE TRIGGER totp_confirmed AFTER UPDATE OF confirmed_at ON totp_secrets
WHEN NEW.confirmed_at IS NOT NULL AND OLD.confirmed_at IS NULL
BEGIN
	UPDATE users SET may_have_second_factor = 1, factor_version = factor_version + 1 WHERE id = NEW.user_id;
END;

CREATE TRIGGER totp_inserted_confirmed AFTER INSERT ON totp_secrets
WHEN NEW.confirmed_at IS NOT NULL
BEGIN
	UPDATE users SET may_have_second_factor = 1, factor_version = factor_version + 1 WHERE id = NEW.user_id;
END;

CREATE TRIGGER recovery_code_added AFTER INSERT ON recovery_codes
BEGIN
	UPDATE users SET may_have_second_factor = 1, factor_version = factor_version + 1 WHERE id = NEW.user_id;
END;

CREATE TRIGGER passkey_added AFTER INSERT ON passkey_credentials
BEGIN
	UPDATE users SET may_have_second_factor = 1, factor_version = factor_version + 1 WHERE id = NEW.user_id;
END;
