-- A recovery code spent on a finish or a step-up that the session then
-- refused is given back (mfa/flow.go): that makes a factor usable again,
-- so it sets the hint like the statements of 0010.
CREATE TRIGGER recovery_code_restored AFTER UPDATE OF used_at ON recovery_codes
WHEN OLD.used_at IS NOT NULL AND NEW.used_at IS NULL
BEGIN
	UPDATE users SET may_have_second_factor = 1, factor_version = factor_version + 1 WHERE id = NEW.user_id;
END;
