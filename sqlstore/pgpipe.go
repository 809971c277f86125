package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgPipe is a PostgreSQL commit batch's transaction, run on the pgx
// connection under database/sql (issue 15, "one round trip per
// operation"). What needs no answer waits and goes to the database with
// the next statement that does: BEGIN with the first operation's first
// read, an operation's writes (execLater) and the savepoint statements
// between two operations with the next read, the last writes, the audit
// records and the notifications with COMMIT. pgx sends each such group
// as one pipeline (one round trip), and PostgreSQL runs it in order,
// skipping the rest of a group after a statement fails.
//
// A lock operation on a lock no one waits for was BEGIN, the lock's
// read, its write, the audit write and COMMIT: five round trips for a
// batch of one. Pipelined it is two, or three when the batch chains its
// audit records itself (the audit head's read).
type pgPipe struct {
	conn   *pgx.Conn
	queued pgx.Batch
	// failed is the first error of a statement since the transaction, or
	// the savepoint rolled back to, began: PostgreSQL refuses every later
	// statement until then, and an operation that read past it must not
	// stand (see committers.transactWhole).
	failed error
	// savepoint is the place in queued, counted from 1, of a SAVEPOINT
	// not sent yet; 0 when there is none.
	savepoint int
	// commitFailed: COMMIT itself failed (not a statement before it), so
	// whether the transaction committed is not known to be "no".
	commitFailed bool
}

func newPgPipe(conn *pgx.Conn) *pgPipe {
	p := &pgPipe{conn: conn}
	p.queued.Queue("BEGIN")
	return p
}

// send sends what is queued and last (if not empty) as one pipeline.
func (p *pgPipe) send(ctx context.Context, last string, args []any) (br pgx.BatchResults, earlier int) {
	earlier = p.queued.Len()
	if last != "" {
		p.queued.Queue(last, args...)
	}
	b := p.queued // pgx reads the batch as it reads the results: a new one queues
	p.queued, p.savepoint = pgx.Batch{}, 0
	br = p.conn.SendBatch(ctx, &b)
	return br, earlier
}

// readEarlier reads the results of the n statements sent before the one
// that wants an answer; the first error is that statement's too.
func (p *pgPipe) readEarlier(br pgx.BatchResults, n int) error {
	for range n {
		if _, err := br.Exec(); err != nil {
			return p.fail(err)
		}
	}
	return nil
}

// fail records err as the transaction's failure (the first one counts)
// and returns it.
func (p *pgPipe) fail(err error) error {
	if err != nil && p.failed == nil {
		p.failed = err
	}
	return err
}

func (p *pgPipe) exec(ctx context.Context, q string, args []any) (sql.Result, error) {
	br, n := p.send(ctx, q, args)
	err := p.readEarlier(br, n)
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, p.fail(err)
	}
	return pgResult{tag}, nil
}

func (p *pgPipe) query(ctx context.Context, q string, args []any) (rowSet, error) {
	br, n := p.send(ctx, q, args)
	if err := p.readEarlier(br, n); err != nil {
		br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		if rows != nil {
			rows.Close()
		}
		br.Close()
		return nil, p.fail(err)
	}
	return &pgRows{Rows: rows, br: br, p: p}, nil
}

func (p *pgPipe) queryRow(ctx context.Context, q string, args []any) oneRow {
	br, n := p.send(ctx, q, args)
	return &pgRow{br: br, p: p, err: p.readEarlier(br, n)}
}

func (p *pgPipe) later(_ context.Context, q string, args []any) error {
	p.queued.Queue(q, args...)
	return nil
}

// between queues statements without parameters (savepoints, the bound on
// lock waits). Rolling back to the savepoint drops what was queued since
// it (undone anyway) and runs at once: the transaction may be failed,
// and PostgreSQL prepares no statement in a failed transaction, so
// nothing may go before it.
func (p *pgPipe) between(ctx context.Context, stmts []string) error {
	for _, q := range stmts {
		if !strings.HasPrefix(q, "ROLLBACK TO SAVEPOINT") {
			p.queued.Queue(q)
			if strings.HasPrefix(q, "SAVEPOINT") {
				p.savepoint = p.queued.Len()
			}
			continue
		}
		if p.savepoint > 0 { // the savepoint was not sent: nothing after it was
			p.queued.QueuedQueries = p.queued.QueuedQueries[:p.savepoint-1]
			p.savepoint = 0
			p.failed = nil
			continue
		}
		p.queued = pgx.Batch{}
		if _, err := p.conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		p.failed = nil
	}
	return nil
}

// sync sends what is queued and reports the transaction's failure.
func (p *pgPipe) sync(ctx context.Context) error {
	if p.queued.Len() > 0 {
		br, n := p.send(ctx, "", nil)
		if p.readEarlier(br, n) == nil { // else failed holds the error
			p.fail(br.Close())
		} else {
			br.Close()
		}
	}
	return p.failed
}

// commit sends what is queued with COMMIT. An error of a statement
// before COMMIT leaves the transaction open and failed: rolled back here.
func (p *pgPipe) commit(ctx context.Context) error {
	if p.failed != nil {
		p.rollback()
		return p.failed
	}
	br, n := p.send(ctx, "COMMIT", nil)
	err := p.readEarlier(br, n)
	if err == nil {
		if _, err = br.Exec(); err != nil {
			p.commitFailed = true
		}
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err, p.commitFailed = cerr, true
	}
	if err != nil {
		p.rollback() // open and failed when a statement before COMMIT failed
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// rollback ends the transaction, if one is open on the server (BEGIN
// went out, and no COMMIT or ROLLBACK since), undoing it; what is queued
// is dropped.
func (p *pgPipe) rollback() {
	p.queued, p.savepoint = pgx.Batch{}, 0
	if !p.conn.IsClosed() && p.conn.PgConn().TxStatus() != 'I' {
		// An error here closes the connection; nothing else to do.
		p.conn.Exec(context.Background(), "ROLLBACK", pgx.QueryExecModeSimpleProtocol)
	}
}

// rerunnable says whether a failed batch may run again isolated: its
// transaction was rolled back for a statement's failure, not lost in a
// COMMIT whose outcome is unknown.
func (p *pgPipe) rerunnable() bool {
	return p.failed != nil && !p.commitFailed && !p.conn.IsClosed()
}

// pgResult is an executed statement's result.
type pgResult struct{ tag pgconn.CommandTag }

func (r pgResult) LastInsertId() (int64, error) {
	return 0, errors.New("LastInsertId is not supported by PostgreSQL")
}
func (r pgResult) RowsAffected() (int64, error) { return r.tag.RowsAffected(), nil }

// pgRows are a pipelined query's rows; Close reads the pipeline's end.
type pgRows struct {
	pgx.Rows
	br     pgx.BatchResults
	p      *pgPipe
	closed bool
}

func (r *pgRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.Rows.Close()
	err := r.Rows.Err()
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return r.p.fail(err)
}

func (r *pgRows) Err() error { return r.p.fail(r.Rows.Err()) }

// pgRow is a pipelined one-row query; err is that of a statement before
// it in the pipeline.
type pgRow struct {
	br  pgx.BatchResults
	p   *pgPipe
	err error
}

func (r *pgRow) Scan(dest ...any) error {
	if r.err != nil {
		r.br.Close()
		return r.err
	}
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return r.p.fail(err)
	}
	return err
}
