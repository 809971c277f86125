// Package sqlstore is latchkey's store: all authoritative state in SQL,
// on embedded SQLite (one file, WAL) or on PostgreSQL shared by several
// server nodes. One schema, one set of queries, two dialects.
package sqlstore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // also registers driver "pgx"
	_ "modernc.org/sqlite"           // registers driver "sqlite"

	"latchkey"
	"latchkey/passhash"
	"latchkey/private"
)

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// Password is the argon2id profile for new password hashes
	// (default passhash.Production).
	Password passhash.Params
	Clock    latchkey.Clock         // default latchkey.SystemClock
	Attempts latchkey.AttemptPolicy // default latchkey.DefaultAttemptPolicy
	TokenTTL time.Duration          // user token lifetime, default 12h
	Logger   *slog.Logger           // default slog.Default()
	// MaxConns bounds the PostgreSQL pool (default 32).
	MaxConns int
	// Config says which configuration domains are managed by which lock
	// and which only admins may write (zero: latchkey.DefaultConfigPolicy).
	Config latchkey.ConfigPolicy
	// ReservationGrace is how long a reservation waits for its person
	// before it is released (default 10 minutes).
	ReservationGrace time.Duration
	// Checkouts are the instruction timeouts (zero fields: the seed's 5
	// and 10 minutes).
	Checkouts latchkey.CheckoutTimeouts
	// CheckoutWarning is how long before a check-out ends its person is
	// warned on the event stream (default 5 minutes; negative: never).
	CheckoutWarning time.Duration
	// OfflineDays is how long after a person's last online logon their
	// offline logon verifier stays in agents' policies (default
	// DefaultOfflineDays); OfflineCap bounds the verifiers of one policy
	// (default DefaultOfflineCap).
	OfflineDays int
	OfflineCap  int
	// Committers is how many write transactions a PostgreSQL store runs at
	// once, each a group commit of the writes waiting (default 4). SQLite
	// always has one: it has one writer.
	Committers int
	// BatchWait bounds how long a committer gathers writes for its batch
	// while another batch is under way (see startBatch; default
	// DefaultBatchWait; negative: it never waits). No batch under way,
	// it starts at once; SQLite's one committer never waits.
	BatchWait time.Duration
	// IdempotencyTTL is how long an Idempotency-Key record is kept: an
	// older key is taken as new, and the sweeper deletes it (default
	// latchkey.DefaultIdempotencyTTL).
	IdempotencyTTL time.Duration
	// Node is this node's ID (its heartbeats, its claims of keyed
	// requests); "" for a store that is no cluster node (tests, tools).
	Node string
	// OutageGrace gives a silence of the whole cluster (no heartbeat and
	// no sweep for longer than NodeDeadAfter) back to the leases that were
	// live when it began (see resumeAfterSilence). Servers turn it on;
	// it is off by default, for tests that jump a fake clock between
	// sweeps.
	OutageGrace bool
	// NodeDeadAfter is how long after its last heartbeat a node is taken
	// for dead (default latchkey.DefaultNodeDeadAfter).
	NodeDeadAfter time.Duration
	// ApprovalTimeout is how long an access request waits for approval
	// before it expires (default latchkey.DefaultApprovalTimeout).
	ApprovalTimeout time.Duration
}

// Store implements latchkey.Store on SQLite or PostgreSQL.
type Store struct {
	d      dialect
	w      *sql.DB // writes (SQLite: one connection, BEGIN IMMEDIATE)
	r      *sql.DB // reads (PostgreSQL: the same pool)
	opts   Options
	clock  latchkey.Clock
	log    *slog.Logger
	hashes chan struct{} // at most NumCPU argon2id hashes at once (CPU and memory)
	dummy  string        // a hash verified for unknown identities, for even timing
	// wst and rst cache prepared statements of w and r (SQLite only; see
	// stmtCache).
	wst, rst *stmtCache
	commit   *committers
	// chain moves the audit records of PostgreSQL's commit batches into
	// the chained log (auditchain.go); nil on SQLite.
	chain *chainer
	// events wakes event streams after commits of audit records; on
	// PostgreSQL a listener (stopped by stopListen) also wakes it for
	// other nodes' commits.
	events *signal
	// nodeTag is the payload of this store's event notifications, by
	// which its listener knows its own (random, per open).
	nodeTag    string
	mail       *mailbox
	jobs       *signal // wakes job runners (see JobsChanged)
	feed       feed
	stopListen func()
	// listening is true while the listener follows the channels (it
	// wakes everything when it (re)connects; tests wait for it).
	listening atomic.Bool
	retries   atomic.Int64 // see Retries
	// key signs quota snapshots (loaded once; see signingKey).
	keyMu sync.Mutex
	key   ed25519.PrivateKey
	// idemKey keys request fingerprints (loaded once; see
	// idempotencySecret).
	idemMu  sync.Mutex
	idemKey []byte
	// clockSeen is when (store clock, µs) this node last looked at the
	// cluster clock; freshMu serialises freshen's look (see freshen).
	clockSeen atomic.Int64
	freshMu   sync.Mutex
	// auth caches token → caller on this node (authcache.go).
	auth authCache
}

var _ latchkey.Store = (*Store)(nil)

// Open opens (and migrates) the store at storeURL: "sqlite://PATH" (or
// "sqlite:PATH") or "postgres://..." / "postgresql://...".
func Open(ctx context.Context, storeURL string, opts Options) (*Store, error) {
	if opts.Password == (passhash.Params{}) {
		opts.Password = passhash.Production
	}
	if opts.OfflineDays <= 0 {
		opts.OfflineDays = DefaultOfflineDays
	}
	if opts.OfflineCap <= 0 {
		opts.OfflineCap = DefaultOfflineCap
	}
	if err := opts.Password.Validate(); err != nil {
		return nil, fmt.Errorf("password parameters: %w", err)
	}
	injected := opts.Clock != nil
	if opts.Clock == nil {
		opts.Clock = latchkey.SystemClock{}
	}
	if opts.Attempts == (latchkey.AttemptPolicy{}) {
		opts.Attempts = latchkey.DefaultAttemptPolicy
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 12 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = 32
	}
	if opts.Committers <= 0 {
		opts.Committers = 4
	}
	if opts.BatchWait == 0 {
		opts.BatchWait = DefaultBatchWait
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = latchkey.DefaultIdempotencyTTL
	}
	if opts.Checkouts.InstructionLock <= 0 {
		opts.Checkouts.InstructionLock = latchkey.DefaultInstructionLock
	}
	if opts.NodeDeadAfter <= 0 {
		opts.NodeDeadAfter = latchkey.DefaultNodeDeadAfter
	}
	if opts.ApprovalTimeout <= 0 {
		opts.ApprovalTimeout = latchkey.DefaultApprovalTimeout
	}
	if opts.ReservationGrace <= 0 {
		opts.ReservationGrace = latchkey.DefaultReservationGrace
	}
	if opts.CheckoutWarning == 0 {
		opts.CheckoutWarning = latchkey.DefaultCheckoutWarning
	}
	if opts.Config.Managed == nil && opts.Config.AdminOnly == nil {
		opts.Config = latchkey.DefaultConfigPolicy()
	}
	s := &Store{opts: opts, clock: opts.Clock, log: opts.Logger,
		hashes: make(chan struct{}, runtime.NumCPU()), events: newSignal(), nodeTag: rand.Text(), mail: newMailbox(), jobs: newSignal()}
	var err error
	switch {
	case strings.HasPrefix(storeURL, "sqlite:"):
		err = s.openSQLite(strings.TrimPrefix(strings.TrimPrefix(storeURL, "sqlite:"), "//"))
	case strings.HasPrefix(storeURL, "postgres://"), strings.HasPrefix(storeURL, "postgresql://"):
		err = s.openPostgres(storeURL)
	default:
		return nil, fmt.Errorf("store URL %q: want sqlite://PATH or postgres://", latchkey.Redact(storeURL))
	}
	if err != nil {
		return nil, latchkey.RedactError(err, storeURL)
	}
	if !injected && s.d.notifies() { // several nodes: one clock, the server's
		if err := s.useStoreClock(ctx); err != nil {
			s.Close()
			return nil, latchkey.RedactError(err, storeURL)
		}
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, latchkey.RedactError(fmt.Errorf("migrate: %w", err), storeURL)
	}
	if s.dummy, err = opts.Password.Hash("latchkey timing dummy"); err != nil {
		s.Close()
		return nil, err
	}
	committers := opts.Committers
	if s.d.singleWriter() {
		committers = 1
	}
	if !s.d.singleWriter() {
		s.startChainer()
	}
	s.startCommitters(committers)
	return s, nil
}

func (s *Store) openSQLite(path string) error {
	if path == "" {
		return errors.New("sqlite store needs a path: sqlite:///path/to/latchkey.db")
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	// The database and its -wal/-shm files are the server's secrets
	// (password hashes, token hashes, the signing key): 0600 whatever they
	// were, and created 0600 (SQLite gives -wal and -shm the database's
	// mode).
	if err := private.Create(path); err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	if err := private.Files(private.SQLite(path)...); err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	var err error
	if s.w, err = sql.Open("sqlite", dsn+"&_txlock=immediate"); err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	s.w.SetMaxOpenConns(1) // one writer: every write transaction is serialised
	if s.r, err = sql.Open("sqlite", dsn); err != nil {
		s.w.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	// Keep every read connection open: database/sql keeps only two idle by
	// default, and reopening a SQLite connection (and re-preparing its
	// statements) cost 13% of the server's CPU under load.
	s.r.SetMaxOpenConns(runtime.GOMAXPROCS(0) * 2)
	s.r.SetMaxIdleConns(runtime.GOMAXPROCS(0) * 2)
	s.d = sqliteDialect{}
	s.wst, s.rst = newStmtCache(s.w), newStmtCache(s.r)
	if err := s.w.Ping(); err != nil {
		s.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := private.Files(private.SQLite(path)...); err != nil {
		s.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	return nil
}

// idleInTxTimeout ends a PostgreSQL session that sits idle inside a
// transaction this long (idle_in_transaction_session_timeout), unless the
// store URL sets it: a node frozen in the middle of a step (SIGSTOP, a
// paused VM) would otherwise keep its job's row locked, and the other
// nodes' claims (SKIP LOCKED) would pass it over until it woke. A job's
// lease: by then its claim has lapsed too. latchkey's own transactions
// never wait on anything but the database between statements.
const idleInTxTimeout = latchkey.DefaultJobLease

func (s *Store) openPostgres(dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("open postgres %s: %w", latchkey.Redact(dsn), err)
	}
	if _, set := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(idleInTxTimeout.Milliseconds(), 10)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(s.opts.MaxConns)
	db.SetMaxIdleConns(s.opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.w, s.r, s.d = db, db, postgresDialect{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("open postgres %s: %w", latchkey.Redact(dsn), err)
	}
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.listen(lctx, dsn)
	}()
	s.stopListen = func() { stop(); <-done }
	return nil
}

// useStoreClock makes the store judge time by the database server's
// clock (see storeClock).
func (s *Store) useStoreClock(ctx context.Context) error {
	c := &storeClock{}
	if err := s.measureClock(ctx, c); err != nil {
		return fmt.Errorf("read the database server's clock: %w", err)
	}
	s.clock = c
	cctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.followClock(cctx, c) }()
	listen := s.stopListen
	s.stopListen = func() { stop(); <-done; listen() }
	return nil
}

// Dialect names the backend: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name() }

// Ping reports whether the store answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return latchkey.Errorf(latchkey.EUNAVAILABLE, "store unreachable")
	}
	return nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	if s.commit != nil {
		s.commit.close()
	}
	if s.chain != nil {
		s.chain.close()
	}
	if s.stopListen != nil {
		s.stopListen()
	}
	var err error
	for _, c := range []*stmtCache{s.wst, s.rst} {
		if c != nil {
			err = errors.Join(err, c.close())
		}
	}
	if s.w != nil {
		err = errors.Join(err, s.w.Close())
	}
	if s.r != nil && s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// now is the clock at the store's resolution (microseconds).
// Now implements latchkey.Store: the store's clock.
func (s *Store) Now() time.Time { return s.now() }

func (s *Store) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }
