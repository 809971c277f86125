package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"latchkey"
)

// tx is one write transaction. Audit records added to it are chained and
// inserted just before it commits, so a change and its record commit
// together or not at all.
type tx struct {
	db querier
	// sqlTx is the database/sql transaction under db, if there is one
	// (for the cached prepared statements: SQLite).
	sqlTx *sql.Tx
	s     *Store
	ctx   context.Context
	now   time.Time
	audit []latchkey.AuditRecord
	// earlier are the records queued by the operations before this one
	// in its group commit: not in the log until the batch's end (see
	// queuedEarlier).
	earlier []latchkey.AuditRecord
	// mail names the terminals whose instructions this operation changed:
	// their agents' long-polls are woken after the commit.
	mail []string
	// jobsChanged: this operation enqueued or released jobs; idle runners
	// are woken after the commit.
	jobsChanged bool
	// readOnly marks a read transaction on the read pool (see read).
	readOnly bool
}

// newTx makes the tx of a database/sql transaction.
func (s *Store) newTx(ctx context.Context, sqltx *sql.Tx) *tx {
	return &tx{db: sqlQuerier{sqltx}, sqlTx: sqltx, s: s, ctx: ctx, now: s.now()}
}

// exec, query and queryRow rebind ? placeholders for the dialect and use
// the writer's prepared statement when there is one.
func (t *tx) exec(q string, args ...any) (sql.Result, error) {
	if st := t.stmt(q); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.db.exec(t.ctx, t.s.d.rebind(q), args)
}
func (t *tx) query(q string, args ...any) (rowSet, error) {
	if st := t.stmt(q); st != nil {
		rows, err := st.QueryContext(t.ctx, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	}
	return t.db.query(t.ctx, t.s.d.rebind(q), args)
}
func (t *tx) queryRow(q string, args ...any) oneRow {
	if st := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.db.queryRow(t.ctx, t.s.d.rebind(q), args)
}

// execLater runs a write whose result nobody reads. On a pipelined
// PostgreSQL transaction it goes to the database with the next
// statements sent (a read, the next operation's first statement, the
// commit), saving a round trip; its error, if any, is then that of
// those statements, and the batch's operation that wrote it is found by
// running the batch again isolated (see committers.transact).
func (t *tx) execLater(q string, args ...any) error {
	if st := t.stmt(q); st != nil {
		_, err := st.ExecContext(t.ctx, args...)
		return err
	}
	return t.db.later(t.ctx, t.s.d.rebind(q), args)
}

// stmt returns the cached statement for q bound to this transaction, or
// nil when there is none (yet).
func (t *tx) stmt(q string) *sql.Stmt {
	if t.s.wst == nil || t.readOnly || t.sqlTx == nil {
		return nil
	}
	if st := t.s.wst.lookup(q); st != nil {
		return t.sqlTx.StmtContext(t.ctx, st)
	}
	return nil
}

// record queues an audit record for this transaction.
func (t *tx) record(actor, terminal string, action latchkey.Action, target string, details map[string]any) {
	if !action.Known() { // every action is listed in latchkey.Actions; this is a bug
		panic(fmt.Sprintf("audit action %q is not in latchkey.Actions", action))
	}
	t.queueAudit(actor, terminal, action, target, details)
}

// queueAudit queues a record without checking its action (tests record
// actions of their own through it).
func (t *tx) queueAudit(actor, terminal string, action latchkey.Action, target string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil { // details are built from plain values; this is a bug
		panic(fmt.Sprintf("audit details: %v", err))
	}
	t.audit = append(t.audit, latchkey.AuditRecord{At: t.now, Actor: actor, Terminal: terminal,
		Action: action, Target: target, Details: b})
}

// queuedEarlier says whether an earlier operation of this group commit
// queued a record of action: it is not in the log yet, so a query of the
// log cannot see it.
func (t *tx) queuedEarlier(action latchkey.Action) bool {
	for _, r := range t.earlier {
		if r.Action == action {
			return true
		}
	}
	return false
}

// flushAudit writes the queued records. On PostgreSQL, with here, it
// chains them in this transaction when the audit head is free
// (chainInline); otherwise they go to audit_pending, for the chainer
// (auditchain.go), and the transaction does not wait for the head. On
// SQLite it chains them here: the head row lock (the one writer, there)
// orders all audited transactions, so seq follows commit order: a reader
// of the log after seq N never misses a record that commits later with a
// smaller seq. recs are the records chained in this transaction (on both
// stores), their seqs given, or none when they went to audit_pending.
func (t *tx) flushAudit(here bool) (recs []latchkey.AuditRecord, err error) {
	if len(t.audit) == 0 {
		return nil, nil
	}
	if t.s.chain != nil {
		if here {
			if recs, err := t.chainInline(); err != nil || recs != nil {
				return recs, err
			}
		}
		return nil, t.queueChain()
	}
	seq, prev, err := t.lockAuditHead()
	if err != nil {
		return nil, err
	}
	seq, prev = chainRecords(seq, prev, t.audit)
	for _, r := range t.audit {
		if _, err := t.exec(`INSERT INTO audit (seq, at, actor, terminal, action, target, details, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, auditArgs(r)...); err != nil {
			return nil, fmt.Errorf("audit insert: %w", err)
		}
	}
	if _, err := t.exec("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", seq, prev); err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	return t.audit, nil
}

// lockAuditHead reads the audit chain's head (its last seq and hash)
// and locks its row for the rest of the transaction.
func (t *tx) lockAuditHead() (seq int64, head string, err error) {
	if err := t.queryRow("SELECT seq, hash FROM audit_head WHERE id = 1"+t.s.d.forUpdate()).Scan(&seq, &head); err != nil {
		return 0, "", fmt.Errorf("audit head: %w", err)
	}
	return seq, head, nil
}

// auditRowsPerStatement bounds the rows of one batched audit insert (9
// parameters a row, far under PostgreSQL's 65,535).
const auditRowsPerStatement = 500

// writeAuditBatched writes the chained records rs and the new head, runs
// also (a statement taking one argument, arg) and notifies the other
// nodes, in as few round trips as the rows allow: one statement for up to
// auditRowsPerStatement records (a data-modifying WITH runs whether or
// not the UPDATE reads it), while the chainer holds the audit head's row
// lock (PostgreSQL).
func (t *tx) writeAuditBatched(rs []latchkey.AuditRecord, seq int64, head string, also string, arg any) error {
	const cols = "INSERT INTO audit (seq, at, actor, terminal, action, target, details, prev_hash, hash) VALUES "
	rows := rs
	for len(rows) > auditRowsPerStatement {
		q, args := auditValues(cols, rows[:auditRowsPerStatement])
		if _, err := t.exec(q, args...); err != nil {
			return fmt.Errorf("audit insert: %w", err)
		}
		rows = rows[auditRowsPerStatement:]
	}
	q, args := auditValues("WITH ins AS ("+cols, rows)
	q += "), also AS (" + also + "), n AS (SELECT pg_notify('" + eventsChannel + "', ?)) UPDATE audit_head SET seq = ?, hash = ? FROM n WHERE id = 1"
	if err := t.execLater(q, append(args, arg, t.s.nodeTag, seq, head)...); err != nil {
		return fmt.Errorf("audit insert: %w", err)
	}
	return nil
}

// auditValues appends a VALUES row per record to q, with their arguments.
func auditValues(q string, rs []latchkey.AuditRecord) (string, []any) {
	var b strings.Builder
	b.WriteString(q)
	args := make([]any, 0, 9*len(rs))
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, auditArgs(r)...)
	}
	return b.String(), args
}

func auditArgs(r latchkey.AuditRecord) []any {
	return []any{r.Seq, us(r.At), r.Actor, r.Terminal, r.Action, r.Target, string(r.Details), r.PrevHash, r.Hash}
}

// refusal wraps an error that refuses the caller's request but must still
// commit what the transaction wrote (a failed-attempt count, an audit
// record of the refusal).
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// keep marks err as a refusal whose transaction commits.
func keep(err error) error { return &refusal{err} }

// write runs fn as one write operation of a group commit (see
// committers) and returns once the transaction that holds its change has
// committed. It reruns fn when it lost a race to another transaction
// (PostgreSQL deadlock or serialisation failure, SQLite busy). An error
// from fn undoes fn's writes, unless it is a refusal made with keep.
func (s *Store) write(ctx context.Context, fn func(*tx) error) error {
	if err := s.freshen(ctx); err != nil {
		return err
	}
	return s.writeTx(ctx, fn)
}

// writeTx is write without freshen: the writes that look at the cluster
// clock themselves (heartbeats, resume).
func (s *Store) writeTx(ctx context.Context, fn func(*tx) error) error {
	if claim, ok := latchkey.IdempotencyClaimOf(ctx); ok {
		// A keyed request's change and the mark that it was applied
		// commit together (see latchkey.DecideIdempotency).
		inner := fn
		fn = func(t *tx) error {
			err := inner(t)
			var r *refusal
			if err == nil || errors.As(err, &r) {
				if merr := t.markApplied(claim); merr != nil {
					return merr
				}
			}
			return err
		}
	}
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
			}
		}
		err = s.commit.do(ctx, fn)
		if err == nil || !s.d.retryable(err) {
			break
		}
		s.retries.Add(1)
	}
	var r *refusal
	if errors.As(err, &r) {
		return r.err
	}
	return err
}

// Retries counts the write operations rerun because they lost a race
// (a deadlock, a serialisation failure, SQLite busy) since the store opened.
func (s *Store) Retries() int64 { return s.retries.Load() }

// read runs fn in one read transaction on the read pool: a consistent
// view for reads that take several queries. fn must not write.
func (s *Store) read(ctx context.Context, fn func(*tx) error) error {
	sqlTx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.d.readOnlyTx()})
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	t := s.newTx(ctx, sqlTx)
	t.readOnly = true
	return fn(t)
}

// Read helpers on the read pool.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s.rst != nil {
		if st := s.rst.get(ctx, q); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return s.r.QueryRowContext(ctx, s.d.rebind(q), args...)
}
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s.rst != nil {
		if st := s.rst.get(ctx, q); st != nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return s.r.QueryContext(ctx, s.d.rebind(q), args...)
}

// us converts a time to stored UTC microseconds; fromUS back.
func us(t time.Time) int64 { return t.UTC().UnixMicro() }
func fromUS(v int64) time.Time {
	return time.UnixMicro(v).UTC()
}

// nullUS stores an optional time.
func nullUS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return us(*t)
}

// optTime reads an optional time.
func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

// notFound maps sql.ErrNoRows to a not_found error.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return latchkey.Errorf(latchkey.ENOTFOUND, format, args...)
	}
	return err
}
