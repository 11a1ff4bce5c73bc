-- A recovery code spent on a finish or a step-up that the session then
-- refused is given back (mfa/flow.go): that makes a factor usable again,
-- so it sets the hint like the statements of 0009.
CREATE TRIGGER recovery_code_restored AFTER UPDATE OF used_at ON recovery_codes
FOR EACH ROW
WHEN (OLD.used_at IS NOT NULL AND NEW.used_at IS NULL)
EXECUTE FUNCTION mark_second_factor();
