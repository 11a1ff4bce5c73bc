-- The mail outbox and the stored halves of mail links' tokens (issue:
-- account recovery and email). A mail is written in the same transaction
-- as the token it carries, and kept after sending, for inspection.

-- user_id has no foreign key: a mail outlives the account it was for, so
-- an operator can still see what was sent. token_id names a mail_tokens
-- row; the token itself is derived from it with the service key.
CREATE TABLE mail_outbox (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	kind            TEXT    NOT NULL,
	recipient       TEXT    NOT NULL,
	user_id         INTEGER NOT NULL DEFAULT 0,
	token_id        TEXT    NOT NULL DEFAULT '',
	state           TEXT    NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	sent_at         INTEGER
) STRICT;

-- Serves ClaimMail and CountPendingMails: only the backlog is indexed.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'pending';

-- Set by registration until the address is confirmed by link. Accounts
-- created otherwise (before this migration, by an administrator, by
-- import) count as confirmed: the seed's clients knew no confirmation.
ALTER TABLE users ADD COLUMN email_confirmation_pending INTEGER NOT NULL DEFAULT 0;

-- One token per user and purpose: issuing a new one replaces (kills) the
-- old. Deleting the user deletes its tokens.
CREATE TABLE mail_tokens (
	id         TEXT    PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose    TEXT    NOT NULL,
	email      TEXT    NOT NULL, -- the address the link proves (an address change: the new one)
	stamp      TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	UNIQUE (user_id, purpose)
) STRICT;
