package agent

import (
	"context"
	"time"

	"latchkey"
)

// The deferred events the counter raises (concurrent-login-design.txt
// 2.1.1: 24 position locked, 25 position unlocked): recorded at the
// terminal when they happen, with that time, and sent to the server later
// ("deferred": with the next exchange, and only once it can be reached).
// The server refuses nothing twice: an event's ID is made from its
// session and its time, and the server stores an ID once.
const eventsSchema = `
CREATE TABLE IF NOT EXISTS gw_events (
	id TEXT PRIMARY KEY,
	event INTEGER NOT NULL,
	occurred_at INTEGER NOT NULL,
	identity TEXT NOT NULL,
	reason TEXT NOT NULL);`

// queueEvent records a deferred event to send (once: an ID already
// queued is not queued again).
func (j *Journal) queueEvent(ctx context.Context, e latchkey.TerminalEvent) error {
	_, err := j.db.ExecContext(ctx, `INSERT OR IGNORE INTO gw_events (id, event, occurred_at, identity, reason)
		VALUES (?, ?, ?, ?, ?)`, e.ID, e.Event, e.OccurredAt.UnixMicro(), e.Identity, e.Reason)
	return err
}

// queuedEvents returns up to n deferred events, oldest first.
func (j *Journal) queuedEvents(ctx context.Context, n int) ([]latchkey.TerminalEvent, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT id, event, occurred_at, identity, reason FROM gw_events
		ORDER BY occurred_at, id LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []latchkey.TerminalEvent
	for rows.Next() {
		var e latchkey.TerminalEvent
		var at int64
		if err := rows.Scan(&e.ID, &e.Event, &at, &e.Identity, &e.Reason); err != nil {
			return nil, err
		}
		e.OccurredAt = time.UnixMicro(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// dropEvents forgets events the server has stored.
func (j *Journal) dropEvents(ctx context.Context, es []latchkey.TerminalEvent) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, e := range es {
		if _, err := tx.ExecContext(ctx, "DELETE FROM gw_events WHERE id = ?", e.ID); err != nil {
			return err
		}
	}
	return tx.Commit()
}
