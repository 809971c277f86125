// Package bulk is the narrow door through which the benchmark seeder
// (sqlstore/benchseed) reaches the store's database, dialect and password
// profile. It is internal to sqlstore, so no production code outside the
// store can use it, and the store's exported API carries no seeding.
package bulk

import (
	"database/sql"
	"time"
)

// Handle is what a bulk loader needs of a store.
type Handle struct {
	// DB is the store's writer pool (SQLite: one connection).
	DB *sql.DB
	// Rebind turns ? placeholders into the dialect's.
	Rebind func(q string) string
	// SingleWriter: SQLite (one writer, tuned for a file); else PostgreSQL.
	SingleWriter bool
	// AnalyzeAfterLoad: the planner's statistics need a refresh after a
	// bulk load (PostgreSQL).
	AnalyzeAfterLoad bool
	// HashPassword hashes with the store's argon2id profile.
	HashPassword func(password string) (string, error)
	// Now is the store's clock.
	Now func() time.Time
}

// Access returns the handle of a *sqlstore.Store (ok false for anything else).
// sqlstore sets it when it is initialised.
var Access func(store any) (Handle, bool)
