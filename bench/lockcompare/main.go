// Command lockcompare runs the cycles of `latchkey bench locks` against
// other lock services, to compare latchkey's exclusive edit locks with
// them on the same machine:
//
//   - etcd: a concurrency.Mutex of go.etcd.io/etcd/client/v3 per lock, each
//     client with its own connection and session (lease);
//   - pg: PostgreSQL session-level advisory locks (pg_advisory_lock and
//     pg_advisory_unlock), each client on its own connection;
//   - pgrow (uncontended only): the shape of latchkey's own lock
//     operation on PostgreSQL with nothing of latchkey around it, as a
//     ceiling: a durable transaction that locks and reads the lock's row
//     (an upsert), writes it and inserts an audit row, in --pg-roundtrips
//     round trips: 5 (a statement each: BEGIN, read, write, audit,
//     COMMIT), 2 (BEGIN with the read; the writes with COMMIT: latchkey's
//     pipelined batch of one) or 1 (everything at once, as a server-side
//     function would; the write then cannot depend on the read in Go).
//     Its tables (lockcompare_rows, lockcompare_audit) are made if missing.
//
// In uncontended mode each client has a lock of its own: lock, unlock. In
// contended mode client i uses lock i mod --locks: lock (blocking until
// held), unlock. The hand-over is the time from the previous holder's
// unlock returning to the next holder's lock returning, for a next holder
// that was already waiting when the previous one began to unlock.
//
// It is its own module, so that the etcd client and its dependencies stay
// out of latchkey's; it reuses latchkey/bench for the statistics, so that
// the figures are computed exactly as latchkey's own.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"latchkey/bench"
)

const callTimeout = 60 * time.Second

// lockClient is one client of a lock service, with its own connection.
type lockClient interface {
	lock(ctx context.Context, name string) error
	unlock(ctx context.Context, name string) error
	close()
}

type config struct {
	target, mode    string
	clients, locks  int
	duration        time.Duration
	warmup          time.Duration
	etcd, pg, label string
	pid             int
	prefix          string
	roundTrips      int
}

// Result is what a run measured; its JSON matches the fields of latchkey's
// LocksResult that the comparison uses.
type Result struct {
	Target         string          `json:"target"`
	Backend        string          `json:"backend,omitempty"`
	Mode           string          `json:"mode"`
	Clients        int             `json:"clients"`
	Locks          int             `json:"locks"`
	Duration       time.Duration   `json:"duration_ns"`
	Ops            []bench.OpStats `json:"ops"`
	Cycles         int             `json:"cycles"`
	TotalOpsPerSec float64         `json:"total_ops_per_sec"`
	CyclesPerSec   float64         `json:"cycles_per_sec"`
	HandoverEarly  int             `json:"handover_early"`
	// ServerCPUSeconds and PeakRSSBytes are those of the process --pid
	// (0 without it).
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	PeakRSSBytes     int64   `json:"peak_rss_bytes"`
}

func main() {
	var cfg config
	flag.StringVar(&cfg.target, "target", "", "etcd, pg or pgrow (required)")
	flag.IntVar(&cfg.roundTrips, "pg-roundtrips", 2, "pgrow: round trips a lock operation takes (1, 2 or 5)")
	flag.StringVar(&cfg.mode, "mode", "uncontended", "uncontended (a lock per client) or contended (clients share --locks locks)")
	flag.IntVar(&cfg.clients, "clients", 32, "concurrent clients, each with its own connection")
	flag.IntVar(&cfg.locks, "locks", 4, "contended: how many locks the clients share")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, "how long to start new cycles")
	flag.DurationVar(&cfg.warmup, "warmup", 0, "run the load unmeasured this long first")
	flag.StringVar(&cfg.etcd, "etcd", "127.0.0.1:2379", "etcd client endpoint")
	flag.StringVar(&cfg.pg, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL")
	flag.IntVar(&cfg.pid, "pid", 0, "the server's process ID, for its CPU time and peak RSS (Linux)")
	flag.StringVar(&cfg.label, "label", "", "label for the report")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	flag.Parse()
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "lockcompare:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lockcompare:", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
		return
	}
	res.writeText(os.Stdout)
}

func (cfg *config) check() error {
	switch cfg.target {
	case "etcd", "pg":
	case "pgrow":
		if cfg.mode != "uncontended" {
			return errors.New("--target pgrow: uncontended only (a row lock that waits is not what it measures)")
		}
		if cfg.roundTrips != 1 && cfg.roundTrips != 2 && cfg.roundTrips != 5 {
			return errors.New("--pg-roundtrips must be 1, 2 or 5")
		}
	default:
		return fmt.Errorf("--target %q: want etcd, pg or pgrow", cfg.target)
	}
	if cfg.clients < 1 || cfg.clients > 10_000 {
		return errors.New("--clients must be 1 to 10000")
	}
	switch cfg.mode {
	case "uncontended":
		cfg.locks = cfg.clients
	case "contended":
		if cfg.locks < 1 || cfg.locks > cfg.clients {
			return errors.New("--locks must be 1 to --clients")
		}
	default:
		return fmt.Errorf("--mode %q: want uncontended or contended", cfg.mode)
	}
	if cfg.duration <= 0 || cfg.warmup < 0 {
		return errors.New("--duration must be positive and --warmup not negative")
	}
	var b [4]byte
	rand.Read(b[:])
	cfg.prefix = "lockcompare-" + hex.EncodeToString(b[:])
	return nil
}

// lockName is the lock client i cycles on.
func (cfg config) lockName(i int) string {
	if cfg.mode == "contended" {
		return fmt.Sprintf("%s/shared/%d", cfg.prefix, i%cfg.locks)
	}
	return fmt.Sprintf("%s/own/%d", cfg.prefix, i)
}

func connect(ctx context.Context, cfg config) (lockClient, error) {
	switch cfg.target {
	case "etcd":
		return newEtcd(ctx, cfg.etcd)
	case "pgrow":
		return newPGRow(ctx, cfg.pg, cfg.roundTrips)
	}
	return newPG(ctx, cfg.pg)
}

// Operations measured.
const (
	opAcquire = iota
	opRelease
	opWait
	opHandover
	opReleaseToGrant
	numOps
)

var opNames = [numOps]string{"acquire", "release", "wait", "handover", "release_to_grant"}

type worker struct {
	c       lockClient
	name    string
	book    *book
	samples [numOps][]time.Duration
	cycles  int
}

func run(ctx context.Context, cfg config, progress io.Writer) (*Result, error) {
	fmt.Fprintf(progress, "lockcompare: %s, mode %s, %d clients on %d locks, %s\n", cfg.target, cfg.mode, cfg.clients, cfg.locks, cfg.duration)
	books := make([]*book, cfg.locks)
	for i := range books {
		books[i] = &book{pending: map[uint64]*entry{}}
	}
	workers := make([]*worker, cfg.clients)
	defer func() {
		for _, w := range workers {
			if w != nil {
				w.c.close()
			}
		}
	}()
	for i := range workers {
		c, err := connect(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect client %d: %w", i, err)
		}
		workers[i] = &worker{c: c, name: cfg.lockName(i), book: books[i%cfg.locks]}
	}
	if cfg.warmup > 0 {
		fmt.Fprintf(progress, "warming up for %s, unmeasured\n", cfg.warmup)
		if err := load(ctx, workers, cfg.warmup); err != nil {
			return nil, err
		}
		for _, w := range workers {
			w.samples, w.cycles = [numOps][]time.Duration{}, 0
			w.book.reset()
		}
	}
	cpu0 := procCPU(cfg.pid)
	start := time.Now()
	err := load(ctx, workers, cfg.duration)
	res := &Result{Target: cfg.target, Backend: cfg.label, Mode: cfg.mode, Clients: cfg.clients, Locks: cfg.locks,
		Duration: time.Since(start)}
	if err != nil {
		return nil, err
	}
	if cfg.pid > 0 {
		res.ServerCPUSeconds = procCPU(cfg.pid) - cpu0
		res.PeakRSSBytes = procPeakRSS(cfg.pid)
	}
	var calls int
	seen := map[*book]bool{}
	for op := range numOps {
		if cfg.mode == "uncontended" && op >= opWait {
			continue
		}
		var samples []time.Duration
		for _, w := range workers {
			samples = append(samples, w.samples[op]...)
			if (op == opHandover || op == opReleaseToGrant) && !seen[w.book] {
				seen[w.book] = true
				if op == opHandover {
					samples = append(samples, w.book.samples...)
					res.HandoverEarly += w.book.early
				} else {
					samples = append(samples, w.book.fromCall...)
				}
			}
		}
		clear(seen)
		st := bench.Summarize(opNames[op], samples, 0, res.Duration)
		if op <= opRelease {
			calls += st.Count
		}
		res.Ops = append(res.Ops, st)
	}
	for _, w := range workers {
		res.Cycles += w.cycles
	}
	res.TotalOpsPerSec = float64(calls) / res.Duration.Seconds()
	res.CyclesPerSec = float64(res.Cycles) / res.Duration.Seconds()
	return res, nil
}

// load runs the workers' cycles until d has passed; cycles under way then
// are finished.
func load(ctx context.Context, workers []*worker, d time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(d)
	var (
		wg       sync.WaitGroup
		firstErr atomic.Pointer[error]
	)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := w.cycle(ctx); err != nil {
					if ctx.Err() == nil {
						firstErr.CompareAndSwap(nil, &err)
						cancel()
					}
					return
				}
				w.cycles++
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return ctx.Err()
}

func (w *worker) cycle(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	begin := time.Now()
	if err := w.c.lock(cctx, w.name); err != nil {
		return fmt.Errorf("lock %s: %w", w.name, err)
	}
	held := time.Now()
	gen := w.book.acquired(begin, held)
	w.samples[opAcquire] = append(w.samples[opAcquire], held.Sub(begin))
	w.samples[opWait] = append(w.samples[opWait], held.Sub(begin))
	start := time.Now()
	if err := w.c.unlock(cctx, w.name); err != nil {
		return fmt.Errorf("unlock %s: %w", w.name, err)
	}
	end := time.Now()
	w.samples[opRelease] = append(w.samples[opRelease], end.Sub(start))
	w.book.released(gen, start, end)
	return nil
}

// book pairs, on one lock, each unlock with the next holder's lock. The
// holders number their grants while they hold the lock, so grant g+1
// follows grant g whichever of the two calls returned first.
type book struct {
	mu       sync.Mutex
	gen      uint64
	pending  map[uint64]*entry // by the number of the grant after the unlock
	samples  []time.Duration   // from the unlock returning
	fromCall []time.Duration   // from the unlock call
	early    int
}

type entry struct {
	unlockStart, unlockEnd time.Time // of the previous holder
	lockStart, held        time.Time // of the next
	haveUnlock, haveLock   bool
}

// acquired numbers the grant just obtained (the caller holds the lock).
func (b *book) acquired(start, held time.Time) uint64 {
	b.mu.Lock()
	b.gen++
	g := b.gen
	b.mu.Unlock()
	b.note(g, func(e *entry) { e.lockStart, e.held, e.haveLock = start, held, true })
	return g
}

func (b *book) released(gen uint64, start, end time.Time) {
	b.note(gen+1, func(e *entry) { e.unlockStart, e.unlockEnd, e.haveUnlock = start, end, true })
}

func (b *book) note(g uint64, fn func(*entry)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.pending[g]
	if e == nil {
		e = &entry{}
		b.pending[g] = e
	}
	fn(e)
	if !e.haveLock || !e.haveUnlock {
		return
	}
	delete(b.pending, g)
	if !e.lockStart.Before(e.unlockStart) {
		return // the next holder was not waiting yet: no hand-over
	}
	d := e.held.Sub(e.unlockEnd)
	if d < 0 {
		b.early++
		d = 0
	}
	b.samples = append(b.samples, d)
	b.fromCall = append(b.fromCall, max(e.held.Sub(e.unlockStart), 0))
}

func (b *book) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.samples, b.fromCall, b.early = nil, nil, 0
}

func (r *Result) writeText(w io.Writer) {
	fmt.Fprintf(w, "lockcompare %s: mode %s, %d clients on %d locks, %s\n\n", r.Target, r.Mode, r.Clients, r.Locks,
		r.Duration.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\tops/s\tp50 ms\tp99 ms\tmax ms\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t\n", o.Op, o.Count, o.OpsPerSec, o.P50ms, o.P99ms, o.MaxMs)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntotal %.1f calls/s, %d cycles, %.1f cycles/s\n", r.TotalOpsPerSec, r.Cycles, r.CyclesPerSec)
	if r.Mode == "contended" {
		fmt.Fprintf(w, "acquire and wait: the blocking lock call; handover: previous unlock returned → next lock returned; "+
			"%d before (counted as 0); release_to_grant: from the previous unlock called\n", r.HandoverEarly)
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "server CPU %.2f cores, peak RSS %.1f MiB\n", r.ServerCPUSeconds/r.Duration.Seconds(), float64(r.PeakRSSBytes)/(1<<20))
	}
}

// etcdClient locks with concurrency.Mutex under a session of its own.
type etcdClient struct {
	cli     *clientv3.Client
	sess    *concurrency.Session
	mutexes map[string]*concurrency.Mutex
}

func newEtcd(ctx context.Context, endpoint string) (*etcdClient, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Context: ctx})
	if err != nil {
		return nil, err
	}
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(60))
	if err != nil {
		cli.Close()
		return nil, err
	}
	return &etcdClient{cli: cli, sess: sess, mutexes: map[string]*concurrency.Mutex{}}, nil
}

func (c *etcdClient) mutex(name string) *concurrency.Mutex {
	m := c.mutexes[name]
	if m == nil {
		m = concurrency.NewMutex(c.sess, "/"+name)
		c.mutexes[name] = m
	}
	return m
}

func (c *etcdClient) lock(ctx context.Context, name string) error { return c.mutex(name).Lock(ctx) }

func (c *etcdClient) unlock(ctx context.Context, name string) error { return c.mutex(name).Unlock(ctx) }

func (c *etcdClient) close() {
	c.sess.Close()
	c.cli.Close()
}

// pgClient locks with session-level advisory locks on a connection of its
// own; a lock name is hashed to the lock's 64-bit key.
type pgClient struct{ conn *pgx.Conn }

func newPG(ctx context.Context, url string) (*pgClient, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	return &pgClient{conn: conn}, nil
}

func pgKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

func (c *pgClient) lock(ctx context.Context, name string) error {
	_, err := c.conn.Exec(ctx, "SELECT pg_advisory_lock($1)", pgKey(name))
	return err
}

func (c *pgClient) unlock(ctx context.Context, name string) error {
	var ok bool
	if err := c.conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", pgKey(name)).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return errors.New("pg_advisory_unlock: the lock was not held")
	}
	return nil
}

func (c *pgClient) close() { c.conn.Close(context.Background()) }

// procCPU is the CPU time of process pid in seconds (0 if unknown).
func procCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// After the command name in parentheses: state is field 3, utime 14,
	// stime 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	k, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (u + k) / 100 // USER_HZ
}

// procPeakRSS is the peak resident set size of process pid (VmHWM), 0 if
// unknown.
func procPeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
