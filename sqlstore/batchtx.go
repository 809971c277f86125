package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"

	"latchkey"
)

// batchTx is the transaction a committer runs a batch in: a database/sql
// transaction (sqlBatch), or on PostgreSQL a pipelined one (pgPipe).
type batchTx interface {
	querier
	// between runs statements without parameters in order (savepoints,
	// the bound on lock waits), now or with the next statements sent.
	between(ctx context.Context, stmts []string) error
	// sync sends what waits to be sent and reports whether a statement
	// of the transaction (since the savepoint last rolled back to) failed.
	sync(ctx context.Context) error
	commit(ctx context.Context) error
	rollback()
	// rerunnable: after a failed commit, the transaction is known to be
	// rolled back for a statement's failure, so its batch may run again.
	rerunnable() bool
}

// sqlBatch is a database/sql transaction (SQLite's: each statement runs
// in process, so nothing is gained by sending several together).
type sqlBatch struct{ sqlQuerier }

// between runs the statements one by one.
func (b sqlBatch) between(ctx context.Context, stmts []string) error {
	for _, q := range stmts {
		if _, err := b.tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (b sqlBatch) sync(context.Context) error { return nil }

func (b sqlBatch) commit(context.Context) error {
	if err := b.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (b sqlBatch) rollback()        { b.tx.Rollback() }
func (b sqlBatch) rerunnable() bool { return false }

// batchOp makes the tx of one operation of a batch run in b (or of the
// batch's end), after operations that queued the records earlier.
func (s *Store) batchOp(ctx context.Context, b batchTx, earlier []latchkey.AuditRecord) *tx {
	t := &tx{db: b, s: s, ctx: ctx, now: s.now(), earlier: earlier}
	if sb, ok := b.(sqlBatch); ok {
		t.sqlTx = sb.tx // its cached prepared statements (SQLite)
	}
	return t
}

// inBatchTx runs fn in a new transaction of the writer, which fn ends
// (commit or rollback). On PostgreSQL it is pipelined, on the pgx
// connection under a database/sql connection held for it.
func (s *Store) inBatchTx(ctx context.Context, fn func(b batchTx) error) error {
	if !s.d.networked() {
		sqltx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		return fn(sqlBatch{sqlQuerier{sqltx}})
	}
	sc, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer sc.Close()
	var ferr error
	err = sc.Raw(func(dc any) error {
		sconn, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("begin: the PostgreSQL driver's connection is a %T", dc)
		}
		p := newPgPipe(sconn.Conn())
		ferr = fn(p)
		// fn ends its transaction. The connection goes back to the pool
		// only outside one (database/sql would hand it to the next user as
		// it is): a safety net, never used but for a bug.
		p.rollback()
		if pc := p.conn.PgConn(); pc.IsClosed() || pc.IsBusy() || pc.TxStatus() != 'I' {
			return driver.ErrBadConn // database/sql drops the connection
		}
		return nil
	})
	if ferr == nil && err != nil && !errors.Is(err, driver.ErrBadConn) {
		return err
	}
	return ferr
}
