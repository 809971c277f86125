package sqlstore

import (
	"context"
	"database/sql"
	"strconv"

	"latchkey"
)

// insertEvent stores one deferred event; source is "terminal" for events
// the terminal sent, "server" for those the server records itself (an
// unlock it refused). A terminal event whose ID was stored already is
// skipped; insertEvent reports whether it stored the event.
func (t *tx) insertEvent(e latchkey.TerminalEvent, source string) (bool, error) {
	var clientID any
	if e.ID != "" {
		clientID = e.ID
	}
	res, err := t.exec(`INSERT INTO terminal_events (terminal_id, client_id, event, occurred_at, received_at, identity, reason, source)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (terminal_id, client_id) DO NOTHING`,
		e.TerminalID, clientID, e.Event, us(e.OccurredAt), us(t.now), e.Identity, e.Reason, source)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecordTerminalEvents stores a batch of deferred events (24, 25, 26) of
// the caller's own terminal, each with when it happened and when it
// arrived, in one transaction with one audit record.
func (s *Store) RecordTerminalEvents(ctx context.Context, c latchkey.Caller, terminalID string, events []latchkey.TerminalEvent) (int, error) {
	if err := latchkey.CanActAsTerminal(c, terminalID); err != nil {
		return 0, err
	}
	if len(events) == 0 || len(events) > latchkey.MaxEventBatch {
		return 0, latchkey.BadField("events", "a batch holds 1 to %d events", latchkey.MaxEventBatch)
	}
	for i, e := range events {
		if err := latchkey.ValidateTerminalEvent(i, e); err != nil {
			return 0, err
		}
	}
	stored := 0
	err := s.write(ctx, func(t *tx) error {
		stored = 0
		for _, e := range events {
			e.TerminalID = terminalID
			ok, err := t.insertEvent(e, "terminal")
			if err != nil {
				return err
			}
			if ok {
				stored++
			}
		}
		counts := map[string]int{}
		for _, e := range events {
			counts[strconv.Itoa(e.Event)]++
		}
		t.record(terminalID, terminalID, latchkey.ActionTerminalEvent, terminalID, map[string]any{"received": len(events), "stored": stored, "events": counts})
		return nil
	})
	return stored, err
}

// ListTerminalEvents lists a terminal's deferred events in arrival order.
func (s *Store) ListTerminalEvents(ctx context.Context, c latchkey.Caller, terminalID string, page latchkey.Page) ([]latchkey.TerminalEvent, string, error) {
	if err := latchkey.CanListTerminalEvents(c, terminalID); err != nil {
		return nil, "", err
	}
	page = page.Normalize()
	after := int64(0)
	if page.After != "" {
		var err error
		if after, err = parseSeq("after", page.After); err != nil {
			return nil, "", err
		}
	}
	rows, err := s.query(ctx, "SELECT e.seq, "+terminalEventCols+" FROM terminal_events e WHERE e.terminal_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?",
		terminalID, after, page.Limit+1)
	return terminalEventPage(rows, err, page.Limit, func(e *latchkey.TerminalEvent) (*latchkey.TerminalEvent, []any) { return e, nil })
}

// terminalEventCols are a deferred event's columns (table alias e), read
// by terminalEventPage after the event's seq.
const terminalEventCols = "e.terminal_id, e.client_id, e.event, e.occurred_at, e.received_at, e.identity, e.reason"

// terminalEventPage reads a page of deferred events from rows of (seq,
// terminalEventCols, then the columns each adds), in the query's order:
// at most limit of them (the query asks for one more) and the cursor of
// the next page, the last seq read ("" at the end). each gives a row's
// event and the destinations of its further columns.
func terminalEventPage[T any](rows rowSet, err error, limit int, each func(*T) (*latchkey.TerminalEvent, []any)) ([]T, string, error) {
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []T{}
	var seqs []int64
	for rows.Next() {
		var x T
		e, extra := each(&x)
		var seq, occ, rec int64
		var cid sql.NullString
		if err := rows.Scan(append([]any{&seq, &e.TerminalID, &cid, &e.Event, &occ, &rec, &e.Identity, &e.Reason}, extra...)...); err != nil {
			return nil, "", err
		}
		e.ID, e.OccurredAt, e.ReceivedAt = cid.String, fromUS(occ), fromUS(rec)
		out = append(out, x)
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = formatSeq(seqs[limit-1])
	}
	return out, next, nil
}
