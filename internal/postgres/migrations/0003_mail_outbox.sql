-- The mail outbox and the stored halves of mail links' tokens, as in the
-- SQLite schema (see its 0005_mail_outbox.sql for the reasons).
CREATE TABLE mail_outbox (
	id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind            text        NOT NULL,
	recipient       text        NOT NULL,
	user_id         bigint      NOT NULL DEFAULT 0,
	token_id        text        NOT NULL DEFAULT '',
	state           text        NOT NULL,
	attempts        integer     NOT NULL DEFAULT 0,
	last_error      text        NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	next_attempt_at timestamptz NOT NULL,
	sent_at         timestamptz
);

CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'pending';

ALTER TABLE users ADD COLUMN email_confirmation_pending boolean NOT NULL DEFAULT false;

CREATE TABLE mail_tokens (
	id         text        PRIMARY KEY,
	user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose    text        NOT NULL,
	email      text        NOT NULL,
	stamp      text        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	CONSTRAINT mail_tokens_user_purpose UNIQUE (user_id, purpose)
);
