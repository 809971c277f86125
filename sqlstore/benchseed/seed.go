// Package benchseed bulk-loads benchmark data into a store: people,
// terminals and a year of past sessions, straight into the tables
// (`latchkey bench seed`). It is not part of the store's API: it reaches
// the store through sqlstore/internal/bulk.
package benchseed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/internal/bulk"
)

// Seed data: what Seed loads, for benchmarks and the tests that check it.
const (
	// Password is the password of every seeded identity.
	Password = "seed-password"
	// SiteName is the name of the one seeded site.
	SiteName = "seed"
	// Terminals is how many terminals Seed registers.
	Terminals = 1000

	// MaxPrincipals and MaxSessions bound one Seed call.
	MaxPrincipals = 10_000_000
	MaxSessions   = 100_000_000

	seedRowsPerInsert = 500    // rows in one multi-row INSERT
	seedRowsPerTx     = 50_000 // rows in one transaction
	seedHistory       = 365 * 24 * time.Hour
)

// TerminalID is the id of seeded terminal i (0 <= i < Terminals).
// Seeded terminals have no token: they exist to carry past sessions, and
// tests act as them with a latchkey.Caller of role terminal.
func TerminalID(i int) string { return fmt.Sprintf("term_seed%04d", i) }

// PrincipalName is the name of seeded principal i, which is also the
// login of its one identity.
func PrincipalName(i int) string { return fmt.Sprintf("seed-%d", i) }

// Seed bulk-loads benchmark data into the store: `principals` people (role
// user, named and logged on as "seed-<i>", every identity with the password
// Password under one argon2id hash made once with the store's profile),
// one site "seed" with the API's default settings, Terminals terminals
// (ids from TerminalID, no tokens) and pastSessions ENDED sessions
// (end_reason logout, never locked, not exempt) spread over those people
// and terminals, started at increasing times over the year before the
// store's clock and each lasting between one minute and eight hours.
//
// It is benchmark data, not history: the rows are written with multi-row
// INSERTs straight into the tables, WITHOUT audit records and without the
// rules' checks, so the audit log does not mention them. Seed refuses a
// store that already holds a principal named "seed-0"; a Seed that fails
// part-way leaves the batches it committed, so seed a fresh store. On
// PostgreSQL it runs ANALYZE at the end, as autovacuum would soon after a
// bulk load; on SQLite it leaves the planner's statistics alone, as a
// production SQLite store has none.
func Seed(ctx context.Context, store *sqlstore.Store, principals, pastSessions int, progress io.Writer) error {
	h, ok := bulk.Access(store)
	if !ok {
		return errors.New("seed: no store")
	}
	s := &h
	if progress == nil {
		progress = io.Discard
	}
	switch {
	case principals < 0 || principals > MaxPrincipals:
		return fmt.Errorf("seed: principals must be 0 to %d", MaxPrincipals)
	case pastSessions < 0 || pastSessions > MaxSessions:
		return fmt.Errorf("seed: past sessions must be 0 to %d", MaxSessions)
	case pastSessions > 0 && principals == 0:
		return errors.New("seed: past sessions need at least one principal")
	}
	var n int
	if err := s.DB.QueryRowContext(ctx, s.Rebind("SELECT COUNT(*) FROM principals WHERE name = ?"), PrincipalName(0)).Scan(&n); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("seed: the store already has a principal named %q: it was seeded before; seed a fresh store", PrincipalName(0))
	}
	hash, err := s.HashPassword(Password)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	sd := &seeder{s: s, progress: progress, now: s.Now(), start: time.Now(), stmts: map[string]string{}}
	if s.SingleWriter {
		restore, err := sd.tuneSQLite(ctx)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		defer restore()
	}

	siteID := latchkey.NewID("site")
	site := latchkey.DefaultSite(SiteName)
	// The INSERTs name their columns here rather than borrowing the
	// store's column lists; TestSeed reads the rows back through the store.
	if err := sd.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.Rebind(`INSERT INTO sites (id, name, timezone, concurrency_controls,
			allow_standalone, standalone_auth, standalone_quotas, max_session_minutes, daily_quota_minutes,
			inactivity_lock_minutes, forced_timeout_minutes, warning_seconds, max_reservations_per_user,
			max_booking_days_ahead, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			siteID, site.Name, site.Timezone, site.ConcurrencyControls, site.AllowStandalone, site.StandaloneAuth,
			site.StandaloneQuotas, site.MaxSessionMinutes, site.DailyQuotaMinutes, site.InactivityLockMinutes,
			site.ForcedTimeoutMinutes, site.WarningSeconds, site.MaxReservationsPerUser, site.MaxBookingDaysAhead,
			us(sd.now)); err != nil {
			return err
		}
		return sd.insert(ctx, tx, "terminals", "id, name, site_id, created_at", "(?, ?, ?, ?)", Terminals, func(i int, a []any) []any {
			return append(a, TerminalID(i), fmt.Sprintf("seed counter %d", i), siteID, us(sd.now))
		})
	}); err != nil {
		return fmt.Errorf("seed site and terminals: %w", err)
	}
	sd.printf("seed: site %s and %d terminals (%s)\n", siteID, Terminals, sd.elapsed())

	// Principal ids are made up front: the sessions refer to them.
	rng := rand.New(rand.NewPCG(0x5eed, uint64(principals)))
	pids := make([]string, principals)
	for i := range pids {
		pids[i] = seedID(rng, "prn", sd.now)
	}
	const perTx = seedRowsPerTx / 2 // a principal and its identity
	for lo := 0; lo < principals; lo += perTx {
		hi := min(lo+perTx, principals)
		if err := sd.inTx(ctx, func(tx *sql.Tx) error {
			if err := sd.insert(ctx, tx, "principals", "id, name, role, global, disabled, created_at", "(?, ?, 'user', FALSE, FALSE, ?)", hi-lo, func(i int, a []any) []any {
				return append(a, pids[lo+i], PrincipalName(lo+i), us(sd.now))
			}); err != nil {
				return err
			}
			return sd.insert(ctx, tx, "identities", "login, principal_id, password_hash, created_at", "(?, ?, ?, ?)", hi-lo, func(i int, a []any) []any {
				return append(a, PrincipalName(lo+i), pids[lo+i], hash, us(sd.now))
			})
		}); err != nil {
			return fmt.Errorf("seed principals: %w", err)
		}
		sd.printf("seed: principals %d/%d (%s)\n", hi, principals, sd.elapsed())
	}

	// Sessions start at increasing times (ids, made like latchkey.NewID
	// from the start time, grow with them, as real ones do) from a year
	// before the clock to a day before it.
	first := sd.now.Add(-seedHistory)
	step := time.Duration(0)
	if pastSessions > 0 {
		step = (seedHistory - 24*time.Hour) / time.Duration(pastSessions)
	}
	chunks := (pastSessions + seedRowsPerTx - 1) / seedRowsPerTx
	workers := 1 // SQLite has one writer
	if !s.SingleWriter {
		workers = min(max(2, runtime.GOMAXPROCS(0)), 4)
	}
	var done atomic.Int64
	err = forChunks(ctx, chunks, workers, func(ctx context.Context, c int) error {
		lo, hi := c*seedRowsPerTx, min((c+1)*seedRowsPerTx, pastSessions)
		rng := rand.New(rand.NewPCG(0x5eed5e55, uint64(c))) // one per chunk: the data does not depend on the workers
		err := sd.inTx(ctx, func(tx *sql.Tx) error {
			return sd.insert(ctx, tx, "sessions",
				"id, principal_id, identity, terminal_id, site_id, status, started_at, ended_at, last_activity_at, standalone, exempt, end_reason",
				"(?, ?, ?, ?, ?, 'ended', ?, ?, ?, FALSE, FALSE, 'logout')", hi-lo, func(i int, a []any) []any {
					k := lo + i
					started := first.Add(time.Duration(k) * step)
					if step > time.Microsecond {
						started = started.Add(time.Duration(rng.Int64N(int64(step))))
					}
					started = started.Truncate(time.Microsecond)
					dur := time.Minute + time.Duration(rng.Int64N(int64(8*time.Hour-time.Minute)))
					ended := started.Add(dur).Truncate(time.Microsecond)
					// the last activity: up to ten minutes before the log-out
					idle := time.Duration(rng.Int64N(int64(min(dur, 10*time.Minute))))
					activity := ended.Add(-idle).Truncate(time.Microsecond)
					p := rng.IntN(principals)
					return append(a, seedID(rng, "ses", started), pids[p], PrincipalName(p), TerminalID(rng.IntN(Terminals)),
						siteID, us(started), us(ended), us(activity))
				})
		})
		if err != nil {
			return err
		}
		sd.printf("seed: sessions %d/%d (%s)\n", done.Add(int64(hi-lo)), pastSessions, sd.elapsed())
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed sessions: %w", err)
	}

	if s.AnalyzeAfterLoad {
		for _, table := range []string{"principals", "identities", "terminals", "sessions"} {
			if _, err := s.DB.ExecContext(ctx, "ANALYZE "+table); err != nil {
				return fmt.Errorf("seed: analyze %s: %w", table, err)
			}
		}
	}
	sd.printf("seed: done: %d principals, %d terminals, %d past sessions in %s\n",
		principals, Terminals, pastSessions, sd.elapsed())
	return nil
}

// seeder holds one Seed call's state.
type seeder struct {
	s        *bulk.Handle
	progress io.Writer // written under mu
	now      time.Time // the store's clock when seeding began
	start    time.Time // wall clock, for progress
	mu       sync.Mutex
	stmts    map[string]string // rebound multi-row INSERTs by table and row count
	conn     *sql.Conn         // SQLite: the writer connection, held throughout
}

// tuneSQLite takes the writer connection for the whole seed and, for its
// duration, gives it a 64 MiB page cache (the indexes of a million
// sessions outgrow the default 2 MiB, and every miss is a read) and keeps
// its statement journals in memory (each multi-row INSERT has one). The
// returned func puts both back and frees the connection.
func (sd *seeder) tuneSQLite(ctx context.Context) (func(), error) {
	conn, err := sd.s.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var cache, temp int64
	if err := conn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&temp); err != nil {
		conn.Close()
		return nil, err
	}
	for _, q := range []string{"PRAGMA cache_size = -65536", "PRAGMA temp_store = MEMORY"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			return nil, err
		}
	}
	sd.conn = conn
	return func() {
		// not ctx: the settings are put back even when the seed was cancelled
		conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA cache_size = %d", cache))
		conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA temp_store = %d", temp))
		conn.Close()
	}, nil
}

func (sd *seeder) printf(format string, args ...any) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	fmt.Fprintf(sd.progress, format, args...)
}

func (sd *seeder) elapsed() time.Duration { return time.Since(sd.start).Round(time.Millisecond) }

// seedID makes an id shaped like latchkey.NewID's, for the instant at.
func seedID(rng *rand.Rand, prefix string, at time.Time) string {
	return fmt.Sprintf("%s_%011x%016x", prefix, at.UnixMilli(), rng.Uint64())
}

// forChunks runs fn for chunks 0..n-1 on up to workers goroutines, stopping
// at the first error.
func forChunks(ctx context.Context, n, workers int, fn func(ctx context.Context, chunk int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1) - 1)
				if c >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, c); err != nil {
					errs[w] = err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs { // the first real cause, not a cancellation it caused
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// inTx runs fn in one write transaction.
func (sd *seeder) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	var tx *sql.Tx
	var err error
	if sd.conn != nil {
		tx, err = sd.conn.BeginTx(ctx, nil)
	} else {
		tx, err = sd.s.DB.BeginTx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// insert writes n rows into table with multi-row INSERTs of up to
// seedRowsPerInsert rows. row appends the arguments of row i (matching the
// placeholders of tuple) to a and returns it.
func (sd *seeder) insert(ctx context.Context, tx *sql.Tx, table, cols, tuple string, n int, row func(i int, a []any) []any) error {
	var full *sql.Stmt // the full-size INSERT, parsed once per call
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	var args []any
	for lo := 0; lo < n; lo += seedRowsPerInsert {
		hi := min(lo+seedRowsPerInsert, n)
		args = args[:0]
		for i := lo; i < hi; i++ {
			args = row(i, args)
		}
		var err error
		if hi-lo == seedRowsPerInsert {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, sd.stmt(table, cols, tuple, seedRowsPerInsert)); err != nil {
					return fmt.Errorf("insert %s: %w", table, err)
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, sd.stmt(table, cols, tuple, hi-lo), args...)
		}
		if err != nil {
			return fmt.Errorf("insert %s: %w", table, err)
		}
	}
	return nil
}

// stmt returns the rebound INSERT of rows tuples into table.
func (sd *seeder) stmt(table, cols, tuple string, rows int) string {
	key := fmt.Sprintf("%s/%d", table, rows)
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if q, ok := sd.stmts[key]; ok {
		return q
	}
	var b strings.Builder
	b.Grow(len(table) + len(cols) + rows*(len(tuple)+2) + 32)
	b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	q := sd.s.Rebind(b.String())
	sd.stmts[key] = q
	return q
}

func us(t time.Time) int64 { return t.UTC().UnixMicro() }
