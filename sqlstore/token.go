package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"latchkey"
)

const (
	userTokenPrefix     = "lku_"
	terminalTokenPrefix = "lkt_"
)

// newToken returns a random 256-bit bearer token and the hash it is
// stored under. The token itself is never stored.
func newToken(prefix string) (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, tokenHash(token)
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// revokeUserTokens revokes every live user token of a principal but
// except (a token hash; "" for none), and frees the locks and places in
// queues those tokens held, in the caller's transaction. It returns how
// many tokens it revoked.
func (t *tx) revokeUserTokens(principalID, except, actor string) (int, error) {
	rows, err := t.query("SELECT hash FROM tokens WHERE principal_id = ? AND kind = 'user' AND revoked_at IS NULL AND hash <> ?",
		principalID, except)
	if err != nil {
		return 0, err
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return 0, err
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, h := range hashes {
		if _, err := t.exec("UPDATE tokens SET revoked_at = ? WHERE hash = ?", us(t.now), h); err != nil {
			return 0, err
		}
		if err := t.releaseTokenLocks(h, actor); err != nil {
			return 0, err
		}
	}
	return len(hashes), nil
}

// RevokeTokens revokes every user token of a principal: admins for
// anyone, delegates for anyone but an admin.
func (s *Store) RevokeTokens(ctx context.Context, c latchkey.Caller, principalID string) error {
	if err := latchkey.CanRevokeTokens(c, latchkey.RoleUser); err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		p, err := t.lockPrincipal(principalID)
		if err != nil {
			return err
		}
		if err := latchkey.CanRevokeTokens(c, p.Role); err != nil {
			return err
		}
		n, err := t.revokeUserTokens(p.ID, "", c.Actor())
		if err != nil {
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionAuthRevokeTokens, p.ID, map[string]any{"revoked": n})
		return nil
	})
}

// RotateTerminalToken gives a terminal a new token, shown once, and
// revokes every token it had before, in one transaction: the old token
// stops working at once.
func (s *Store) RotateTerminalToken(ctx context.Context, c latchkey.Caller, terminalID string) (string, error) {
	if err := latchkey.CanRotateTerminalToken(c); err != nil {
		return "", err
	}
	token, hash := newToken(terminalTokenPrefix)
	err := s.write(ctx, func(t *tx) error {
		if _, err := t.lockTerminal(terminalID); err != nil {
			return err
		}
		res, err := t.exec("UPDATE tokens SET revoked_at = ? WHERE terminal_id = ? AND kind = 'terminal' AND revoked_at IS NULL",
			us(t.now), terminalID)
		if err != nil {
			return err
		}
		revoked, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if _, err := t.exec("INSERT INTO tokens (hash, kind, terminal_id, created_at) VALUES (?, 'terminal', ?, ?)", hash, terminalID, us(t.now)); err != nil {
			return err
		}
		t.record(c.Actor(), terminalID, latchkey.ActionTerminalTokenRotate, terminalID, map[string]any{"revoked": revoked})
		return nil
	})
	if err != nil {
		return "", err
	}
	return token, nil
}
