package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"latchkey"
)

// Which logins' offline logon verifiers each terminal's agent was sent
// (table sent_verifiers, issue 10 hole 4): a journal entry's `verified`
// counts only when its terminal held the login's verifier when the entry
// began (latchkey.SentVerifier.HeldAt).

// scanSentVerifier reads login, first_sent_at, expires_at, withdrawn_at.
func scanSentVerifier(row interface{ Scan(...any) error }) (latchkey.SentVerifier, error) {
	var v latchkey.SentVerifier
	var first, exp int64
	var gone sql.NullInt64
	err := row.Scan(&v.Login, &first, &exp, &gone)
	v.FirstSent, v.ExpiresAt, v.Withdrawn = fromUS(first), fromUS(exp), optTime(gone)
	return v, err
}

// allSentVerifiers reads a terminal's records, by login.
func (t *tx) allSentVerifiers(terminal string) (map[string]latchkey.SentVerifier, error) {
	rows, err := t.query("SELECT login, first_sent_at, expires_at, withdrawn_at FROM sent_verifiers WHERE terminal_id = ?", terminal)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]latchkey.SentVerifier{}
	for rows.Next() {
		v, err := scanSentVerifier(rows)
		if err != nil {
			return nil, err
		}
		out[v.Login] = v
	}
	return out, rows.Err()
}

// recordSentVerifiers records the verifiers of a policy issued at issued
// to terminal, before the policy leaves the server. A policy like the
// last one changes nothing and writes nothing (one read); otherwise the
// changes are written in one transaction holding the terminal, computed
// again from what it reads there, so that two fetches at once cannot undo
// each other.
func (s *Store) recordSentVerifiers(ctx context.Context, terminal string, sent []latchkey.CachedVerifier, issued time.Time) error {
	var changes []latchkey.SentVerifier
	err := s.read(ctx, func(t *tx) error {
		old, err := t.allSentVerifiers(terminal)
		changes = latchkey.SentVerifierChanges(old, sent, issued)
		return err
	})
	if err != nil || len(changes) == 0 {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		if _, err := t.lockTerminal(terminal); err != nil {
			return err
		}
		old, err := t.allSentVerifiers(terminal)
		if err != nil {
			return err
		}
		for _, v := range latchkey.SentVerifierChanges(old, sent, issued) {
			if _, err := t.exec(`INSERT INTO sent_verifiers (terminal_id, login, first_sent_at, expires_at, withdrawn_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (terminal_id, login) DO UPDATE SET first_sent_at = excluded.first_sent_at, expires_at = excluded.expires_at,
				withdrawn_at = excluded.withdrawn_at`, terminal, v.Login, us(v.FirstSent), us(v.ExpiresAt), nullUS(v.Withdrawn)); err != nil {
				return err
			}
		}
		return nil
	})
}
