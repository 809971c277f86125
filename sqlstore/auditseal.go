package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"latchkey"
)

// SealAudit signs the chain's current head with the server's key (admin
// only). It writes nothing: the periodic sealer (SealAuditIfDue) is what
// puts seals into the log.
func (s *Store) SealAudit(ctx context.Context, c latchkey.Caller) (*latchkey.AuditSeal, error) {
	if err := latchkey.CanVerifyAudit(c); err != nil {
		return nil, err
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	seq, hash, err := s.auditHead(ctx)
	if err != nil {
		return nil, err
	}
	seal, err := latchkey.SignSeal(key, seq, hash, s.now())
	if err != nil {
		return nil, err
	}
	return &seal, nil
}

// SealAuditIfDue seals the head and records the seal in the log itself (an
// `audit.seal` record) when latchkey.SealDue says so, and returns the seal,
// or nil when none was due. The head's row lock makes the decision and
// the record one step for every node of a cluster: of nodes that try at
// once, one seals and the others see its seal.
func (s *Store) SealAuditIfDue(ctx context.Context, every time.Duration) (*latchkey.AuditSeal, error) {
	if every <= 0 {
		return nil, nil
	}
	// Most calls find nothing due: tell so from the read pool, without
	// taking the head's lock that every audited write needs.
	if due, err := s.sealLooksDue(ctx, every); err != nil || !due {
		return nil, err
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	var out *latchkey.AuditSeal
	err = s.write(ctx, func(t *tx) error {
		out = nil
		// The head's lock, and every record committed before it in the
		// log (a seal pending there is a seal made).
		r, err := t.chainPending()
		if err != nil {
			return err
		}
		seq, hash := r.seq, r.head
		last, err := lastSeal(t.queryRow(lastSealQuery))
		if err != nil {
			return err
		}
		if !latchkey.SealDue(last, seq, t.now, every) || t.queuedEarlier(latchkey.ActionAuditSeal) {
			return nil // (a seal made by an earlier operation of this group commit is not in the log yet)
		}
		seal, err := latchkey.SignSeal(key, seq, hash, t.now)
		if err != nil {
			return err
		}
		t.record("system", "", latchkey.ActionAuditSeal, formatSeq(seq), map[string]any{
			"seq": seal.Seq, "hash": seal.Hash, "at": seal.At, "key": seal.Key, "signature": seal.Signature})
		out = &seal
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.events.notify() // the records its round chained (its own notification is not heard here)
	return out, nil
}

const lastSealQuery = "SELECT seq, at FROM audit WHERE action = 'audit.seal' ORDER BY seq DESC LIMIT 1"

func lastSeal(row oneRow) (latchkey.LastSeal, error) {
	var last latchkey.LastSeal
	var at int64
	err := row.Scan(&last.RecordSeq, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return last, nil
	case err != nil:
		return last, err
	}
	last.At = fromUS(at)
	return last, nil
}

// sealLooksDue is SealDue on the read pool: a hint, decided again under
// the head's lock.
func (s *Store) sealLooksDue(ctx context.Context, every time.Duration) (bool, error) {
	headSeq, _, err := s.auditHead(ctx)
	if err != nil {
		return false, err
	}
	last, err := lastSeal(s.queryRow(ctx, lastSealQuery))
	if err != nil {
		return false, err
	}
	return latchkey.SealDue(last, headSeq, s.now(), every), nil
}
