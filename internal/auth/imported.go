package auth

import (
	"context"
	"errors"
	"time"
)

// An imported session is one moved from the Rails app's jwt_sessions
// store with its tokens still live. Its generation 0 was made by the gem,
// not derived: the access token's uid is random and so is the CSRF secret.
// The store keeps those two beside the session (not in it), and Gatehouse
// consults them only while they can still be presented: at generation 0,
// and at generation 1 while the refresh grace window still accepts the
// previous generation. From then on the session runs on derived secrets
// like any other, and the record is pruned.

// ImportedSecrets are the credentials of an imported session's generation
// 0, as the system it came from made them.
type ImportedSecrets struct {
	AccessID   string // the uid claim of the access token current at import
	CSRFSecret []byte // csrf.SecretSize bytes
}

// ImportedSession is a session to import with its generation 0's secrets.
type ImportedSession struct {
	Session Session
	ImportedSecrets
}

// ImportedSessionStore is a Store that can take imported sessions. Without
// one, no session is imported and every session runs on derived secrets.
type ImportedSessionStore interface {
	// ImportSessions inserts sessions exactly as given, in bulk: no
	// per-user cap, no change logged (no node can have cached a session
	// that did not exist). A missing user (ErrNotFound) or an id already
	// present fails the whole batch.
	ImportSessions(ctx context.Context, sessions []Session) error
	// SessionGenerations returns the generation of each of ids that is
	// present.
	SessionGenerations(ctx context.Context, ids []string) (map[string]int64, error)
	// ExistingUsers returns which of ids are users.
	ExistingUsers(ctx context.Context, ids []int64) (map[int64]bool, error)
	// PutImportedSecrets stores (or replaces) the secrets of sessions
	// that are present, in one transaction.
	PutImportedSecrets(ctx context.Context, sessions []ImportedSession) error
	// ImportedSecrets returns the secrets of session id. ErrNotFound if it
	// has none (it was not imported, or they were pruned).
	ImportedSecrets(ctx context.Context, id string) (*ImportedSecrets, error)
	// PruneImportedSecrets deletes the secrets no session can use any
	// more: of sessions revoked or expired at now, past generation 1, or at
	// generation 1 since before rotatedBefore (those of deleted sessions
	// go with them). It returns how many it deleted.
	PruneImportedSecrets(ctx context.Context, now, rotatedBefore time.Time) (int64, error)
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

// secretsOf returns the secrets of sess, reading its imported ones only
// while they can still be presented at now (see the top of this file), so
// that an ordinary session pays for the read only at generation 0, once
// per node and once on its first refresh.
func (s *Service) secretsOf(ctx context.Context, sess *Session, now time.Time) (genSecrets, error) {
	if sess.Generation > 1 || sess.Generation == 1 && !now.Before(sess.RotatedAt.Add(s.grace)) {
		return s.derivedSecrets(sess.ID), nil
	}
	return s.secretsByID(ctx, sess.ID)
}

// secretsByID returns the secrets of session id, with its imported ones if
// it has any left.
func (s *Service) secretsByID(ctx context.Context, id string) (genSecrets, error) {
	g := s.derivedSecrets(id)
	imp, ok := s.store.(ImportedSessionStore)
	if !ok {
		return g, nil
	}
	sec, err := imp.ImportedSecrets(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return g, nil
	}
	if err != nil {
		return g, err
	}
	g.imported = sec
	return g, nil
}

// PruneImportedSecrets deletes the imported secrets no session can present
// any more (ImportedSessionStore); a no-op on a store without any.
func (s *Service) PruneImportedSecrets(ctx context.Context) (int64, error) {
	st, ok := s.store.(ImportedSessionStore)
	if !ok {
		return 0, nil
	}
	now := s.clock()
	return st.PruneImportedSecrets(ctx, now, now.Add(-s.grace))
}
