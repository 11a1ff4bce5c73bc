-- The credentials of an imported session's generation 0 (auth.ImportedSecrets),
-- which the Rails app made at random and Gatehouse cannot derive, kept on the
-- session's row: inserted with it and read with it, so that no session pays a
-- read of its own for them. NULL for every session Gatehouse started; they go
-- with the row. Nullable columns without a default: no rewrite of the table.
ALTER TABLE sessions ADD COLUMN imported_access_uid text, ADD COLUMN imported_csrf bytea;
