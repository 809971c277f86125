package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
	"latchkey/client"
)

// Modes of the locks benchmark.
const (
	// LockUncontended gives each client its own lock: acquire, release.
	LockUncontended = "uncontended"
	// LockContended shares a few locks among the clients: acquire with
	// wait (queueing behind the holder), wait for the grant, release.
	LockContended = "contended"
)

// How a queued client learns that the lock was handed to it.
const (
	// HandoverPoll re-acquires (wait: true) until the answer is exclusive:
	// the client at place p of the queue asks again every p × the poll
	// interval, so the hand-over is bounded by the interval at the head of
	// the queue.
	HandoverPoll = "poll"
	// HandoverEvents follows the event stream (GET /v1/events, topic
	// locks) from before the load and waits there for the lock.grant
	// naming the client; it asks again (a poll) only if no grant came
	// within EventFallback.
	HandoverEvents = "events"
)

// Bounds and defaults of LocksConfig.
const (
	DefaultLockClients    = 32
	DefaultContendedLocks = 4
	DefaultLockPoll       = 10 * time.Millisecond
	MaxLockPoll           = 10 * time.Second
	// EventFallback is how long a client queued in events mode waits for
	// its grant on the stream before it asks with an acquire.
	EventFallback = 3 * time.Second
	// LockLease is the lease (ttl_seconds) of every grant and queue place
	// of the run: long enough that none lapses under load.
	LockLease = 60 * time.Second
)

// LocksConfig configures RunLocks. Zero values take the defaults.
type LocksConfig struct {
	// Server is the base URL of a running latchkey server, or of the
	// nodes of a cluster on one store as URL,URL,...: client i then talks
	// to node i mod n, the run's admin to the first.
	Server        string
	AdminIdentity string // default "admin"
	AdminPassword string // required
	// Clients is how many clients run at once (default 32), each its own
	// delegate with its own user token.
	Clients int
	// Duration is how long cycles are started (default 20s); cycles under
	// way then are finished.
	Duration time.Duration
	// Mode is LockUncontended (default) or LockContended.
	Mode string
	// Locks (LockContended) is how many locks the clients share, client i
	// using lock i mod Locks (default 4, at most Clients).
	Locks int
	// Handover (LockContended) is how a queued client learns of its
	// grant: HandoverEvents (default) or HandoverPoll.
	Handover string
	// Poll (HandoverPoll) is how often the client at the head of a queue
	// asks again whether it holds the lock (default 10ms); the client at
	// place p asks every p × Poll.
	Poll time.Duration
	// Warmup runs the load unmeasured for this long first (default none).
	Warmup time.Duration
	// ProfileURL and ProfileDir, when set, take a CPU profile of the
	// server (serve --pprof-listen) over the measured run into
	// ProfileDir/round-1.pprof.
	ProfileURL string
	ProfileDir string
	// Prefix starts the names of the people, identities and locks the run
	// creates (default "bench-" and random hex).
	Prefix string
	// Backend labels the result (e.g. "sqlite", "postgres"); optional.
	Backend string
	// WatchPIDs are processes of this machine whose CPU time, with their
	// children's, the run measures over its measured window (Linux), e.g.
	// the PostgreSQL postmaster behind the nodes.
	WatchPIDs []int

	nodes []string // Server, split and checked
}

// LocksResult is what RunLocks measured. It is printed by WriteText or
// encoded as JSON.
type LocksResult struct {
	Backend string `json:"backend,omitempty"`
	Server  string `json:"server"`
	Mode    string `json:"mode"`
	Clients int    `json:"clients"`
	// Locks is how many lock names the clients used.
	Locks int `json:"locks"`
	// Handover is how queued clients learned of their grant (contended),
	// and PollInterval the interval at the head of the queue (HandoverPoll).
	Handover     string        `json:"handover,omitempty"`
	PollInterval time.Duration `json:"poll_interval_ns,omitempty"`
	Prefix       string        `json:"prefix"`
	StartedAt    time.Time     `json:"started_at"`
	// Duration is how long the load ran, until the last cycle finished.
	Duration time.Duration `json:"duration_ns"`
	// Ops are, per call, "acquire" (every acquire call, the polls of a
	// queued client included) and "release"; in contended mode also
	// "wait", a cycle's time from its first acquire call to learning that
	// it holds the lock, "handover", from the release answer of the
	// previous holder to the next holder learning of its grant, and
	// "release_to_grant", from the previous holder sending its release to
	// the next holder learning of its grant.
	Ops    []OpStats `json:"ops"`
	Cycles int       `json:"cycles"`
	// TotalOpsPerSec counts the acquire and release calls.
	TotalOpsPerSec float64 `json:"total_ops_per_sec"`
	CyclesPerSec   float64 `json:"cycles_per_sec"`
	// Polls is how many acquire calls answered read_only (contended): with
	// HandoverEvents, these are the first acquire of each wait and the
	// asks after EventFallback, counted in FallbackPolls too.
	Polls         int `json:"polls"`
	FallbackPolls int `json:"fallback_polls"`
	// HandoverEarly is how many hand-overs the next holder learned of
	// before the previous holder had its release answer; they count as 0.
	HandoverEarly int `json:"handover_early"`
	// ServerCPUSeconds is the server's CPU time during the load (from its
	// process_cpu_seconds_total), or 0 if it could not be read; with
	// several nodes, the sum of theirs (0 if one could not be read).
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	// Nodes are, with several servers, each node's share of the run.
	Nodes []LockNode `json:"nodes,omitempty"`
	// Watched is the CPU time of each of LocksConfig.WatchPIDs.
	Watched []ProcessCPU `json:"watched,omitempty"`
	// Machine is how this machine's CPU was spent during the load.
	Machine MachineCPU `json:"machine"`
	// Profile is the file of the server's CPU profile, if one was taken.
	Profile string `json:"profile,omitempty"`
	// PeakRSSBytes is the server's peak resident set size (0 if unknown),
	// with several nodes the largest node's; RSSSource says which metric
	// it was read from, or why it is unknown.
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	RSSSource    string `json:"rss_source"`
}

// LockNode is one node's share of a run spread over several servers.
type LockNode struct {
	Server  string `json:"server"`
	Clients int    `json:"clients"`
	Cycles  int    `json:"cycles"`
	// ServerCPUSeconds is the node's process_cpu_seconds_total during the
	// load, or 0 if it could not be read.
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	PeakRSSBytes     int64   `json:"peak_rss_bytes"`
}

// Measured operations of the locks benchmark.
const (
	lkAcquire = iota
	lkRelease
	lkWait
	lkHandover
	lkReleaseToGrant
	numLockOps
)

var lockOpNames = [numLockOps]string{"acquire", "release", "wait", "handover", "release_to_grant"}

// withDefaults checks cfg and fills in its defaults.
func (cfg LocksConfig) withDefaults() (LocksConfig, error) {
	var err error
	cfg.nodes = nil
	for _, s := range strings.Split(cfg.Server, ",") {
		if s, cfg.AdminIdentity, err = checkTarget(strings.TrimSpace(s), cfg.AdminIdentity, cfg.AdminPassword,
			"the run creates its people"); err != nil {
			return cfg, err
		}
		cfg.nodes = append(cfg.nodes, s)
	}
	cfg.Server = strings.Join(cfg.nodes, ",")
	for _, pid := range cfg.WatchPIDs {
		if pid <= 0 {
			return cfg, fmt.Errorf("bench: watched process %d: want a process ID", pid)
		}
	}
	switch {
	case cfg.Clients == 0:
		cfg.Clients = DefaultLockClients
	case cfg.Clients < 0 || cfg.Clients > MaxTerminals:
		return cfg, fmt.Errorf("bench: clients must be 1 to %d", MaxTerminals)
	}
	if len(cfg.nodes) > cfg.Clients {
		return cfg, fmt.Errorf("bench: %d servers for %d clients: want at least a client each", len(cfg.nodes), cfg.Clients)
	}
	if cfg.Duration, err = checkDuration(cfg.Duration); err != nil {
		return cfg, err
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = LockUncontended
	case LockUncontended, LockContended:
	default:
		return cfg, fmt.Errorf("bench: mode %q: want %q or %q", cfg.Mode, LockUncontended, LockContended)
	}
	if cfg.Mode == LockUncontended {
		cfg.Locks = cfg.Clients
	}
	switch {
	case cfg.Locks == 0:
		cfg.Locks = min(DefaultContendedLocks, cfg.Clients)
	case cfg.Locks < 0 || cfg.Locks > cfg.Clients:
		return cfg, fmt.Errorf("bench: locks must be 1 to the number of clients (%d)", cfg.Clients)
	}
	switch cfg.Handover {
	case "":
		cfg.Handover = HandoverEvents
	case HandoverEvents, HandoverPoll:
	default:
		return cfg, fmt.Errorf("bench: hand-over %q: want %q or %q", cfg.Handover, HandoverEvents, HandoverPoll)
	}
	switch {
	case cfg.Poll == 0:
		cfg.Poll = DefaultLockPoll
	case cfg.Poll < time.Millisecond || cfg.Poll > MaxLockPoll:
		return cfg, fmt.Errorf("bench: the poll interval must be 1ms to %s", MaxLockPoll)
	}
	if cfg.Warmup < 0 || cfg.Warmup > time.Hour {
		return cfg, errors.New("bench: the warm-up must last 0 to an hour")
	}
	if cfg.ProfileURL, err = checkProfile(cfg.ProfileURL, cfg.ProfileDir); err != nil {
		return cfg, err
	}
	if cfg.Prefix, err = lockPrefix(cfg.Prefix); err != nil { // the prefix starts lock names too
		return cfg, err
	}
	return cfg, nil
}

// RunLocks drives the server at cfg.Server with cfg.Clients clients, each
// a delegate of its own logged on with its own user token, through
// acquire and release cycles of exclusive edit locks, and measures every
// call client-side. In uncontended mode each client has a lock of its own;
// in contended mode the clients share cfg.Locks locks: a client acquires
// with wait: true and, when it is queued, asks again until it holds the
// lock. Before the load it logs on as the admin and creates the people
// through the API. It prints progress to progress (nil for none).
//
// Any failed call aborts the run with an error naming the call. When ctx
// ends during the load, RunLocks stops and returns what it measured so far
// together with ctx's error.
func RunLocks(ctx context.Context, cfg LocksConfig, progress io.Writer) (*LocksResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	hc, closeIdle := benchHTTP(cfg.Clients)
	defer closeIdle()

	res := &LocksResult{Backend: cfg.Backend, Server: cfg.Server, Mode: cfg.Mode, Clients: cfg.Clients,
		Locks: cfg.Locks, Prefix: cfg.Prefix}
	if cfg.Mode == LockContended {
		res.Handover = cfg.Handover
		if cfg.Handover == HandoverPoll {
			res.PollInterval = cfg.Poll
		}
	}
	fmt.Fprintf(progress, "bench locks: %s, mode %s, %d clients on %d locks, %s, prefix %s\n",
		cfg.Server, cfg.Mode, cfg.Clients, cfg.Locks, cfg.Duration, cfg.Prefix)
	// The event streams live as long as the run.
	ctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	admin, logout, err := adminLogin(ctx, hc, cfg.nodes[0], cfg.AdminIdentity, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	defer logout()
	t0 := time.Now()
	workers, err := setupLockers(ctx, admin, hc, cfg)
	defer func() { logoutLockers(context.WithoutCancel(ctx), workers) }()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "set up and logged on %d delegates in %s\n", cfg.Clients, time.Since(t0).Round(time.Millisecond))

	if cfg.Warmup > 0 {
		fmt.Fprintf(progress, "warming up: %s cycles for %s, unmeasured\n", cfg.Mode, cfg.Warmup)
		if err := runLockLoad(ctx, workers, cfg.Warmup, progress); err != nil {
			return nil, err
		}
		for _, w := range workers {
			w.reset()
		}
	}

	nodes := make([]lockNodeWatch, len(cfg.nodes))
	for i, n := range cfg.nodes {
		nodes[i].rss = watchRSS(ctx, hc, n)
		nodes[i].cpu0, nodes[i].cpuErr = serverCPU(ctx, hc, n)
	}
	fmt.Fprintf(progress, "running %s cycles for %s\n", cfg.Mode, cfg.Duration)
	prof := startProfile(ctx, SessionsConfig{ProfileURL: cfg.ProfileURL, ProfileDir: cfg.ProfileDir}, cfg.Duration, 1)
	res.StartedAt = time.Now().UTC()
	trees0, treeErr := sampleTrees(cfg.WatchPIDs)
	start, m0 := time.Now(), sampleCPU()
	loadErr := runLockLoad(ctx, workers, cfg.Duration, progress)
	res.Duration, res.Machine = time.Since(start), sampleCPU().since(m0)
	trees1, err := sampleTrees(cfg.WatchPIDs)
	if treeErr == nil && err == nil {
		res.Watched = treeCPU(cfg.WatchPIDs, trees0, trees1)
	} else {
		fmt.Fprintf(progress, "no CPU time of the watched processes: %v\n", errors.Join(treeErr, err))
	}
	if res.Profile, err = prof.wait(); err != nil {
		fmt.Fprintf(progress, "no server profile: %v\n", err)
	}
	res.finishNodes(context.WithoutCancel(ctx), hc, cfg.nodes, nodes, workers)
	if loadErr != nil && ctx.Err() == nil {
		return nil, loadErr
	}

	var calls int
	books := map[*handoverBook]bool{}
	for op := range numLockOps {
		if cfg.Mode == LockUncontended && op >= lkWait {
			continue
		}
		var samples []time.Duration
		for _, w := range workers {
			samples = append(samples, w.samples[op]...)
		}
		if op == lkHandover || op == lkReleaseToGrant {
			clear(books)
			for _, w := range workers {
				if w.book != nil && !books[w.book] {
					books[w.book] = true
					if op == lkHandover {
						samples = append(samples, w.book.samples...)
						res.HandoverEarly += w.book.early
					} else {
						samples = append(samples, w.book.fromCall...)
					}
				}
			}
		}
		st := Summarize(lockOpNames[op], samples, 0, res.Duration)
		if op <= lkRelease {
			calls += st.Count
		}
		res.Ops = append(res.Ops, st)
	}
	for _, w := range workers {
		res.Cycles += w.cycles
		res.Polls += w.polls
		res.FallbackPolls += w.fallbacks
	}
	if s := res.Duration.Seconds(); s > 0 {
		res.TotalOpsPerSec = float64(calls) / s
		res.CyclesPerSec = float64(res.Cycles) / s
	}
	fmt.Fprintf(progress, "done: %d cycles in %s\n", res.Cycles, res.Duration.Round(time.Millisecond))
	return res, loadErr
}

// lockNodeWatch follows one node's CPU time and memory during the load.
type lockNodeWatch struct {
	rss    *rssWatch
	cpu0   float64
	cpuErr error
}

// finishNodes reads the nodes' CPU time and peak RSS at the end of the
// load into r, the sum of the CPU and the largest RSS, and with several
// nodes each node's share into r.Nodes.
func (r *LocksResult) finishNodes(ctx context.Context, hc *http.Client, urls []string, nodes []lockNodeWatch, workers []*locker) {
	cpuOK := true
	for i, n := range nodes {
		ln := LockNode{Server: urls[i]}
		if cpu1, err := serverCPU(ctx, hc, urls[i]); err == nil && n.cpuErr == nil {
			ln.ServerCPUSeconds = cpu1 - n.cpu0
		} else {
			cpuOK = false
		}
		var src string
		ln.PeakRSSBytes, src = n.rss.finish(ctx)
		if i == 0 || ln.PeakRSSBytes > r.PeakRSSBytes {
			r.PeakRSSBytes, r.RSSSource = ln.PeakRSSBytes, src
		}
		r.ServerCPUSeconds += ln.ServerCPUSeconds
		r.Nodes = append(r.Nodes, ln)
	}
	if !cpuOK {
		r.ServerCPUSeconds = 0
	}
	if len(nodes) == 1 {
		r.Nodes = nil
		return
	}
	r.RSSSource = fmt.Sprintf("the largest of %d nodes: %s", len(nodes), r.RSSSource)
	for i, w := range workers {
		r.Nodes[i%len(nodes)].Clients++
		r.Nodes[i%len(nodes)].Cycles += w.cycles
	}
}

// locker is one client: a delegate with its own user token and the lock
// it cycles on.
type locker struct {
	c         *client.Client // with the delegate's user token
	login     string         // for messages
	principal string         // the delegate's ID
	lock      string
	poll      time.Duration
	mode      string
	book      *handoverBook // of the lock (contended), shared with the others on it

	// HandoverEvents: follow sends the tokens of the client's grants from
	// the event stream to grants; streamDone is closed, with streamErr
	// set, when the stream ends.
	grants     chan uint64
	streamDone chan struct{}
	streamErr  error
	last       uint64 // the token of the client's last grant

	held   uint64 // the token of the grant held, 0 for none
	queued bool   // the client may have a place in the lock's queue

	samples   [numLockOps][]time.Duration
	cycles    int
	polls     int
	fallbacks int
}

func (w *locker) reset() {
	w.samples, w.cycles, w.polls, w.fallbacks = [numLockOps][]time.Duration{}, 0, 0, 0
	if w.book != nil {
		w.book.reset()
	}
}

// setupLockers creates, a few at a time, a delegate with an identity for
// each client and logs each on at its node. The lockers made are returned
// even with an error, so that their tokens can be logged out.
func setupLockers(ctx context.Context, admin *client.Client, hc *http.Client, cfg LocksConfig) ([]*locker, error) {
	nodes := make([]*client.Client, len(cfg.nodes))
	for i, n := range cfg.nodes {
		nodes[i] = client.New(n, client.WithHTTPClient(hc))
	}
	books := make([]*handoverBook, cfg.Locks)
	for i := range books {
		books[i] = &handoverBook{pending: map[uint64]*handoverEntry{}}
	}
	workers := make([]*locker, cfg.Clients)
	errs := make([]error, cfg.Clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.Clients, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Clients || ctx.Err() != nil {
					return
				}
				if workers[i], errs[i] = setupLocker(ctx, admin, nodes[i%len(nodes)], cfg, i); errs[i] != nil {
					return
				}
				w := workers[i]
				if cfg.Mode != LockContended {
					continue
				}
				w.lock = fmt.Sprintf("%s/shared/%d", cfg.Prefix, i%cfg.Locks)
				w.book = books[i%cfg.Locks]
				if cfg.Handover == HandoverEvents {
					if errs[i] = w.startStream(ctx); errs[i] != nil {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	made := workers[:0:0]
	for _, w := range workers {
		if w != nil {
			made = append(made, w)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return made, fmt.Errorf("bench: set up: %w", err)
	}
	return made, ctx.Err()
}

// setupLocker creates client i's delegate through admin and logs it on
// at node, the client's server from then on.
func setupLocker(ctx context.Context, admin, node *client.Client, cfg LocksConfig, i int) (*locker, error) {
	login := fmt.Sprintf("%s-locker-%d", cfg.Prefix, i)
	c, principal, err := newDelegateAt(ctx, admin, node, login)
	if err != nil {
		return nil, err
	}
	return &locker{c: c, login: login, principal: principal,
		lock: fmt.Sprintf("%s/own/%d", cfg.Prefix, i), poll: cfg.Poll, mode: cfg.Mode}, nil
}

// newDelegate creates a delegate named login with one identity of that
// name and a random password, logs it on, and returns its client (with
// its user token) and its ID.
func newDelegate(ctx context.Context, admin *client.Client, login string) (*client.Client, string, error) {
	return newDelegateAt(ctx, admin, admin.WithToken(""), login)
}

// newDelegateAt is newDelegate logging on at node (another server of the
// same store), whose client it returns.
func newDelegateAt(ctx context.Context, admin, node *client.Client, login string) (*client.Client, string, error) {
	var b [18]byte
	rand.Read(b[:])
	password := base64.RawURLEncoding.EncodeToString(b[:])
	p, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: login, Role: latchkey.RoleDelegate})
	if err != nil {
		return nil, "", fmt.Errorf("create principal %s: %w", login, err)
	}
	if _, err := admin.AddIdentity(ctx, p.ID, login, password); err != nil {
		return nil, "", fmt.Errorf("add identity %s: %w", login, err)
	}
	tok, err := node.Login(ctx, login, password)
	if err != nil {
		return nil, "", fmt.Errorf("log on as %s at %s: %w", login, node.BaseURL(), err)
	}
	return node.WithToken(tok.Token), tok.Principal.ID, nil
}

// logoutLockers gives up what the clients still hold or wait for (after a
// run cut short) and revokes their tokens.
func logoutLockers(ctx context.Context, workers []*locker) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.held != 0 || w.queued {
				w.c.ReleaseLock(ctx, w.lock, w.held, w.queued)
			}
			w.c.Logout(ctx)
		}()
	}
	wg.Wait()
}

// runLockLoad runs the clients' cycles until d has passed, ctx ends or a
// call fails (its error is returned).
func runLockLoad(ctx context.Context, workers []*locker, d time.Duration, progress io.Writer) error {
	var calls atomic.Int64
	return drive(ctx, len(workers), d, "calls", &calls, progress, func(ctx context.Context, i int) error {
		w := workers[i]
		err := w.cycle(ctx, &calls)
		if err == nil {
			w.cycles++
		}
		return err
	})
}

// cycle acquires the client's lock (waiting for it in contended mode) and
// releases it.
func (w *locker) cycle(ctx context.Context, calls *atomic.Int64) error {
	ttl := int(LockLease / time.Second)
	req := latchkey.AcquireRequest{TTLSeconds: &ttl, Wait: w.mode == LockContended}
	begin := time.Now()
	r, err := w.acquire(ctx, req, calls)
	if err != nil {
		return err
	}
	waited := false
	for r.Mode != latchkey.LockExclusive {
		if w.mode != LockContended {
			return fmt.Errorf("bench: acquire %s as %s: answered %s (held by %s): is another run using the lock?",
				w.lock, w.login, r.Mode, holderName(r))
		}
		if r.QueuePosition < 1 {
			return fmt.Errorf("bench: acquire %s as %s with wait: answered %s without a place in the queue", w.lock, w.login, r.Mode)
		}
		waited, w.queued = true, true
		w.polls++
		if w.grants != nil {
			token, err := w.awaitGrant(ctx)
			if err != nil {
				return err
			}
			if token != 0 {
				r = &latchkey.AcquireResult{Mode: latchkey.LockExclusive, Token: token}
				break
			}
			w.fallbacks++
		} else {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(w.poll * time.Duration(r.QueuePosition)):
			}
		}
		if r, err = w.acquire(ctx, req, calls); err != nil {
			return err
		}
	}
	learned := time.Now()
	w.held, w.queued, w.last = r.Token, false, r.Token
	if w.mode == LockContended {
		w.samples[lkWait] = append(w.samples[lkWait], learned.Sub(begin))
		w.book.granted(r.Token, learned, waited)
	}

	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	start := time.Now()
	err = w.c.ReleaseLock(cctx, w.lock, r.Token, false)
	answered := time.Now()
	if err != nil {
		return w.callError("release", err)
	}
	w.held = 0
	calls.Add(1)
	w.samples[lkRelease] = append(w.samples[lkRelease], answered.Sub(start))
	if w.book != nil {
		w.book.released(r.Token, start, answered)
	}
	return nil
}

func (w *locker) acquire(ctx context.Context, req latchkey.AcquireRequest, calls *atomic.Int64) (*latchkey.AcquireResult, error) {
	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	start := time.Now()
	r, err := w.c.AcquireLock(cctx, w.lock, req)
	d := time.Since(start)
	if err != nil {
		return nil, w.callError("acquire", err)
	}
	calls.Add(1)
	w.samples[lkAcquire] = append(w.samples[lkAcquire], d)
	if r.Mode == latchkey.LockExclusive && r.Token == 0 {
		return nil, fmt.Errorf("bench: acquire %s as %s: a grant without a fencing token", w.lock, w.login)
	}
	return r, nil
}

func (w *locker) callError(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("bench: %s %s as %s: no answer within %s", op, w.lock, w.login, CallTimeout)
	}
	return fmt.Errorf("bench: %s %s as %s: %w", op, w.lock, w.login, err)
}

func holderName(r *latchkey.AcquireResult) string {
	if r.Holder == nil {
		return "nobody"
	}
	return r.Holder.Name
}

// handoverBook pairs, on one lock, the release answer of a grant with the
// moment the next holder learned of its own grant: a grant's fencing
// token is the previous grant's plus one, whoever gets the answer first.
type handoverBook struct {
	mu       sync.Mutex
	pending  map[uint64]*handoverEntry // by the token of the grant after the release
	samples  []time.Duration           // from the release answer
	fromCall []time.Duration           // from the release call
	early    int
}

type handoverEntry struct {
	releaseSent, released time.Time
	learned               time.Time
	haveRelease, haveNext bool
	waited                bool // the next holder was queued: a hand-over
}

// released notes the release call (sent, answered) of the grant with
// token.
func (b *handoverBook) released(token uint64, sent, answered time.Time) {
	b.note(token+1, func(e *handoverEntry) { e.releaseSent, e.released, e.haveRelease = sent, answered, true })
}

// granted notes when the holder of token learned of its grant, and
// whether it had waited in the queue for it.
func (b *handoverBook) granted(token uint64, at time.Time, waited bool) {
	b.note(token, func(e *handoverEntry) { e.learned, e.haveNext, e.waited = at, true, waited })
}

func (b *handoverBook) note(next uint64, fn func(*handoverEntry)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.pending[next]
	if e == nil {
		e = &handoverEntry{}
		b.pending[next] = e
	}
	fn(e)
	if !e.haveRelease || !e.haveNext {
		return
	}
	delete(b.pending, next)
	if !e.waited {
		return // the lock was free when the next client came: no hand-over
	}
	d := e.learned.Sub(e.released)
	if d < 0 {
		b.early++
		d = 0
	}
	b.samples = append(b.samples, d)
	b.fromCall = append(b.fromCall, max(e.learned.Sub(e.releaseSent), 0))
}

func (b *handoverBook) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.samples, b.fromCall, b.early = nil, nil, 0
}

// startStream connects the client's event stream (topic locks, about the
// client's lock, from now: as an etcd waiter watches one key) and starts
// following it.
func (w *locker) startStream(ctx context.Context) error {
	s := w.c.Events(ctx, []string{latchkey.TopicLocks}, client.FromNow).About(w.lock)
	if err := s.Connect(); err != nil {
		return fmt.Errorf("event stream of %s: %w", w.login, err)
	}
	w.grants, w.streamDone = make(chan uint64, 64), make(chan struct{})
	go w.follow(s)
	return nil
}

// follow reads the event stream until it ends and sends the tokens of
// the grants from the queue (lock.grant) of the client's lock to the
// client.
func (w *locker) follow(s *client.EventStream) {
	defer close(w.streamDone)
	defer s.Close()
	for {
		e, err := s.Next()
		if err != nil {
			w.streamErr = err
			return
		}
		if e.Action != "lock.grant" || e.Target != w.lock {
			continue
		}
		var d struct {
			Principal string `json:"principal"`
			Token     uint64 `json:"token"`
		}
		if json.Unmarshal(e.Details, &d) != nil || d.Principal != w.principal || d.Token == 0 {
			continue
		}
		select {
		case w.grants <- d.Token:
		default: // the client is far behind: it falls back to asking
		}
	}
}

// awaitGrant waits for the event of a grant newer than the client's last
// one: its token, or 0 when none came within EventFallback.
func (w *locker) awaitGrant(ctx context.Context) (uint64, error) {
	timeout := time.NewTimer(EventFallback)
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-w.streamDone:
			return 0, fmt.Errorf("bench: event stream of %s ended: %w", w.login, w.streamErr)
		case <-timeout.C:
			return 0, nil
		case t := <-w.grants:
			if t > w.last { // older ones were learned by asking
				return t, nil
			}
		}
	}
}
