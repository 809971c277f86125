package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"latchkey"
	"latchkey/client"
)

// The fleet benchmark (`latchkey bench fleet`): N terminals, each doing
// what a counter and its agent do in a day, at given rates per terminal
// and hour, sped up by a factor so that a run of seconds carries the load
// of a fleet many times its size. It is the capacity model's check
// (docs/capacity.md): the same rates, one kind at a time, give the cost
// of each kind of call; all of them at once give a point to compare the
// model with.

// Fleet operation names, as reported.
const (
	FleetLogon   = "logon"  // a log-off of the terminal's session, then a new log-on
	FleetLogoff  = "logoff" //
	FleetLock    = "lock"   // a manual lock, then the unlock with the password
	FleetUnlock  = "unlock" //
	FleetTouch   = "touch"  // activity sent on by the agent (at most one per 30 s)
	FleetPolicy  = "policy" // GET /v1/agent/policy
	FleetEvent   = "event"  // one deferred event (24 or 25) posted
	FleetPoll    = "poll"   // one long-poll answered (no instructions)
	fleetSetupOp = "set-up" // unreported
	maxFleetTerm = 20000    // the agents benchmark's bound
	fleetQuiet   = 2 * time.Second
)

// FleetRates are what one terminal does in an hour (real time, before
// the speed-up). Logons and Locks count pairs (log-off + log-on, lock +
// unlock).
type FleetRates struct {
	Logons   float64 `json:"logons_per_hour"`
	Locks    float64 `json:"locks_per_hour"`
	Touches  float64 `json:"touches_per_hour"`
	Policies float64 `json:"policies_per_hour"`
	Events   float64 `json:"events_per_hour"`
}

func (r FleetRates) sessions() bool { return r.Logons+r.Locks+r.Touches > 0 }
func (r FleetRates) total() float64 { return r.Logons + r.Locks + r.Touches + r.Policies + r.Events }

// FleetConfig configures `latchkey bench fleet`.
type FleetConfig struct {
	Server        string
	AdminIdentity string
	AdminPassword string
	Terminals     int
	PerSite       int // terminals of one site (a branch); default 8
	Rates         FleetRates
	// PollWait is the agents' long-poll length (real time, 30 s in
	// production); 0 means the terminals do not poll.
	PollWait time.Duration
	// Speedup divides every interval: 60 runs an hour's calls in a minute.
	Speedup  float64
	Duration time.Duration // the measured load
	Warmup   time.Duration // unmeasured load first
	// PG, when set, is the store's PostgreSQL (a database of its own):
	// the run reports what PostgreSQL did in the measured window.
	PG      string
	Backend string
}

// FleetResult is what a run measured. The window runs from the end of a
// quiet pause after the warm-up to the end of one after the load, so that
// PostgreSQL's statistics are in: it holds the load and FleetQuiet idle.
type FleetResult struct {
	Backend   string     `json:"backend"`
	Terminals int        `json:"terminals"`
	Rates     FleetRates `json:"rates"`
	PollWait  string     `json:"poll_wait"`
	Speedup   float64    `json:"speedup"`
	StartedAt time.Time  `json:"started_at"`
	Load      float64    `json:"load_seconds"`
	Window    float64    `json:"window_seconds"`
	Ops       []OpStats  `json:"ops"`
	// ServerCPUSeconds is the server's CPU over the window.
	ServerCPUSeconds float64    `json:"server_cpu_seconds"`
	Machine          MachineCPU `json:"machine"` // over the window
	PG               *PGDelta   `json:"pg,omitempty"`
}

// WriteText prints the result for people.
func (r *FleetResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "latchkey bench fleet: %d terminals ×%.0f, load %.1f s, window %.1f s\n", r.Terminals, r.Speedup, r.Load, r.Window)
	fmt.Fprintf(w, "%8s %8s %6s %8s %8s %8s\n", "op", "count", "errors", "ops/s", "p50 ms", "p99 ms")
	for _, o := range r.Ops {
		fmt.Fprintf(w, "%8s %8d %6d %8.1f %8.2f %8.2f\n", o.Op, o.Count, o.Errors, o.OpsPerSec, o.P50ms, o.P99ms)
	}
	fmt.Fprintf(w, "server CPU %.2f s (%.3f cores); machine busy %.2f cores, bench client %.2f\n",
		r.ServerCPUSeconds, r.ServerCPUSeconds/r.Window, r.Machine.Busy, r.Machine.Client)
	if p := r.PG; p != nil {
		fmt.Fprintf(w, "PostgreSQL: %d commits (%.1f/s), %d write transactions (this database's: %d), WAL %d B (this database's: %d), store +%d B, backends CPU %.2f s, PostgreSQL's own processes %.2f s\n",
			p.Commits, float64(p.Commits)/p.Seconds, p.WriteXacts, p.OwnWriteXacts, p.WALBytes, p.OwnWALBytes, p.StoreBytes, p.BackendCPU, p.AuxCPU)
		if p.WALDumpError != "" {
			fmt.Fprintf(w, "  (the WAL could not be read: %s)\n", p.WALDumpError)
		}
		names := make([]string, 0, len(p.TableBytes))
		for n := range p.TableBytes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-24s %+d B\n", n, p.TableBytes[n])
		}
	}
}

// fleetTerminal is one simulated counter and its agent.
type fleetTerminal struct {
	id, login, password string
	c                   *client.Client // the terminal's token
	session             string
	seq                 int // deferred events sent
	rng                 *rand.Rand
}

// fleetBook collects the samples of every terminal.
type fleetBook struct {
	mu      sync.Mutex
	samples map[string][]time.Duration
	errors  map[string]int
	first   error
	closed  bool // the window is over: later calls are not counted
}

func (b *fleetBook) add(op string, d time.Duration, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if err != nil {
		b.errors[op]++
		if b.first == nil {
			b.first = fmt.Errorf("%s: %w", op, err)
		}
		return
	}
	b.samples[op] = append(b.samples[op], d)
}

func (b *fleetBook) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.samples, b.errors, b.first = map[string][]time.Duration{}, map[string]int{}, nil
}

func (b *fleetBook) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.first
}

func (b *fleetBook) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// RunFleet runs the fleet benchmark against a server.
func RunFleet(ctx context.Context, cfg FleetConfig, progress io.Writer) (*FleetResult, error) {
	var err error
	if cfg.Server, cfg.AdminIdentity, err = checkTarget(cfg.Server, cfg.AdminIdentity, cfg.AdminPassword, "the run registers its terminals"); err != nil {
		return nil, err
	}
	if cfg.Terminals < 1 || cfg.Terminals > maxFleetTerm {
		return nil, fmt.Errorf("bench: terminals must be 1 to %d", maxFleetTerm)
	}
	if cfg.Speedup <= 0 || cfg.Speedup > 10000 {
		return nil, errors.New("bench: speed-up must be above 0 and at most 10000")
	}
	for _, v := range []float64{cfg.Rates.Logons, cfg.Rates.Locks, cfg.Rates.Touches, cfg.Rates.Policies, cfg.Rates.Events} {
		if v < 0 {
			return nil, errors.New("bench: rates must not be negative")
		}
	}
	if cfg.PerSite == 0 {
		cfg.PerSite = 8
	}
	if cfg.PerSite < 1 {
		return nil, errors.New("bench: terminals per site must be at least 1")
	}
	if cfg.Duration, err = checkDuration(cfg.Duration); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	var pg *pgWatch
	if cfg.PG != "" {
		if pg, err = openPGWatch(ctx, cfg.PG); err != nil {
			return nil, err
		}
		defer pg.close()
	}
	hc, closeIdle := benchHTTP(16)
	defer closeIdle()
	admin, logout, err := adminLogin(ctx, hc, cfg.Server, cfg.AdminIdentity, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	defer logout()

	t0 := time.Now()
	terms, err := setupFleet(ctx, admin, cfg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "set up %d terminals in %s\n", len(terms), time.Since(t0).Round(time.Millisecond))
	// The load runs from the warm-up to the end of the window without a
	// break; PostgreSQL's statistics lag a busy backend by about a second
	// at both ends alike.
	book := &fleetBook{}
	book.reset()
	lctx, stop := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		runFleetLoad(lctx, cfg, terms, book)
	}()
	defer func() { stop(); <-loadDone }()
	sleepCtx(ctx, cfg.Warmup)
	if err := book.err(); err != nil {
		return nil, fmt.Errorf("bench: warm-up: %w", err)
	}

	res := &FleetResult{Backend: cfg.Backend, Terminals: cfg.Terminals, Rates: cfg.Rates, PollWait: cfg.PollWait.String(), Speedup: cfg.Speedup}
	var snap0 pgSnap
	if pg != nil {
		if snap0, err = pg.snap(ctx); err != nil {
			return nil, err
		}
	}
	cpu0, cpuErr := serverCPU(ctx, hc, cfg.Server)
	m0 := sampleCPU()
	res.StartedAt = time.Now().UTC()
	start := time.Now()
	book.reset()
	sleepCtx(ctx, cfg.Duration)
	book.close()
	load := time.Since(start)
	res.Load = load.Seconds()
	var snap1 pgSnap
	if pg != nil {
		if snap1, err = pg.snap(ctx); err != nil {
			return nil, err
		}
	}
	res.Machine = sampleCPU().since(m0)
	if cpu1, err := serverCPU(ctx, hc, cfg.Server); err == nil && cpuErr == nil {
		res.ServerCPUSeconds = cpu1 - cpu0
	}
	res.Window = time.Since(start).Seconds()
	if pg != nil {
		d := snap1.since(snap0)
		if err := pg.ownWAL(ctx, snap0, snap1, &d); err != nil {
			d.WALDumpError = err.Error()
		}
		res.PG = &d
	}
	ops := make([]string, 0, len(book.samples)+len(book.errors))
	for op := range book.samples {
		ops = append(ops, op)
	}
	for op := range book.errors {
		if _, ok := book.samples[op]; !ok {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	for _, op := range ops {
		res.Ops = append(res.Ops, Summarize(op, book.samples[op], book.errors[op], load))
	}
	if book.first != nil {
		return res, fmt.Errorf("bench: %d kinds of call failed; the first: %w", len(book.errors), book.first)
	}
	return res, ctx.Err()
}

// setupFleet makes the sites (a branch of PerSite counters each) and the
// terminals; when the rates touch sessions, a person for each terminal,
// logged on there. A site's people are its own, so a policy carries a
// branch's verifiers, not the fleet's.
func setupFleet(ctx context.Context, admin *client.Client, cfg FleetConfig) ([]*fleetTerminal, error) {
	tag := fmt.Sprintf("%x", rand.Uint32())
	sites := make([]string, (cfg.Terminals+cfg.PerSite-1)/cfg.PerSite)
	err := parallel(ctx, 16, len(sites), func(ctx context.Context, i int) error {
		s, err := admin.CreateSite(ctx, client.SiteCreate{Name: fmt.Sprintf("bench fleet %s branch %d", tag, i)})
		if err == nil {
			sites[i] = s.ID
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bench: %s: create site: %w", fleetSetupOp, err)
	}
	terms := make([]*fleetTerminal, cfg.Terminals)
	err = parallel(ctx, 16, cfg.Terminals, func(ctx context.Context, i int) error {
		tm, err := admin.RegisterTerminal(ctx, fmt.Sprintf("bench fleet %s %d", tag, i), sites[i/cfg.PerSite])
		if err != nil {
			return fmt.Errorf("bench: %s: register terminal: %w", fleetSetupOp, err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 2, 2 // the agent's poll and its other calls
		t := &fleetTerminal{id: tm.ID, rng: rand.New(rand.NewPCG(rand.Uint64(), uint64(i))),
			c: client.New(cfg.Server, client.WithToken(tm.Token), client.WithHTTPClient(&http.Client{Transport: tr}))}
		terms[i] = t
		if !cfg.Rates.sessions() {
			return nil
		}
		t.login, t.password = fmt.Sprintf("fleet%s-%d", tag, i), fmt.Sprintf("pw-%016x%016x", rand.Uint64(), rand.Uint64())
		p, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: "bench fleet person " + t.login, Role: latchkey.RoleUser})
		if err != nil {
			return fmt.Errorf("bench: %s: create person: %w", fleetSetupOp, err)
		}
		if _, err := admin.AddIdentity(ctx, p.ID, t.login, t.password); err != nil {
			return fmt.Errorf("bench: %s: add identity: %w", fleetSetupOp, err)
		}
		return t.logon(ctx)
	})
	return terms, err
}

func (t *fleetTerminal) logon(ctx context.Context) error {
	r, err := t.c.StartSession(ctx, t.id, latchkey.LoginRequest{Identity: t.login, Password: t.password, TimeSent: time.Now()})
	if err != nil {
		return err
	}
	t.session = r.Session.ID
	return nil
}

// runFleetLoad runs every terminal until ctx ends: its calls at random
// (Poisson) times at the configured rates, and its agent's long-polls back
// to back.
func runFleetLoad(ctx context.Context, cfg FleetConfig, terms []*fleetTerminal, book *fleetBook) {
	perSec := cfg.Rates.total() * cfg.Speedup / 3600 // calls a second, one terminal
	var wg sync.WaitGroup
	for _, t := range terms {
		if perSec > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.act(ctx, cfg.Rates, perSec, book)
			}()
		}
		if cfg.PollWait > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.poll(ctx, time.Duration(float64(cfg.PollWait)/cfg.Speedup), book)
			}()
		}
	}
	wg.Wait()
}

// act makes the terminal's calls until ctx ends; a call still running
// then is not counted.
func (t *fleetTerminal) act(ctx context.Context, r FleetRates, perSec float64, book *fleetBook) {
	// Start at a random point of the first gap, so the terminals do not
	// all begin at once.
	next := time.Now().Add(time.Duration(t.rng.Float64() * float64(time.Second) / perSec))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		next = next.Add(time.Duration(t.rng.ExpFloat64() / perSec * float64(time.Second)))
		x := t.rng.Float64() * r.total()
		switch {
		case x < r.Logons:
			t.call(ctx, book, FleetLogoff, func(ctx context.Context) error { _, err := t.c.EndSession(ctx, t.session); return err })
			t.call(ctx, book, FleetLogon, t.logon)
		case x < r.Logons+r.Locks:
			t.call(ctx, book, FleetLock, func(ctx context.Context) error {
				_, err := t.c.LockSession(ctx, t.session, latchkey.LockRequest{TimeSent: time.Now(), Reason: latchkey.LockManual})
				return err
			})
			t.call(ctx, book, FleetUnlock, func(ctx context.Context) error {
				_, err := t.c.UnlockSession(ctx, t.session, latchkey.UnlockRequest{Identity: t.login, Password: t.password, TimeSent: time.Now()})
				return err
			})
		case x < r.Logons+r.Locks+r.Touches:
			t.call(ctx, book, FleetTouch, func(ctx context.Context) error { _, err := t.c.TouchSession(ctx, t.session); return err })
		case x < r.Logons+r.Locks+r.Touches+r.Policies:
			t.call(ctx, book, FleetPolicy, func(ctx context.Context) error { _, err := t.c.AgentPolicy(ctx); return err })
		default:
			t.seq++
			ev := latchkey.TerminalEvent{ID: fmt.Sprintf("ev-%s-%d", t.id, t.seq), Event: latchkey.EventPositionLocked + t.seq%2, OccurredAt: time.Now()}
			t.call(ctx, book, FleetEvent, func(ctx context.Context) error {
				_, err := t.c.PostTerminalEvents(ctx, t.id, []latchkey.TerminalEvent{ev})
				return err
			})
		}
	}
}

// call times one call; one cut short by the end of the run is dropped.
func (t *fleetTerminal) call(ctx context.Context, book *fleetBook, op string, fn func(context.Context) error) {
	if ctx.Err() != nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CallTimeout)
	defer cancel()
	start := time.Now()
	err := fn(cctx) // a started call runs to its end, so the session stays consistent
	book.add(op, time.Since(start), err)
}

// poll long-polls back to back until ctx ends. The first poll waits a
// random part of wait, so that the terminals' polls end evenly spread, as
// a fleet's do.
func (t *fleetTerminal) poll(ctx context.Context, wait time.Duration, book *fleetBook) {
	first := time.Duration(t.rng.Float64() * float64(wait)).Round(time.Millisecond)
	for w := first; ctx.Err() == nil; w = wait {
		start := time.Now()
		_, err := t.c.PollInstructions(ctx, w)
		if ctx.Err() != nil {
			return // cut short by the end of the run
		}
		book.add(FleetPoll, time.Since(start), err)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}
