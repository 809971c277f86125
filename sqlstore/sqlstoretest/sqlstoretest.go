// Package sqlstoretest opens throw-away stores on every backend for tests:
// SQLite in a temporary directory, and PostgreSQL in a schema of its own
// when LATCHKEY_TEST_POSTGRES is set or a server answers on 127.0.0.1:5432.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/passhash"
	"latchkey/sqlstore"
)

// DefaultPostgres is tried when LATCHKEY_TEST_POSTGRES is unset.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Backend is one store backend a test runs on.
type Backend struct {
	Name string // "sqlite" or "postgres"
	// URL makes a new, empty store URL (a fresh file or schema) for t.
	URL func(t testing.TB) string
}

var (
	pgOnce sync.Once
	pgDSN  string
)

// PostgresDSN returns the DSN PostgreSQL tests use, or "" (with the reason)
// when none is configured and nothing answers on 127.0.0.1:5432.
func PostgresDSN() (string, string) {
	pgOnce.Do(func() {
		if v := os.Getenv("LATCHKEY_TEST_POSTGRES"); v != "" {
			pgDSN = v
			return
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second)
		if err != nil {
			return
		}
		c.Close()
		pgDSN = DefaultPostgres
	})
	if pgDSN == "" {
		return "", "LATCHKEY_TEST_POSTGRES is unset and nothing answers on 127.0.0.1:5432"
	}
	return pgDSN, ""
}

// Backends returns SQLite and, where available, PostgreSQL. When
// PostgreSQL is unavailable it is still returned, and its URL skips the
// test with a message saying why (CI sets LATCHKEY_TEST_POSTGRES, so there
// it never skips).
func Backends() []Backend { return []Backend{SQLite(), Postgres()} }

// SQLite is the embedded backend: a fresh database file in t's temp dir.
func SQLite() Backend {
	return Backend{Name: "sqlite", URL: func(t testing.TB) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "latchkey.db")
	}}
}

// Postgres is the PostgreSQL backend, a fresh schema per URL; for the
// tests that only mean something with several nodes on one database.
func Postgres() Backend { return Backend{Name: "postgres", URL: PostgresSchemaURL} }

// ForEach runs fn as a parallel subtest on every backend (named "sqlite"
// and "postgres"): the one loop every backend test of the store and the
// API suite uses.
func ForEach(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

// PostgresSchemaURL creates a fresh schema for t (dropped when t ends) and
// returns a DSN whose search_path is that schema.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	dsn, why := PostgresDSN()
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL tests must run in CI: %s", why)
		}
		t.Skipf("skipping PostgreSQL: %s", why)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema (is PostgreSQL at %s reachable?): %v", latchkey.Redact(dsn), latchkey.RedactError(err, dsn))
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Options are test defaults: the cheap argon2id profile (tests only) and a
// fake clock.
func Options(clock latchkey.Clock) sqlstore.Options {
	return sqlstore.Options{Password: passhash.Test, Clock: clock}
}

// Open opens a store at url with opts, closed when t ends.
func Open(t testing.TB, url string, opts sqlstore.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Clock is a settable clock for tests; safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// RawDB opens the database of a store URL of backend b directly (not
// through the store), for tests that check what the rows hold; it is
// closed when t ends.
func RawDB(t testing.TB, b Backend, url string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", url
	if b.Name == "sqlite" {
		driver, dsn = "sqlite", strings.TrimPrefix(url, "sqlite://")
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
