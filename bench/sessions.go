// Package bench measures a running latchkey server through its public API:
// it is what `latchkey bench ...` runs. Everything it does, it does as a
// client would (package client), so a benchmark measures the whole path:
// HTTP, JSON, authentication, the rules and the store.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/passhash"
)

// Modes of the sessions benchmark.
const (
	// ModeCycle runs login, lock, unlock, touch ×3, logout.
	ModeCycle = "cycle"
	// ModeLogin runs login and logout only, to measure the login rate
	// against the raw argon2id rate.
	ModeLogin = "login"
)

// Bounds and defaults of SessionsConfig.
const (
	DefaultTerminals       = 32
	MaxTerminals           = 10_000
	DefaultDuration        = 20 * time.Second
	MaxDuration            = 24 * time.Hour
	MaxCycles              = 1_000_000 // per terminal
	MaxRounds              = 100
	DefaultRawHashDuration = 5 * time.Second
	// CallTimeout bounds one API call; a call that takes longer aborts the
	// run.
	CallTimeout = 60 * time.Second
)

// TestProfileNote marks a result measured with passhash.Test.
const TestProfileNote = "cheap test profile — not a production measurement"

// SessionsConfig configures RunSessions. Zero values take the defaults.
type SessionsConfig struct {
	Server        string // base URL of a running latchkey server
	AdminIdentity string // default "admin"
	AdminPassword string // required
	// Terminals is how many simulated terminals run at once (default 32),
	// each logging on its own person.
	Terminals int
	// Duration is how long cycles are started (default 20s); cycles under
	// way then are finished.
	Duration time.Duration
	// Cycles caps the cycles of each terminal (0 = as many as Duration
	// allows, at most MaxCycles).
	Cycles int
	// Mode is ModeCycle (default) or ModeLogin.
	Mode string
	// Argon2 is the server's password profile (default
	// passhash.Production), for the raw-rate measurement.
	Argon2 passhash.Params
	// RawHashDuration is how long the raw argon2id rate is measured (default
	// 5s), with GOMAXPROCS goroutines, before the load.
	RawHashDuration time.Duration
	// Rounds splits the load into this many windows of Duration/Rounds
	// (default 1). The raw argon2id rate is measured before each window and
	// after the last, and each window's login rate is judged against the two
	// raw measurements around it, so a machine whose speed drifts during the
	// run is judged against its speed at the time.
	Rounds int
	// Warmup runs the load unmeasured for this long before the first raw
	// measurement (default none), so that the measured windows see a warm
	// server: its heap grown, its statements prepared.
	Warmup time.Duration
	// ProfileURL, when set, is the server's pprof address (serve
	// --pprof-listen, e.g. http://127.0.0.1:7421): during each window the
	// benchmark fetches a CPU profile of the server from it and writes it to
	// ProfileDir as round-N.pprof, to see where the server's time went.
	ProfileURL string
	ProfileDir string
	// Prefix starts the names of the site, principals, identities and
	// terminals the run creates (default "bench-" and random hex), so that
	// runs against one store do not clash.
	Prefix string
	// Backend labels the result (e.g. "sqlite", "postgres"); optional.
	Backend string
}

// SessionsResult is what RunSessions measured. It is printed by WriteText
// or encoded as JSON.
type SessionsResult struct {
	Backend   string    `json:"backend,omitempty"`
	Server    string    `json:"server"`
	Mode      string    `json:"mode"`
	Terminals int       `json:"terminals"`
	Prefix    string    `json:"prefix"`
	StartedAt time.Time `json:"started_at"`
	// Duration is how long the load ran, until the last cycle finished.
	Duration time.Duration `json:"duration_ns"`
	// Ops has one entry per operation, in cycle order.
	Ops            []OpStats `json:"ops"`
	Cycles         int       `json:"cycles"`
	TotalOpsPerSec float64   `json:"total_ops_per_sec"`
	CyclesPerSec   float64   `json:"cycles_per_sec"`
	// RawHashesPerSec is this machine's argon2id rate with Params, measured
	// before the load by RawHashWorkers goroutines.
	RawHashesPerSec float64 `json:"raw_hashes_per_sec"`
	RawHashWorkers  int     `json:"raw_hash_workers"`
	// RawBefore and RawAfter are the raw rates measured before and after
	// the load; RawHashesPerSec is the mean of every raw measurement of the
	// run, so that a machine whose speed drifts during the run is not judged
	// against one end of it.
	RawBefore float64 `json:"raw_before"`
	RawAfter  float64 `json:"raw_after"`
	// Rounds are the load's windows (see SessionsConfig.Rounds).
	Rounds []Round `json:"rounds"`
	// LoginVsRaw (ModeLogin only) is the median over the rounds of each
	// round's login ops/s ÷ the raw hashes/s around it; with one round,
	// login ops/s ÷ RawHashesPerSec.
	LoginVsRaw float64 `json:"login_vs_raw,omitempty"`
	// ServerCPUSeconds is the server's CPU time during the load (from its
	// process_cpu_seconds_total), or 0 if it could not be read.
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	// NonHashCPUShare (ModeLogin only) is the share of the server's CPU per
	// login cycle (login and logout) spent on anything but the password
	// hash: 1 - (CPU of one raw hash) / (server CPU per cycle); the median
	// over the rounds.
	NonHashCPUShare float64 `json:"non_hash_cpu_share,omitempty"`
	// PeakRSSBytes is the server's peak resident set size (0 if unknown);
	// RSSSource says which metric it was read from, or why it is unknown.
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	RSSSource    string `json:"rss_source"`
	Params       string `json:"params"`
	// Note is TestProfileNote when Params is passhash.Test.
	Note string `json:"note,omitempty"`
}

// Operations, in cycle order.
const (
	opLogin = iota
	opLock
	opUnlock
	opTouch
	opLogout
	numOps
)

var opNames = [numOps]string{"login", "lock", "unlock", "touch", "logout"}

// withDefaults checks cfg and fills in its defaults.
func (cfg SessionsConfig) withDefaults() (SessionsConfig, error) {
	var err error
	if cfg.Server, cfg.AdminIdentity, err = checkTarget(cfg.Server, cfg.AdminIdentity, cfg.AdminPassword,
		"the run creates its site, people and terminals"); err != nil {
		return cfg, err
	}
	switch {
	case cfg.Terminals == 0:
		cfg.Terminals = DefaultTerminals
	case cfg.Terminals < 0 || cfg.Terminals > MaxTerminals:
		return cfg, fmt.Errorf("bench: terminals must be 1 to %d", MaxTerminals)
	}
	if cfg.Duration, err = checkDuration(cfg.Duration); err != nil {
		return cfg, err
	}
	if cfg.Cycles < 0 || cfg.Cycles > MaxCycles {
		return cfg, fmt.Errorf("bench: cycles must be 0 (no cap) to %d", MaxCycles)
	}
	if cfg.Cycles == 0 {
		cfg.Cycles = MaxCycles
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeCycle
	case ModeCycle, ModeLogin:
	default:
		return cfg, fmt.Errorf("bench: mode %q: want %q or %q", cfg.Mode, ModeCycle, ModeLogin)
	}
	if cfg.Argon2 == (passhash.Params{}) {
		cfg.Argon2 = passhash.Production
	}
	if err := cfg.Argon2.Validate(); err != nil {
		return cfg, fmt.Errorf("bench: argon2id parameters: %w", err)
	}
	switch {
	case cfg.RawHashDuration == 0:
		cfg.RawHashDuration = DefaultRawHashDuration
	case cfg.RawHashDuration < 0 || cfg.RawHashDuration > time.Hour:
		return cfg, errors.New("bench: the raw hash measurement must last more than 0 and at most an hour")
	}
	switch {
	case cfg.Rounds == 0:
		cfg.Rounds = 1
	case cfg.Rounds < 0 || cfg.Rounds > MaxRounds:
		return cfg, fmt.Errorf("bench: rounds must be 1 to %d", MaxRounds)
	case cfg.Duration/time.Duration(cfg.Rounds) < time.Millisecond:
		return cfg, errors.New("bench: each round needs at least a millisecond of the duration")
	}
	if cfg.Warmup < 0 || cfg.Warmup > time.Hour {
		return cfg, errors.New("bench: the warm-up must last 0 to an hour")
	}
	if cfg.ProfileURL, err = checkProfile(cfg.ProfileURL, cfg.ProfileDir); err != nil {
		return cfg, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = randomPrefix()
	}
	if err := latchkey.ValidName("prefix", cfg.Prefix); err != nil || len(cfg.Prefix) > 100 {
		return cfg, fmt.Errorf("bench: prefix %q: want 1 to 100 printable characters", cfg.Prefix)
	}
	return cfg, nil
}

// RunSessions drives the server at cfg.Server with cfg.Terminals simulated
// terminals, each logging its own person on and off through login, lock,
// unlock, touch and logout cycles (or login and logout only), and measures
// every call client-side. Before the load it logs on as the admin and
// creates, through the API, one site with the default settings, the
// terminals and one person per terminal with one identity and a random
// password. It measures this machine's raw argon2id rate before the load
// and after each of its cfg.Rounds windows. It prints progress to progress
// (nil for none).
//
// Any failed call but rate_limited (counted in OpStats.Errors, the cycle
// given up) aborts the run with an error naming the call. When ctx ends
// during the load, RunSessions stops and returns what it measured so far
// together with ctx's error.
func RunSessions(ctx context.Context, cfg SessionsConfig, progress io.Writer) (*SessionsResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	hc, closeIdle := benchHTTP(cfg.Terminals)
	defer closeIdle()

	res := &SessionsResult{Backend: cfg.Backend, Server: cfg.Server, Mode: cfg.Mode, Terminals: cfg.Terminals,
		Prefix: cfg.Prefix, Params: cfg.Argon2.String()}
	if cfg.Argon2 == passhash.Test {
		res.Note = TestProfileNote
	}

	fmt.Fprintf(progress, "bench sessions: %s, mode %s, %d terminals, %s, prefix %s\n",
		cfg.Server, cfg.Mode, cfg.Terminals, cfg.Duration, cfg.Prefix)
	admin, logout, err := adminLogin(ctx, hc, cfg.Server, cfg.AdminIdentity, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	defer logout()
	t0 := time.Now()
	workers, err := setup(ctx, admin, cfg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "set up a site, %d terminals and %d people in %s\n",
		cfg.Terminals, cfg.Terminals, time.Since(t0).Round(time.Millisecond))

	rss := watchRSS(ctx, hc, cfg.Server)
	loadErr := runRounds(ctx, cfg, workers, hc, res, progress)
	res.PeakRSSBytes, res.RSSSource = rss.finish(context.WithoutCancel(ctx))
	if loadErr != nil && ctx.Err() == nil {
		return nil, loadErr
	}

	var total int
	for op := range numOps {
		if cfg.Mode == ModeLogin && op != opLogin && op != opLogout {
			continue
		}
		var samples []time.Duration
		errs := 0
		for _, w := range workers {
			samples = append(samples, w.samples[op]...)
			errs += w.errors[op]
		}
		st := Summarize(opNames[op], samples, errs, res.Duration)
		total += st.Count
		res.Ops = append(res.Ops, st)
	}
	for _, w := range workers {
		res.Cycles += w.cycles
	}
	if s := res.Duration.Seconds(); s > 0 {
		res.TotalOpsPerSec = float64(total) / s
		res.CyclesPerSec = float64(res.Cycles) / s
	}
	if cfg.Mode == ModeLogin {
		res.judgeRounds()
	}
	fmt.Fprintf(progress, "done: %d cycles in %s\n", res.Cycles, res.Duration.Round(time.Millisecond))
	return res, loadErr
}

// worker is one simulated terminal with its own person.
type worker struct {
	c        *client.Client // with the terminal's token
	terminal string         // id
	name     string         // the terminal's name, for messages
	login    string
	password string

	samples [numOps][]time.Duration
	errors  [numOps]int
	cycles  int // finished
	started int // finished or given up
}

// setup creates the site, and for each terminal the terminal, its person
// and the person's identity, a few at a time.
func setup(ctx context.Context, admin *client.Client, cfg SessionsConfig) ([]*worker, error) {
	site, err := admin.CreateSite(ctx, client.SiteCreate{Name: cfg.Prefix + "-site"})
	if err != nil {
		return nil, fmt.Errorf("bench: create site: %w", err)
	}
	workers := make([]*worker, cfg.Terminals)
	errs := make([]error, cfg.Terminals)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.Terminals, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Terminals || ctx.Err() != nil {
					return
				}
				if workers[i], errs[i] = setupOne(ctx, admin, cfg, site.ID, i); errs[i] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("bench: set up: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return workers, nil
}

func setupOne(ctx context.Context, admin *client.Client, cfg SessionsConfig, siteID string, i int) (*worker, error) {
	var b [18]byte
	rand.Read(b[:])
	w := &worker{name: fmt.Sprintf("%s-terminal-%d", cfg.Prefix, i), login: fmt.Sprintf("%s-%d", cfg.Prefix, i),
		password: base64.RawURLEncoding.EncodeToString(b[:])}
	term, err := admin.RegisterTerminal(ctx, w.name, siteID)
	if err != nil {
		return nil, fmt.Errorf("register terminal %s: %w", w.name, err)
	}
	w.terminal = term.ID
	w.c = admin.WithToken(term.Token)
	p, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: fmt.Sprintf("%s-user-%d", cfg.Prefix, i), Role: latchkey.RoleUser})
	if err != nil {
		return nil, fmt.Errorf("create principal %s-user-%d: %w", cfg.Prefix, i, err)
	}
	if _, err := admin.AddIdentity(ctx, p.ID, w.login, w.password); err != nil {
		return nil, fmt.Errorf("add identity %s: %w", w.login, err)
	}
	return w, nil
}

// runLoad runs the workers' cycles until d has passed, each has started
// cfg.Cycles in the whole run, ctx ends or a call fails unexpectedly (its
// error is returned).
func runLoad(ctx context.Context, cfg SessionsConfig, workers []*worker, d time.Duration, progress io.Writer) error {
	var ops atomic.Int64
	return drive(ctx, len(workers), d, "ops", &ops, progress, func(ctx context.Context, i int) error {
		w := workers[i]
		if w.started >= cfg.Cycles {
			return errStopped
		}
		w.started++
		err := w.cycle(ctx, cfg.Mode, &ops)
		if err == nil {
			w.cycles++
		}
		return err
	})
}

// cycle runs one cycle: login, then (ModeCycle) lock, unlock and three
// touches, then logout.
func (w *worker) cycle(ctx context.Context, mode string, ops *atomic.Int64) error {
	var sess *latchkey.Session
	check := func(s *latchkey.Session, what string, ok bool) error {
		if !ok {
			return fmt.Errorf("unexpected answer to %s: %+v", what, *s)
		}
		return nil
	}
	err := w.call(ctx, opLogin, ops, func(ctx context.Context) error {
		r, err := w.c.StartSession(ctx, w.terminal, latchkey.LoginRequest{Identity: w.login, Password: w.password, TimeSent: time.Now()})
		if err != nil {
			return err
		}
		sess = &r.Session
		return check(sess, "login", sess.ID != "" && sess.Status == latchkey.SessionActive && sess.LockedAt == nil)
	})
	if err != nil {
		return err
	}
	steps := []struct {
		op int
		fn func(context.Context) error
	}{
		{opLock, func(ctx context.Context) error {
			s, err := w.c.LockSession(ctx, sess.ID, latchkey.LockRequest{TimeSent: time.Now(), Reason: latchkey.LockManual})
			if err != nil {
				return err
			}
			return check(s, "lock", s.Status == latchkey.SessionActive && s.LockedAt != nil)
		}},
		{opUnlock, func(ctx context.Context) error {
			s, err := w.c.UnlockSession(ctx, sess.ID, latchkey.UnlockRequest{Identity: w.login, Password: w.password, TimeSent: time.Now()})
			if err != nil {
				return err
			}
			return check(s, "unlock", s.Status == latchkey.SessionActive && s.LockedAt == nil)
		}},
		{opTouch, w.touch(sess.ID, check)},
		{opTouch, w.touch(sess.ID, check)},
		{opTouch, w.touch(sess.ID, check)},
	}
	if mode == ModeLogin {
		steps = nil
	}
	for _, st := range steps {
		if err := w.call(ctx, st.op, ops, st.fn); err != nil {
			if errors.Is(err, errSkipped) {
				w.endQuietly(ctx, sess.ID)
			}
			return err
		}
	}
	err = w.call(ctx, opLogout, ops, func(ctx context.Context) error {
		s, err := w.c.EndSession(ctx, sess.ID)
		if err != nil {
			return err
		}
		return check(s, "logout", s.Status == latchkey.SessionEnded)
	})
	if errors.Is(err, errSkipped) {
		w.endQuietly(ctx, sess.ID)
	}
	return err
}

func (w *worker) touch(id string, check func(*latchkey.Session, string, bool) error) func(context.Context) error {
	return func(ctx context.Context) error {
		s, err := w.c.TouchSession(ctx, id)
		if err != nil {
			return err
		}
		return check(s, "touch", s.Status == latchkey.SessionActive)
	}
}

// endQuietly logs a session out after a given-up cycle, unmeasured; a
// failure is left to the next login's terminal clean-up.
func (w *worker) endQuietly(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	w.c.EndSession(ctx, id)
}

// call times one API call. A success records its latency; rate_limited is
// counted and gives the cycle up (errSkipped); any other failure is
// returned to abort the run, unless the run is stopping (errStopped).
func (w *worker) call(ctx context.Context, op int, ops *atomic.Int64, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	start := time.Now()
	err := fn(cctx)
	d := time.Since(start)
	cancel()
	switch {
	case err == nil:
		w.samples[op] = append(w.samples[op], d)
		ops.Add(1)
		return nil
	case ctx.Err() != nil:
		return errStopped
	}
	w.errors[op]++
	if latchkey.ErrorCode(err) == latchkey.ERATELIMITED {
		return errSkipped
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("bench: %s at terminal %s as %s: no answer within %s", opNames[op], w.name, w.login, CallTimeout)
	}
	return fmt.Errorf("bench: %s at terminal %s as %s: %w", opNames[op], w.name, w.login, err)
}
