package sqlstore

import (
	"context"
	"time"

	"latchkey"
)

var _ latchkey.NodeService = (*Store)(nil)

// Heartbeat implements latchkey.NodeService: the node's row says it was
// seen now, by the store's clock. It also forgets nodes dead for longer
// than latchkey.NodeForgetAfter.
func (s *Store) Heartbeat(ctx context.Context, n latchkey.Node) error {
	var now time.Time
	err := s.writeTx(ctx, func(t *tx) error {
		now = t.now
		if err := t.resumeAfterSilence(); err != nil {
			return err
		}
		res, err := t.exec("UPDATE nodes SET addr = ?, last_seen = ? WHERE id = ?", n.Addr, us(t.now), n.ID)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			if _, err := t.exec("INSERT INTO nodes (id, addr, started_at, last_seen) VALUES (?, ?, ?, ?)",
				n.ID, n.Addr, us(t.now), us(t.now)); err != nil { // started: its first beat, by the store's clock too
				return err
			}
		}
		_, err = t.exec("DELETE FROM nodes WHERE last_seen < ?", us(t.now.Add(-latchkey.NodeForgetAfter)))
		return err
	})
	if err == nil {
		s.clockSeen.Store(us(now)) // resumeAfterSilence looked at the clock
	}
	return err
}

// Leave implements latchkey.NodeService: a node that stops cleanly is
// dead at once, not dead-after later.
func (s *Store) Leave(ctx context.Context, id string) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec("UPDATE nodes SET last_seen = ? WHERE id = ?", us(t.now.Add(-s.opts.NodeDeadAfter-time.Minute)), id) // dead by any node's clock, even one a little behind
		return err
	})
}

// Nodes implements latchkey.NodeService (admins), by ID.
func (s *Store) Nodes(ctx context.Context, c latchkey.Caller) ([]latchkey.Node, error) {
	if err := latchkey.CanListNodes(c); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, "SELECT id, addr, started_at, last_seen FROM nodes ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	now := s.now()
	out := []latchkey.Node{}
	for rows.Next() {
		var n latchkey.Node
		var started, seen int64
		if err := rows.Scan(&n.ID, &n.Addr, &started, &seen); err != nil {
			return nil, err
		}
		n.StartedAt, n.LastSeen = fromUS(started), fromUS(seen)
		n.Alive = latchkey.NodeAlive(n.LastSeen, now, s.opts.NodeDeadAfter)
		out = append(out, n)
	}
	return out, rows.Err()
}
