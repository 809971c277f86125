package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgRowClient runs latchkey's lock operation shape on PostgreSQL by hand
// (see the package comment, pgrow).
type pgRowClient struct {
	conn       *pgx.Conn
	roundTrips int
}

const (
	pgRowTables = `CREATE TABLE IF NOT EXISTS lockcompare_rows (name TEXT PRIMARY KEY, fence BIGINT NOT NULL DEFAULT 0, holder TEXT);
		CREATE TABLE IF NOT EXISTS lockcompare_audit (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, details TEXT NOT NULL)`
	pgRowRead  = "INSERT INTO lockcompare_rows (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET fence = lockcompare_rows.fence RETURNING fence, holder"
	pgRowWrite = "UPDATE lockcompare_rows SET fence = fence + 1, holder = $2 WHERE name = $1"
	pgRowAudit = "INSERT INTO lockcompare_audit (at, action, target, details) VALUES ($1, $2, $3, '{}')"
)

func newPGRow(ctx context.Context, url string, roundTrips int) (*pgRowClient, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, pgRowTables); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return &pgRowClient{conn: conn, roundTrips: roundTrips}, nil
}

func (c *pgRowClient) lock(ctx context.Context, name string) error {
	return c.op(ctx, name, "x", "lock.acquire")
}
func (c *pgRowClient) unlock(ctx context.Context, name string) error {
	return c.op(ctx, name, "", "lock.release")
}

// op is one durable lock operation: read (and lock) the row, write it,
// audit it, commit, in c.roundTrips round trips.
func (c *pgRowClient) op(ctx context.Context, name, holder, action string) error {
	at := time.Now().UnixMicro()
	switch c.roundTrips {
	case 1:
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(pgRowRead, name)
		b.Queue(pgRowWrite, name, holder)
		b.Queue(pgRowAudit, at, action, name)
		b.Queue("COMMIT")
		return c.conn.SendBatch(ctx, b).Close()
	case 2:
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(pgRowRead, name)
		br := c.conn.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		var fence int64
		var was *string
		if err := br.QueryRow().Scan(&fence, &was); err != nil {
			br.Close()
			return err
		}
		if err := br.Close(); err != nil {
			return err
		}
		b = &pgx.Batch{}
		b.Queue(pgRowWrite, name, holder)
		b.Queue(pgRowAudit, at, action, name)
		b.Queue("COMMIT")
		return c.conn.SendBatch(ctx, b).Close()
	}
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var fence int64
	var was *string
	if err := tx.QueryRow(ctx, pgRowRead, name).Scan(&fence, &was); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, pgRowWrite, name, holder); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, pgRowAudit, at, action, name); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (c *pgRowClient) close() { c.conn.Close(context.Background()) }
