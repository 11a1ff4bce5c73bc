-- Second factors (auth/stepup.go). A session records how its sign-in was
-- proven (auth_methods, comma-separated: they set its AAL), when and how
-- it last proved its user (authenticated_at, authenticated_by: the step-up
-- rule) and whether it still waits for its second factor (pending).
-- Sessions from before say nothing: auth reads that as a password sign-in
-- proven at creation.
ALTER TABLE sessions ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER;
ALTER TABLE sessions ADD COLUMN authenticated_by TEXT NOT NULL DEFAULT '';
