package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds a stmtCache. Every query text comes from this
// package's code (values are always bound parameters), so the real number
// is a few dozen; the bound only guards against a future query built from
// data.
const maxCachedStmts = 256

// stmtCache keeps one prepared statement per query text on one *sql.DB, so
// SQLite parses and plans each query once per connection instead of on
// every call (database/sql prepares again for every unprepared call, which
// cost about 1.5% of the server's CPU under login load). PostgreSQL needs
// none: pgx caches prepared statements per connection by itself.
//
// Preparing on a *sql.DB takes one of its connections. The SQLite writer
// has a single one, held by the running transaction, so a write
// transaction never prepares: it runs a new query unprepared and leaves it
// pending, and the writer prepares the pending queries once the
// transaction has ended (preparePending).
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	m       map[string]*sql.Stmt // nil: did not prepare, always runs unprepared
	pending map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt), pending: make(map[string]bool)}
}

// lookup returns the statement prepared for q, or nil after noting q as
// pending.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.RLock()
	st, known := c.m[q]
	known = known || c.pending[q]
	c.mu.RUnlock()
	if known {
		return st
	}
	c.mu.Lock()
	if _, ok := c.m[q]; !ok && len(c.m)+len(c.pending) < maxCachedStmts {
		c.pending[q] = true
	}
	c.mu.Unlock()
	return nil
}

// get returns the statement for q, preparing it now if need be. Only for a
// pool with a connection to spare; on error or a full cache it returns
// nil and the caller runs q unprepared.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if st := c.lookup(q); st != nil {
		return st
	}
	c.preparePending(ctx)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[q]
}

// preparePending prepares the queries noted as pending. It holds no lock
// while it prepares: a write transaction that holds the writer's
// connection may look a query up meanwhile. A query that does not prepare
// keeps running unprepared, where its error shows; one cut short by ctx
// stays pending.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.RLock()
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	c.mu.RUnlock()
	for _, q := range qs {
		st, err := c.db.PrepareContext(ctx, q) // ctx bounds the preparing only
		if err != nil && ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		if c.pending[q] {
			delete(c.pending, q)
			c.m[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil { // another caller prepared it first
			st.Close()
		}
	}
}

// hasPending reports whether preparePending has work.
func (c *stmtCache) hasPending() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.pending) > 0
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for q, st := range c.m {
		if st != nil {
			err = errors.Join(err, st.Close())
		}
		delete(c.m, q)
	}
	return err
}
