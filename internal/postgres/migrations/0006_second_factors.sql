-- Second factors (auth/stepup.go). A session records how its sign-in was
-- proven (auth_methods, comma-separated: they set its AAL), when and how
-- it last proved its user (authenticated_at, authenticated_by: the step-up
-- rule) and whether it still waits for its second factor (pending).
-- Sessions from before say nothing: auth reads that as a password sign-in
-- proven at creation. Adding columns with constant defaults rewrites no
-- rows.
ALTER TABLE sessions
	ADD COLUMN pending          boolean     NOT NULL DEFAULT false,
	ADD COLUMN auth_methods     text        NOT NULL DEFAULT '',
	ADD COLUMN authenticated_at timestamptz,
	ADD COLUMN authenticated_by text        NOT NULL DEFAULT '';
