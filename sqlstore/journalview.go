package sqlstore

import (
	"database/sql"
	"strings"
	"time"

	"latchkey"
)

// journalView is what an upload's entries need to know from the store,
// read with a few queries for the whole upload rather than several per
// entry: the entries already recorded, the people behind the logins, the
// entry IDs already taken as session IDs, the terminal's reservations
// since the earliest entry, which of the logins' verifiers the terminal was
// sent, and the start of the standalone period its agent last reported
// (zero: none), before which none of its entries starts.
type journalView struct {
	seen         map[string]journalRow
	people       map[string]latchkey.Principal // by login
	taken        map[string]bool
	reservations []latchkey.Reservation
	sent         map[string]*latchkey.SentVerifier // by login
	periodStart  time.Time
}

type journalRow struct {
	session sql.NullString
	verdict latchkey.JournalVerdict
	reason  string
	active  bool // its session is still ACTIVE
}

// inChunk is the size of the IN lists of a view's queries: always this
// many placeholders (padded with a value that matches nothing), so each
// query has one text and one prepared statement.
const inChunk = 64

// inList runs q, whose only "IN (%s)" takes the values in chunks, with
// args before the list, calling scan for every row.
func (t *tx) inList(q string, args []any, values []string, scan func(rowSet) error) error {
	marks := strings.TrimSuffix(strings.Repeat("?, ", inChunk), ", ")
	q = strings.Replace(q, "%s", marks, 1)
	for from := 0; from < len(values); from += inChunk {
		a := append([]any{}, args...)
		for i := range inChunk {
			v := "" // matches no ID or login: both are non-empty
			if from+i < len(values) {
				v = values[from+i]
			}
			a = append(a, v)
		}
		rows, err := t.query(q, a...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// viewJournal reads the view of an upload's entries. It runs after the
// people of in-progress entries are locked, so what it reads of them is
// current.
func (t *tx) viewJournal(terminal string, entries []latchkey.JournalEntry) (*journalView, error) {
	v := &journalView{seen: map[string]journalRow{}, people: map[string]latchkey.Principal{}, taken: map[string]bool{},
		sent: map[string]*latchkey.SentVerifier{}}
	ids := make([]string, 0, len(entries))
	var logins []string
	seenLogin := map[string]bool{}
	earliest := t.now
	for _, e := range entries {
		ids = append(ids, e.ID)
		if !seenLogin[e.Identity] {
			seenLogin[e.Identity] = true
			logins = append(logins, e.Identity)
		}
		if e.StartedAt.Before(earliest) {
			earliest = e.StartedAt
		}
	}
	err := t.inList(`SELECT j.id, j.session_id, j.verdict, j.reason, COALESCE(s.status, '')
		FROM journal_entries j LEFT JOIN sessions s ON s.id = j.session_id WHERE j.terminal_id = ? AND j.id IN (%s)`,
		[]any{terminal}, ids, func(rows rowSet) error {
			var id, status string
			var r journalRow
			if err := rows.Scan(&id, &r.session, &r.verdict, &r.reason, &status); err != nil {
				return err
			}
			r.active = status == string(latchkey.SessionActive)
			v.seen[id] = r
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = t.inList(`SELECT i.login, p.id, p.name, p.role, p.global, p.disabled, p.created_at
		FROM identities i JOIN principals p ON p.id = i.principal_id WHERE i.login IN (%s)`, nil, logins, func(rows rowSet) error {
		var login string
		var p latchkey.Principal
		var created int64
		if err := rows.Scan(&login, &p.ID, &p.Name, &p.Role, &p.Global, &p.Disabled, &created); err != nil {
			return err
		}
		p.CreatedAt = fromUS(created)
		v.people[login] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = t.inList("SELECT id FROM sessions WHERE id IN (%s)", nil, ids, func(rows rowSet) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		v.taken[id] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = t.inList("SELECT login, first_sent_at, expires_at, withdrawn_at FROM sent_verifiers WHERE terminal_id = ? AND login IN (%s)",
		[]any{terminal}, logins, func(rows rowSet) error {
			sv, err := scanSentVerifier(rows)
			if err != nil {
				return err
			}
			v.sent[sv.Login] = &sv
			return nil
		})
	if err != nil {
		return nil, err
	}
	var from int64
	if err := t.queryRow("SELECT standalone_from FROM terminals WHERE id = ?", terminal).Scan(&from); err != nil {
		return nil, err
	}
	if from > 0 {
		v.periodStart = fromUS(from)
	}
	v.reservations, err = t.terminalReservations(terminal, us(earliest.Add(-time.Microsecond)))
	return v, err
}
