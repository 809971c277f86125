package sqlstore

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between the backends; queries are written once
// with ? placeholders.
type dialect interface {
	name() string
	rebind(q string) string
	// forUpdate is the row-lock suffix of a SELECT (SQLite serialises
	// writers instead and has none).
	forUpdate() string
	// skipLocked is the suffix of a SELECT that locks the rows it returns
	// and passes over rows another transaction holds (job claims).
	skipLocked() string
	// retryable reports a transaction that lost a race and may be rerun.
	retryable(err error) bool
	lockWaitTimedOut(err error) bool
	uniqueViolation(err error) bool

	// advisoryLock is the statement that serialises, across nodes, the
	// transactions that run it with key (bootstrap, migrations); "" where
	// there is one writer anyway (SQLite).
	advisoryLock(key int) string
	// boundLockWait is the statement that bounds the rest of a
	// transaction's row-lock waits to d (a PostgreSQL interval); "" where
	// there are no row locks to wait for.
	boundLockWait(d string) string
	// notifies reports whether the store can tell other nodes of a commit
	// (LISTEN/NOTIFY); without it there is only this process.
	notifies() bool
	// networked reports a store whose every statement is a round trip to
	// a server (PostgreSQL): worth sending several changes in one
	// statement. SQLite runs in-process, where its cached one-row
	// statements are cheaper.
	networked() bool
	// singleWriter reports a store with one writer at a time (SQLite): one
	// committer, one loader, and bulk loads tuned for a file.
	singleWriter() bool
	// readOnlyTx reports whether read transactions are declared read-only
	// (SQLite's read pool is read-only already).
	readOnlyTx() bool
	// arrays reports whether a Go slice binds as an SQL array (PostgreSQL
	// through pgx), so that one statement can take a batch of values.
	arrays() bool
	// analyzeAfterLoad reports whether the planner's statistics must be
	// refreshed after a bulk load.
	analyzeAfterLoad() bool
	// nameKey is the indexed expression a search for people compares
	// names by: the name with A-Z folded (latchkey.FoldASCII), in byte
	// order; loginKey is a login ID in byte order.
	nameKey() string
	loginKey() string
	// planEachTime is what goes before a query's arguments so that it is
	// planned for its values on every run rather than once for all
	// (PostgreSQL: pgx's QueryExecModeExec); none where plans are made per
	// statement anyway (SQLite).
	planEachTime() []any
	// indexedBy is the suffix of a table's name in FROM that makes the
	// planner read it through index (SQLite's INDEXED BY); "" where the
	// planner is steered another way (PostgreSQL, by its statistics).
	indexedBy(index string) string
}

func (sqliteDialect) indexedBy(index string) string { return " INDEXED BY " + index }
func (postgresDialect) indexedBy(string) string     { return "" }

func (sqliteDialect) planEachTime() []any   { return nil }
func (postgresDialect) planEachTime() []any { return []any{pgx.QueryExecModeExec} }

func (sqliteDialect) nameKey() string  { return "lower(name)" }
func (sqliteDialect) loginKey() string { return "login" }
func (postgresDialect) nameKey() string {
	return `translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"`
}
func (postgresDialect) loginKey() string { return `login COLLATE "C"` }

func (sqliteDialect) advisoryLock(int) string     { return "" }
func (sqliteDialect) boundLockWait(string) string { return "" }
func (sqliteDialect) notifies() bool              { return false }
func (sqliteDialect) networked() bool             { return false }
func (sqliteDialect) singleWriter() bool          { return true }
func (sqliteDialect) readOnlyTx() bool            { return false }
func (sqliteDialect) analyzeAfterLoad() bool      { return false }
func (sqliteDialect) arrays() bool                { return false }
func (postgresDialect) advisoryLock(key int) string {
	return "SELECT pg_advisory_xact_lock(" + strconv.Itoa(key) + ")"
}
func (postgresDialect) boundLockWait(d string) string {
	return "SET LOCAL lock_timeout = '" + d + "'"
}
func (postgresDialect) notifies() bool         { return true }
func (postgresDialect) networked() bool        { return true }
func (postgresDialect) singleWriter() bool     { return false }
func (postgresDialect) readOnlyTx() bool       { return true }
func (postgresDialect) analyzeAfterLoad() bool { return true }
func (postgresDialect) arrays() bool           { return true }

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }
func (sqliteDialect) forUpdate() string      { return "" }
func (sqliteDialect) skipLocked() string     { return "" }
func (sqliteDialect) retryable(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		c := e.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}
func (sqliteDialect) uniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

type postgresDialect struct{}

func (postgresDialect) name() string       { return "postgres" }
func (postgresDialect) forUpdate() string  { return " FOR UPDATE" }
func (postgresDialect) skipLocked() string { return " FOR UPDATE SKIP LOCKED" }
func (postgresDialect) rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// lockWaitTimedOut reports a statement that gave up waiting for a row
// lock (lock_timeout): see committers.transact.
func (postgresDialect) lockWaitTimedOut(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "55P03"
}

func (sqliteDialect) lockWaitTimedOut(error) bool { return false }

func (postgresDialect) retryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
}
func (postgresDialect) uniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}
