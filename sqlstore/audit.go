package sqlstore

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"

	"latchkey"
)

func parseSeq(field, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, latchkey.BadField(field, "%s must be a sequence number", field)
	}
	return n, nil
}

func formatSeq(n int64) string { return strconv.FormatInt(n, 10) }

const auditCols = "seq, at, actor, terminal, action, target, details, prev_hash, hash"

func scanAudit(row interface{ Scan(...any) error }) (latchkey.AuditRecord, error) {
	var r latchkey.AuditRecord
	var at int64
	var details string
	err := row.Scan(&r.Seq, &at, &r.Actor, &r.Terminal, &r.Action, &r.Target, &details, &r.PrevHash, &r.Hash)
	r.At, r.Details = fromUS(at), []byte(details)
	return r, err
}

// ListAudit lists the audit records f selects, a page of them, oldest or
// newest first (staff only). The query names only the filters given, so
// each can use its index (audit_actor, audit_action, audit_terminal:
// (column, seq)): 128 query texts at most (5 optional filters, 2 orders,
// 2 plans), well within the statement cache.
//
// A time range has two plans, both exact. Reading in seq order and
// skipping records outside the range is quick when the range's records
// are near where the page starts, and reads the whole log when they are
// far from it (last January, newest first). So the page first reads the
// auditProbe records where it starts; if they fill it, that is the page.
// If not, it is read through audit_at (at, seq): the range's records,
// sorted by seq.
func (s *Store) ListAudit(ctx context.Context, c latchkey.Caller, f latchkey.AuditFilter) ([]latchkey.AuditRecord, error) {
	if err := latchkey.CanReadAudit(c); err != nil {
		return nil, err
	}
	f, err := f.Check()
	if err != nil {
		return nil, err
	}
	if err := s.settleAudit(ctx); err != nil { // what its caller wrote is listed
		return nil, err
	}
	if f.From.IsZero() && f.To.IsZero() {
		return s.listAudit(ctx, f, false)
	}
	probe := f
	if f.Newest {
		top := f.Before
		if top == 0 {
			head, _, err := s.auditHead(ctx)
			if err != nil {
				return nil, err
			}
			top = head + 1
		}
		probe.After = max(f.After, top-1-auditProbe)
	} else {
		probe.Before = f.After + 1 + auditProbe
		if f.Before > 0 {
			probe.Before = min(f.Before, probe.Before)
		}
	}
	items, err := s.listAudit(ctx, probe, false)
	if err != nil || len(items) == f.Limit || probe == f {
		return items, err
	}
	return s.listAudit(ctx, f, true)
}

// auditProbe is how many records ListAudit reads in seq order before it
// reads a time range through its index instead.
var auditProbe int64 = 2000

// listAudit runs f's query; byTime reads the records through audit_at.
func (s *Store) listAudit(ctx context.Context, f latchkey.AuditFilter, byTime bool) ([]latchkey.AuditRecord, error) {
	before := f.Before
	if before == 0 {
		before = math.MaxInt64
	}
	var q strings.Builder
	q.WriteString("SELECT " + auditCols + " FROM audit")
	order := "seq"
	if byTime {
		// SQLite: INDEXED BY; PostgreSQL: an order the primary key cannot
		// give, so the planner does not walk it instead.
		q.WriteString(s.d.indexedBy("audit_at"))
		order = "seq + 0"
	}
	q.WriteString(" WHERE seq > ? AND seq < ?")
	args := []any{f.After, before}
	cond := func(sql string, v any) {
		q.WriteString(" AND " + sql)
		args = append(args, v)
	}
	if f.Actor != "" {
		cond("actor = ?", f.Actor)
	}
	if f.Action != "" {
		cond("action = ?", f.Action)
	}
	if f.Terminal != "" {
		cond("terminal = ?", f.Terminal)
	}
	if !f.From.IsZero() {
		cond("at >= ?", us(f.From))
	}
	if !f.To.IsZero() {
		cond("at < ?", us(f.To))
	}
	q.WriteString(" ORDER BY " + order)
	if f.Newest {
		q.WriteString(" DESC")
	}
	q.WriteString(" LIMIT ?")
	args = append(args, f.Limit)
	// Planned for its values each time: how many records an actor, an
	// action or a terminal has varies by orders of magnitude, and
	// PostgreSQL's generic plan of a prepared statement, which assumes the
	// average, walked the primary key for a rare action and filtered out
	// half a million records (60 ms on 1M).
	rows, err := s.query(ctx, q.String(), append(s.d.planEachTime(), args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []latchkey.AuditRecord{}
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// VerifyAudit walks the whole chain and reports the first record that does
// not verify (admin only).
func (s *Store) VerifyAudit(ctx context.Context, c latchkey.Caller) (*latchkey.AuditVerification, error) {
	if err := latchkey.CanVerifyAudit(c); err != nil {
		return nil, err
	}
	// Read the head first: records committed after it are not judged.
	headSeq, headHash, err := s.auditHead(ctx)
	if err != nil {
		return nil, err
	}
	v := latchkey.NewChainVerifier()
	err = s.walkAudit(ctx, 0, headSeq, func(r latchkey.AuditRecord) error {
		if !v.Add(r) {
			return errStopWalk
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return nil, err
	}
	v.Finish(headSeq, headHash)
	return v.Verification(), nil
}

// auditPage is how many audit records one query of a walk reads.
const auditPage = 1000

var errStopWalk = errors.New("stop the walk")

// auditHead reads the head, after chaining what had committed before
// the call (settleAudit).
func (s *Store) auditHead(ctx context.Context) (int64, string, error) {
	if err := s.settleAudit(ctx); err != nil {
		return 0, "", err
	}
	var seq int64
	var hash string
	err := s.queryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash)
	return seq, hash, err
}

// walkAudit calls fn for every record with after < seq <= through, in seq
// order, reading a page at a time (so memory stays bounded however long the
// log is); an error from fn stops it and is returned.
func (s *Store) walkAudit(ctx context.Context, after, through int64, fn func(latchkey.AuditRecord) error) error {
	for after < through {
		rows, err := s.query(ctx, "SELECT "+auditCols+" FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?", after, through, auditPage)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			r, err := scanAudit(rows)
			if err == nil {
				err = fn(r)
			}
			if err != nil {
				rows.Close()
				return err
			}
			n++
			after = r.Seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n < auditPage {
			return nil
		}
	}
	return nil
}

// ExportAudit calls fn for every record after seq after, up to the head as
// it was when the export began, in seq order (admin only).
func (s *Store) ExportAudit(ctx context.Context, c latchkey.Caller, after int64, fn func(latchkey.AuditRecord) error) error {
	if err := latchkey.CanVerifyAudit(c); err != nil {
		return err
	}
	if after < 0 {
		return latchkey.BadField("after", "after must not be negative")
	}
	headSeq, _, err := s.auditHead(ctx)
	if err != nil {
		return err
	}
	return s.walkAudit(ctx, after, headSeq, fn)
}
