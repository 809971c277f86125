package sqlstore

import (
	"context"
	"database/sql"
)

// rowSet is what a query returns: *sql.Rows, or a pipelined PostgreSQL
// transaction's rows (pgRows).
type rowSet interface {
	Next() bool
	Scan(dest ...any) error
	Close() error
	Err() error
}

// oneRow is what a one-row query returns: *sql.Row, or pgRow.
type oneRow interface {
	Scan(dest ...any) error
}

// querier runs a transaction's statements (already rebound for the
// dialect). later runs one whose result nobody reads: at once, or on a
// pipelined transaction (pgPipe) with the next statements sent, its
// error then reported by them.
type querier interface {
	exec(ctx context.Context, q string, args []any) (sql.Result, error)
	query(ctx context.Context, q string, args []any) (rowSet, error)
	queryRow(ctx context.Context, q string, args []any) oneRow
	later(ctx context.Context, q string, args []any) error
}

// sqlQuerier runs a database/sql transaction's statements one by one.
type sqlQuerier struct{ tx *sql.Tx }

func (s sqlQuerier) exec(ctx context.Context, q string, args []any) (sql.Result, error) {
	return s.tx.ExecContext(ctx, q, args...)
}

func (s sqlQuerier) query(ctx context.Context, q string, args []any) (rowSet, error) {
	rows, err := s.tx.QueryContext(ctx, q, args...)
	if err != nil { // a nil *sql.Rows in the interface would not be nil
		return nil, err
	}
	return rows, nil
}

func (s sqlQuerier) queryRow(ctx context.Context, q string, args []any) oneRow {
	return s.tx.QueryRowContext(ctx, q, args...)
}

func (s sqlQuerier) later(ctx context.Context, q string, args []any) error {
	_, err := s.tx.ExecContext(ctx, q, args...)
	return err
}
