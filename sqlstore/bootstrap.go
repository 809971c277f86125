package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"

	"latchkey"
)

// Bootstrap creates principal "admin" with identity "admin" on an empty
// store. The password is adminPassword, or a generated one when that is
// empty; it is returned only when generated, for the caller to show once.
func (s *Store) Bootstrap(ctx context.Context, adminPassword string) (created bool, password string, err error) {
	var n int
	if err := s.queryRow(ctx, "SELECT COUNT(*) FROM principals").Scan(&n); err != nil {
		return false, "", err
	}
	if n > 0 {
		return false, "", nil
	}
	generated := adminPassword == ""
	if generated {
		var b [18]byte
		if _, err := rand.Read(b[:]); err != nil {
			return false, "", err
		}
		adminPassword = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if err := latchkey.CheckNewPassword("LATCHKEY_ADMIN_PASSWORD", adminPassword); err != nil {
		return false, "", err
	}
	hash, err := s.hashPassword(adminPassword)
	if err != nil {
		return false, "", err
	}
	err = s.write(ctx, func(t *tx) error {
		created = false
		if lock := s.d.advisoryLock(7420002); lock != "" { // nodes starting at once: one bootstraps
			if _, err := t.exec(lock); err != nil {
				return err
			}
		}
		if err := t.queryRow("SELECT COUNT(*) FROM principals").Scan(&n); err != nil || n > 0 {
			return err
		}
		id := latchkey.NewID("prn")
		if _, err := t.exec("INSERT INTO principals ("+principalCols+") VALUES (?, 'admin', 'admin', FALSE, FALSE, ?)", id, us(t.now)); err != nil {
			return err
		}
		if _, err := t.exec("INSERT INTO identities (login, principal_id, password_hash, created_at) VALUES ('admin', ?, ?, ?)", id, hash, us(t.now)); err != nil {
			return err
		}
		t.record("system", "", latchkey.ActionPrincipalCreate, id, map[string]any{"name": "admin", "role": "admin", "bootstrap": true})
		created = true
		return nil
	})
	if err != nil || !created || !generated {
		return created, "", err
	}
	return true, adminPassword, nil
}
