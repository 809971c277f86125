package sqlstore

import (
	"context"
)

// ensureVerifier makes the offline logon verifier of an identity that has
// none (identities made before verifiers existed, or the bootstrap
// admin) after a successful online logon, when the password is known; v
// is the logon's own read of the identity, so an identity that has one
// costs nothing more. The verifier is a second argon2id hash with its own
// salt, never the stored password_hash. A failure is logged, not
// returned: the logon succeeded.
func (s *Store) ensureVerifier(ctx context.Context, v verified, password string) {
	if !v.found || v.hasVerifier {
		return
	}
	verifier, err := s.hashPassword(password)
	if err != nil {
		s.log.Error("offline verifier", "err", err)
		return
	}
	err = s.write(ctx, func(t *tx) error {
		_, err := t.exec("UPDATE identities SET offline_verifier = ?, offline_verifier_at = ? WHERE login = ? AND offline_verifier = ''",
			verifier, us(t.now), v.login)
		return err
	})
	if err != nil {
		s.log.Error("offline verifier", "err", err)
	}
}
