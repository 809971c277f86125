package sqlstore

import (
	"context"
)

// ensureVerifier makes the offline logon verifier of an identity that has
// none (identities made before verifiers existed, or the bootstrap
// admin) after a successful online logon, when the password is known. It
// is a second argon2id hash with its own salt, never the stored
// password_hash. A failure is logged, not returned: the logon succeeded.
func (s *Store) ensureVerifier(ctx context.Context, login, password string) {
	var v string
	if err := s.queryRow(ctx, "SELECT offline_verifier FROM identities WHERE login = ?", login).Scan(&v); err != nil || v != "" {
		return
	}
	verifier, err := s.hashPassword(password)
	if err != nil {
		s.log.Error("offline verifier", "err", err)
		return
	}
	err = s.write(ctx, func(t *tx) error {
		_, err := t.exec("UPDATE identities SET offline_verifier = ?, offline_verifier_at = ? WHERE login = ? AND offline_verifier = ''",
			verifier, us(t.now), login)
		return err
	})
	if err != nil {
		s.log.Error("offline verifier", "err", err)
	}
}
