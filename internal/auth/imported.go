package auth

import (
	"context"
	"time"
)

// An imported session is one moved from the Rails app's jwt_sessions
// store with its tokens still live. Its generation 0 was made by the gem,
// not derived: the access token's uid is random and so is the CSRF secret.
// The store keeps those two on the session's row (Session.Imported), read
// with it, so no session pays a read of its own for them. Gatehouse uses
// them only while they can still be presented: at generation 0, and at
// generation 1 while the refresh grace window still accepts the previous
// generation. From then on the session runs on derived secrets like any
// other. They stay on the row until the session is deleted: a DB reader
// learns nothing from them that it could use once the gem's access token
// has expired (a CSRF secret works only with its generation's token), and
// a change-log reader that lags behind a session's later rotations can
// still name its generation 0's token.

// ImportedSecrets are the credentials of an imported session's generation
// 0, as the system it came from made them.
type ImportedSecrets struct {
	AccessID   string // the uid claim of the access token current at import
	CSRFSecret []byte // csrf.SecretSize bytes
}

// SessionImportOutcome is what MergeImportedSessions did with one
// session.
type SessionImportOutcome uint8

// The outcomes.
const (
	// SessionInserted: the session was not present and is now.
	SessionInserted SessionImportOutcome = iota
	// SessionPresent: the session was present; if still at generation 0,
	// its imported secrets were replaced by the batch's.
	SessionPresent
	// SessionUserUnknown: the session's user does not exist; skipped.
	SessionUserUnknown
)

// ImportedSessionStore is a Store that can take imported sessions. Without
// one, no session is imported and every session runs on derived secrets.
type ImportedSessionStore interface {
	// ImportSessions inserts sessions exactly as given (their Imported
	// secrets included), in bulk: no per-user cap, no change logged (no
	// node can have cached a session that did not exist). A missing user
	// (ErrNotFound) or an id already present fails the whole batch.
	ImportSessions(ctx context.Context, sessions []Session) error
	// MergeImportedSessions stores batch, sorted by id, in one
	// transaction: a session whose user does not exist is skipped; one not
	// present is inserted as ImportSessions would; one present keeps its
	// state, but while it is still at generation 0 its Imported secrets are
	// replaced by the batch's (the source may have refreshed it since the
	// last run). A repeated id counts as present from its second row on.
	// outcomes[i] says what became of batch[i].
	MergeImportedSessions(ctx context.Context, batch []Session) (outcomes []SessionImportOutcome, err error)
	// ImportedSecrets returns the imported secrets of those of ids that
	// have any (sessions imported and not deleted), in one read.
	ImportedSecrets(ctx context.Context, ids []string) (map[string]*ImportedSecrets, error)
}

// genSecrets gives the access id and CSRF secret of each generation of
// one session: derived, but for generation 0 of an imported session.
type genSecrets struct {
	keys     sessionKeys
	id       string
	imported *ImportedSecrets
}

func (g genSecrets) accessID(gen int64) string {
	if gen == 0 && g.imported != nil {
		return g.imported.AccessID
	}
	return g.keys.accessID(g.id, gen)
}

func (g genSecrets) csrf(gen int64) []byte {
	if gen == 0 && g.imported != nil {
		return g.imported.CSRFSecret
	}
	return g.keys.csrfSecret(g.id, gen)
}

// derivedSecrets are the secrets of a session that was not imported: one
// this node has just created.
func (s *Service) derivedSecrets(id string) genSecrets { return genSecrets{keys: s.keys, id: id} }

// secretsOf returns the secrets of sess at now: its imported ones only
// while they can still be presented (see the top of this file).
func (s *Service) secretsOf(sess *Session, now time.Time) genSecrets {
	g := s.derivedSecrets(sess.ID)
	if sess.Generation == 0 || sess.Generation == 1 && now.Before(sess.RotatedAt.Add(s.grace)) {
		g.imported = sess.Imported
	}
	return g
}

// importedSecretsOf returns, in one read, the imported secrets of the
// sessions of changes at generation maxGen or below, for change-log
// readers: an entry names its session but does not carry it, and only a
// generation 0, or a generation 1 whose previous one was 0, can need them.
func (s *Service) importedSecretsOf(ctx context.Context, changes []SessionChange, maxGen int64) (map[string]*ImportedSecrets, error) {
	imp, ok := s.store.(ImportedSessionStore)
	if !ok {
		return nil, nil
	}
	var ids []string
	for _, c := range changes {
		if c.Generation <= maxGen {
			ids = append(ids, c.SessionID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return imp.ImportedSecrets(ctx, ids)
}

// secretsWith are the secrets of session id given the imported secrets
// importedSecretsOf found.
func (s *Service) secretsWith(id string, imported map[string]*ImportedSecrets) genSecrets {
	g := s.derivedSecrets(id)
	g.imported = imported[id]
	return g
}
