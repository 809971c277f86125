package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx": the soak watches the jobs table

	"latchkey"
	"latchkey/client"
)

// The failover soak (`latchkey bench failover`, issue 12 "Proof"): three
// `latchkey serve` nodes on one PostgreSQL database, real agents with the
// file executor, and steady load through clients that fail over between
// the nodes (sessions, edit locks, check-outs, access requests with
// approval, scheduled tasks). Every few seconds a random node is SIGKILLed
// (and restarted) or SIGSTOPped (and continued). At the end the soak
// checks what must hold whatever the faults: no acknowledged write lost,
// never two unlocked sessions of one person, every request active or done
// with its workflow done, every task run exactly once, every grant
// applied once by its agent; and it reports how long the jobs a killed
// node held took to be taken over.
//
// Unlike the other benchmarks it also reads the store directly, for what
// the API does not show at the instant it matters: which jobs the victim
// held when it was signalled, and when another node claimed them.

// Bounds and defaults of FailoverConfig.
const (
	DefaultFailoverDuration = 2 * time.Minute
	DefaultFailoverAgents   = 4
	DefaultFailoverPersons  = 4
	DefaultFailoverSettle   = 60 * time.Second
	MaxFailoverAgents       = 64
	MaxFailoverPersons      = 64
	// TakeoverGoal is issue 12's goal for a job's takeover at p99.
	TakeoverGoal = 5 * time.Second
)

// The fault schedule: a fault every FaultGapMin to FaultGapMax (from one
// signal to the next, and never while the last victim is still out), a
// SIGKILLed node restarted after KillDownMin to KillDownMax, a SIGSTOPped
// one continued after StopMin to StopMax. Before signalling, the soak
// waits up to AimFor for the victim to be running a job (a takeover is
// only measured on a job held at the signal); it signals anyway after.
const (
	FaultGapMin = 2 * time.Second
	FaultGapMax = 6 * time.Second
	KillDownMin = 1 * time.Second
	KillDownMax = 3 * time.Second
	StopMin     = 2 * time.Second
	StopMax     = 6 * time.Second
	AimFor      = time.Second
	// TrackFor bounds how long the soak watches a held job for its
	// takeover.
	TrackFor = 60 * time.Second
)

// soakServeFlags are the flags every node runs with, besides --listen and
// --data-dir: the production defaults for heartbeats (1 s), death (3 s)
// and job leases (3 s), and these changes: the test argon2id profile
// (the soak measures failover, not password hashing, on a small
// machine), the session sweep every second rather than five, and an
// instruction lock of 10 s rather than 5 minutes (a delivery lost with a
// killed node is sent again when its lock lapses; 5 minutes would
// outlast the run).
var soakServeFlags = []string{"--argon2-time", "1", "--argon2-memory", "64", "--argon2-threads", "1",
	"--sweep-interval", "1s", "--instruction-lock", "10s"}

// FailoverConfig configures RunFailover. Zero values take the defaults.
type FailoverConfig struct {
	// Binary is the latchkey executable the nodes and agents run.
	Binary string
	// Store is a PostgreSQL URL (required). The run makes a schema of its
	// own in that database and drops it at the end (unless KeepSchema).
	Store string
	// Duration is how long the load and the faults go on (default 2m).
	Duration time.Duration
	// MaxFaults stops the faults after this many (0: as many as Duration
	// allows).
	MaxFaults int
	// Agents is how many terminals have a real agent (default 4); check-outs
	// and access requests go to them.
	Agents int
	// Persons is how many people log on and off (default 4), each at two
	// terminals of their own.
	Persons int
	// Settle bounds the wait, after the load, for the work under way to
	// end (default 60s).
	Settle time.Duration
	// WorkDir holds the nodes' and agents' files (default: a new temporary
	// directory, removed at the end unless an invariant failed or Keep).
	WorkDir    string
	Keep       bool
	KeepSchema bool
	// ServeFlags are added to every node's flags.
	ServeFlags []string
}

// FailoverResult is what RunFailover found. WriteText prints it; it is
// also encoded as JSON.
type FailoverResult struct {
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
	Nodes     int           `json:"nodes"`
	Agents    int           `json:"agents"`
	Persons   int           `json:"persons"`
	Schema    string        `json:"schema"`
	WorkDir   string        `json:"work_dir,omitempty"`
	// LoadBefore and LoadAfter are /proc/loadavg at the start and the end.
	LoadBefore string   `json:"loadavg_before"`
	LoadAfter  string   `json:"loadavg_after"`
	ServeFlags []string `json:"serve_flags"`

	Faults   []*Fault      `json:"faults"`
	Kills    int           `json:"kills"`
	Stops    int           `json:"stops"`
	Takeover TakeoverStats `json:"takeover"`

	Ops   []FailoverOp `json:"ops"`
	Acked AckedCounts  `json:"acked"`
	// Observations counts the samples of each person's sessions;
	// MaxUnlocked is the most unlocked sessions one person had in one.
	Observations int `json:"observations"`
	MaxUnlocked  int `json:"max_unlocked"`
	// ClusterResumes counts the cluster.resume audit records: the outage
	// grace, given when the cluster's clock was silent for longer than a
	// node's dead-after time (see cluster.md "Outages give their time
	// back"). The soak never stops the database.
	ClusterResumes int `json:"cluster_resumes"`
	// SettledIn is how long the work under way took to end after the load.
	SettledIn  time.Duration `json:"settled_in_ns"`
	Invariants []Invariant   `json:"invariants"`
}

// Fault is one SIGKILL or SIGSTOP.
type Fault struct {
	At     time.Duration `json:"at_ns"` // since the load started
	Node   int           `json:"node"`
	NodeID string        `json:"node_id"`
	Signal string        `json:"signal"`
	// Down is how long the node was out: killed until restarted and
	// listening, or stopped until continued.
	Down time.Duration `json:"down_ns"`
	// Held is how many jobs the node was running under its lease when it
	// was signalled (after waiting up to AimFor for one), as read after
	// the signal took effect.
	Held int `json:"held"`
	// Takeovers are, for each held job another node claimed, the time
	// from the signal until the store showed the claim.
	Takeovers []time.Duration `json:"takeovers_ns"`
	// EndedBefore are jobs running just before the signal that the victim
	// ended or put back before it took effect (not counted in Held);
	// Resumed are held jobs the stopped node went on with itself after
	// SIGCONT; NotTakenOver those nobody claimed within TrackFor.
	EndedBefore  int      `json:"ended_before"`
	Resumed      int      `json:"resumed"`
	NotTakenOver int      `json:"not_taken_over"`
	Kinds        []string `json:"kinds"`
	// LeaseLeft is, for each held job, how much of its lease was left
	// at the signal: no node may take it over before.
	LeaseLeft []time.Duration `json:"lease_left_ns"`
	// AfterCont (SIGSTOP) counts the takeovers seen only once the node
	// had been continued; FrozenTx, the database sessions found idle in a
	// transaction for over a second when every held lease had lapsed a
	// second before and a job was still not taken over.
	AfterCont int `json:"after_cont"`
	FrozenTx  int `json:"frozen_transactions"`
	// EarlyClaims are held jobs another node claimed while their lease
	// (as read after the signal) had not lapsed: not counted as
	// takeovers.
	EarlyClaims int `json:"early_claims"`
	contAfter   time.Duration
	mu          sync.Mutex
}

// TakeoverStats sums the faults' takeovers.
type TakeoverStats struct {
	Faults        int     `json:"faults"`
	FaultsHolding int     `json:"faults_holding"` // faults whose victim held a job
	Jobs          int     `json:"jobs"`           // held jobs
	TakenOver     int     `json:"taken_over"`
	EndedBefore   int     `json:"ended_before"`
	Resumed       int     `json:"resumed"`
	NotTakenOver  int     `json:"not_taken_over"`
	AfterCont     int     `json:"after_cont"`   // SIGSTOP: taken over only once the node was continued
	EarlyClaims   int     `json:"early_claims"` // claimed by another node before the lease lapsed
	P50ms         float64 `json:"p50_ms"`
	P99ms         float64 `json:"p99_ms"`
	MaxMs         float64 `json:"max_ms"`
	GoalMet       bool    `json:"goal_met"` // p99 < TakeoverGoal and every held job taken over
}

// FailoverOp counts one kind of call: answered (with its latencies),
// refused by a rule (an expected answer under this load, such as a
// second unlocked session), and unknown (no answer the caller could act
// on: every node away, a timeout, an answer lost with its node).
// Internal counts 500 answers among the unknown.
type FailoverOp struct {
	Op       string  `json:"op"`
	OK       int     `json:"ok"`
	Refused  int     `json:"refused"`
	Unknown  int     `json:"unknown"`
	Internal int     `json:"internal"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	// LastRefused and LastUnknown are the last error of each sort.
	LastRefused string `json:"last_refused,omitempty"`
	LastUnknown string `json:"last_unknown,omitempty"`
}

// AckedCounts are the writes the servers acknowledged.
type AckedCounts struct {
	Sessions   int `json:"sessions"`
	Logouts    int `json:"logouts"`
	Checkouts  int `json:"checkouts"`
	Checkins   int `json:"checkins"`
	Requests   int `json:"requests"`
	Adopted    int `json:"requests_adopted"` // made by a call whose answer was lost, found and driven on
	Decisions  int `json:"decisions"`
	Tasks      int `json:"tasks"`
	LockCycles int `json:"lock_cycles"`
	Grants     int `json:"agent_grants"` // "+" lines in the agents' logs
}

// Invariant is one check and its verdict.
type Invariant struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// ErrInvariant is returned (wrapped) when an invariant failed.
var ErrInvariant = errors.New("bench: an invariant of the failover soak failed")

// RunFailover runs the soak. It returns the result, and an error wrapping
// ErrInvariant when an invariant failed (the result says which), or
// another error when the soak could not run.
func RunFailover(ctx context.Context, cfg FailoverConfig, progress io.Writer) (*FailoverResult, error) {
	if progress == nil {
		progress = io.Discard
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &soak{cfg: cfg, ctx: ctx, progress: progress, led: newLedger(), ops: newOpLog()}
	res := &FailoverResult{Nodes: 3, Agents: cfg.Agents, Persons: cfg.Persons, LoadBefore: loadavg(),
		ServeFlags: append(append([]string{}, soakServeFlags...), cfg.ServeFlags...)}
	s.res = res
	defer s.teardown()
	if err := s.setUp(); err != nil {
		return nil, err
	}
	res.Schema, res.WorkDir = s.schema, s.workDir
	if err := s.run(); err != nil {
		s.failed = true // keep the logs
		return res, err
	}
	res.LoadAfter = loadavg()
	if err := s.check(); err != nil {
		s.failed = true
		return res, err
	}
	for _, inv := range res.Invariants {
		if !inv.OK {
			s.failed = true
			return res, fmt.Errorf("%w: %s: %s", ErrInvariant, inv.Name, inv.Detail)
		}
	}
	if !cfg.Keep {
		res.WorkDir = ""
	}
	return res, nil
}

func (cfg *FailoverConfig) fill() error {
	if cfg.Binary == "" {
		return fmt.Errorf("bench: the latchkey binary is required")
	}
	if u, err := url.Parse(cfg.Store); cfg.Store == "" || err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("bench: --store must be a postgres:// URL (three nodes share one PostgreSQL database)")
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultFailoverDuration
	}
	if cfg.Duration < 5*time.Second || cfg.Duration > MaxDuration {
		return fmt.Errorf("bench: duration must be 5s to %s", MaxDuration)
	}
	if cfg.MaxFaults < 0 {
		return fmt.Errorf("bench: max faults must not be negative")
	}
	if cfg.Agents == 0 {
		cfg.Agents = DefaultFailoverAgents
	}
	if cfg.Persons == 0 {
		cfg.Persons = DefaultFailoverPersons
	}
	if cfg.Agents < 1 || cfg.Agents > MaxFailoverAgents || cfg.Persons < 1 || cfg.Persons > MaxFailoverPersons {
		return fmt.Errorf("bench: agents must be 1 to %d and persons 1 to %d", MaxFailoverAgents, MaxFailoverPersons)
	}
	if cfg.Settle == 0 {
		cfg.Settle = DefaultFailoverSettle
	}
	if cfg.Settle < 0 || cfg.Settle > 10*time.Minute {
		return fmt.Errorf("bench: settle must be at most 10m")
	}
	return nil
}

// loadavg is /proc/loadavg's first three fields ("" where there is none).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// soak is one run.
type soak struct {
	cfg      FailoverConfig
	ctx      context.Context
	progress io.Writer
	res      *FailoverResult

	workDir, schema string
	ownDir          bool
	adminDSN        string // the database, to make and drop the schema
	storeURL        string // the schema
	db              *sql.DB
	adminPassword   string
	nodes           []*soakNode
	agents          []*soakAgent
	urls            []string
	hc              *http.Client
	closeIdle       func()
	failed          bool

	tag        string
	admin      *client.Client
	site       string
	sessTerms  []soakTerminal // two per person
	agentTerms []soakTerminal
	persons    []soakPerson
	requester  *client.Client // the one person who asks for access
	delegates  []*client.Client
	coSet      string // group set "sco" (no approval): direct check-outs
	reqSet     string // group set "sreq" (approval): access requests

	start, deadline time.Time
	loadOver        chan struct{} // closed at the deadline
	settleOver      chan struct{} // closed when the settling ends

	led *ledger
	ops *opLog

	faultsMu sync.Mutex
	trackers sync.WaitGroup
}

type soakTerminal struct{ id, token string }

type soakPerson struct{ id, login, password string }

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// setUp makes the schema, starts the nodes, sets up the people,
// terminals and group sets, and starts the agents.
func (s *soak) setUp() error {
	s.tag = randHex(4)
	s.adminPassword = "soak-" + randHex(12)
	if s.cfg.WorkDir == "" {
		d, err := os.MkdirTemp("", "latchkey-soak-*")
		if err != nil {
			return err
		}
		s.workDir, s.ownDir = d, true
	} else {
		s.workDir = s.cfg.WorkDir
		if err := os.MkdirAll(s.workDir, 0o700); err != nil {
			return err
		}
	}
	if err := s.makeSchema(); err != nil {
		return err
	}
	s.hc, s.closeIdle = soakHTTP()
	addrs, err := freePorts(3)
	if err != nil {
		return err
	}
	for i, a := range addrs {
		nd := &soakNode{n: i + 1, addr: a, dataDir: filepath.Join(s.workDir, fmt.Sprintf("node%d", i+1)),
			logPath: filepath.Join(s.workDir, fmt.Sprintf("node%d.log", i+1))}
		s.nodes = append(s.nodes, nd)
		s.urls = append(s.urls, nd.url())
	}
	t0 := time.Now()
	for _, nd := range s.nodes { // one at a time: the first makes the tables
		if err := nd.start(s.cfg.Binary, s.storeURL, s.adminPassword, s.serveFlags()); err != nil {
			return err
		}
		if err := nd.ready(s.ctx, s.hc, 30*time.Second); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.progress, "3 nodes on schema %s up in %s: %s\n", s.schema, time.Since(t0).Round(time.Millisecond), strings.Join(s.urls, ","))
	if err := s.setUpData(); err != nil {
		return fmt.Errorf("bench: set up: %w", err)
	}
	servers := strings.Join(s.urls, ",")
	for i, t := range s.agentTerms {
		a, err := startSoakAgent(s.cfg.Binary, servers, t.token, filepath.Join(s.workDir, fmt.Sprintf("agent%d", i+1)))
		if err != nil {
			return err
		}
		a.terminal = t.id
		s.agents = append(s.agents, a)
	}
	fmt.Fprintf(s.progress, "%d agents, %d persons at %d terminals, %d delegates with edit locks\n",
		len(s.agents), len(s.persons), len(s.sessTerms), len(s.delegates))
	return nil
}

func (s *soak) serveFlags() []string {
	return append(append([]string{}, soakServeFlags...), s.cfg.ServeFlags...)
}

// makeSchema makes the run's schema and the store URL that uses it.
func (s *soak) makeSchema() error {
	s.adminDSN = s.cfg.Store
	db, err := sql.Open("pgx", s.adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	s.schema = "soak_" + s.tag
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+s.schema); err != nil {
		s.schema = ""
		return fmt.Errorf("bench: create schema in %s: %w", latchkey.Redact(s.adminDSN), latchkey.RedactError(err, s.adminDSN))
	}
	u, err := url.Parse(s.adminDSN)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("search_path", s.schema)
	u.RawQuery = q.Encode()
	s.storeURL = u.String()
	s.db, err = sql.Open("pgx", s.storeURL)
	if err != nil {
		return err
	}
	s.db.SetMaxOpenConns(4)
	return nil
}

// teardown stops every process, drops the schema (unless kept) and
// removes the work dir (unless kept, or an invariant failed).
func (s *soak) teardown() {
	for _, a := range s.agents {
		a.kill()
	}
	for _, nd := range s.nodes {
		nd.signal(syscall.SIGCONT)
		nd.kill()
	}
	if s.closeIdle != nil {
		s.closeIdle()
	}
	if s.db != nil {
		s.db.Close()
	}
	if s.schema != "" && !s.cfg.KeepSchema {
		if db, err := sql.Open("pgx", s.adminDSN); err == nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 60*time.Second)
			db.ExecContext(ctx, "DROP SCHEMA "+s.schema+" CASCADE")
			cancel()
			db.Close()
		}
	}
	if s.ownDir && !s.cfg.Keep && !s.failed {
		os.RemoveAll(s.workDir)
	}
}

// soakHTTP is the load's HTTP client: a SIGSTOPped node accepts
// connections and answers nothing, so an attempt that has no answer
// within 4 s goes on to the next node (the client sends it there with
// the same Idempotency-Key).
func soakHTTP() (*http.Client, func()) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 128, 32
	tr.ResponseHeaderTimeout = 4 * time.Second
	return &http.Client{Transport: tr}, tr.CloseIdleConnections
}

// clientFor is a client of every node for worker k, starting at node k
// mod 3 so that the load is spread.
func (s *soak) clientFor(k int, token string) *client.Client {
	n := len(s.urls)
	order := make([]string, 0, n)
	for i := range n {
		order = append(order, s.urls[(k+i)%n])
	}
	return client.New(strings.Join(order, ","), client.WithToken(token), client.WithHTTPClient(s.hc))
}

// setUpData makes the site, the terminals, the people and the group sets.
func (s *soak) setUpData() error {
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	anon := s.clientFor(0, "")
	tok, err := anon.Login(ctx, "admin", s.adminPassword)
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	s.admin = s.clientFor(0, tok.Token)
	site, err := s.admin.CreateSite(ctx, client.SiteCreate{Name: "soak " + s.tag})
	if err != nil {
		return err
	}
	s.site = site.ID
	term := func(name string) (soakTerminal, error) {
		t, err := s.admin.RegisterTerminal(ctx, name, s.site)
		if err != nil {
			return soakTerminal{}, err
		}
		return soakTerminal{id: t.ID, token: t.Token}, nil
	}
	person := func(name, login string, role latchkey.Role) (soakPerson, error) {
		p, err := s.admin.CreatePrincipal(ctx, latchkey.Principal{Name: name, Role: role})
		if err != nil {
			return soakPerson{}, err
		}
		pw := "pw-" + randHex(10)
		if _, err := s.admin.AddIdentity(ctx, p.ID, login, pw); err != nil {
			return soakPerson{}, err
		}
		return soakPerson{id: p.ID, login: login, password: pw}, nil
	}
	for i := range s.cfg.Persons {
		p, err := person(fmt.Sprintf("soak person %d", i+1), fmt.Sprintf("soakp%d", i+1), latchkey.RoleUser)
		if err != nil {
			return err
		}
		s.persons = append(s.persons, p)
		for slot := range 2 {
			t, err := term(fmt.Sprintf("soak desk %d-%d", i+1, slot+1))
			if err != nil {
				return err
			}
			s.sessTerms = append(s.sessTerms, t)
		}
	}
	for i := range s.cfg.Agents {
		t, err := term(fmt.Sprintf("soak ws%d", i+1))
		if err != nil {
			return err
		}
		s.agentTerms = append(s.agentTerms, t)
	}
	req, err := person("soak requester", "soakreq", latchkey.RoleUser)
	if err != nil {
		return err
	}
	rtok, err := s.clientFor(1, "").Login(ctx, req.login, req.password)
	if err != nil {
		return err
	}
	s.requester = s.clientFor(1, rtok.Token)
	for i := range 2 {
		d, err := person(fmt.Sprintf("soak delegate %d", i+1), fmt.Sprintf("soakdel%d", i+1), latchkey.RoleDelegate)
		if err != nil {
			return err
		}
		dtok, err := s.clientFor(i, "").Login(ctx, d.login, d.password)
		if err != nil {
			return err
		}
		s.delegates = append(s.delegates, s.clientFor(i, dtok.Token))
	}
	var eligible []string
	for _, p := range s.persons {
		eligible = append(eligible, p.id)
	}
	co, err := s.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "soak tools " + s.tag, Groups: []string{"sco"}, Eligible: eligible})
	if err != nil {
		return err
	}
	s.coSet = co.ID
	rs, err := s.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "soak root " + s.tag, Groups: []string{"sreq"},
		Eligible: []string{req.id}, Approval: true})
	if err != nil {
		return err
	}
	s.reqSet = rs.ID
	return nil
}

// run runs the load and the faults until the deadline, restores every
// node, then lets the work under way settle.
func (s *soak) run() error {
	s.start = time.Now()
	s.res.StartedAt = s.start.UTC()
	s.deadline = s.start.Add(s.cfg.Duration)
	s.loadOver, s.settleOver = make(chan struct{}), make(chan struct{})
	var load, background sync.WaitGroup
	goRun := func(wg *sync.WaitGroup, fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	for p := range s.persons {
		for slot := range 2 {
			goRun(&load, func() { s.sessionWorker(p, slot) })
		}
	}
	for i := range s.agentTerms {
		goRun(&load, func() { s.checkoutWorker(i) })
	}
	for w := 0; w*2 < len(s.agentTerms); w++ {
		goRun(&load, func() { s.requestWorker(w) })
	}
	for d := range s.delegates {
		goRun(&load, func() { s.lockWorker(d) })
	}
	goRun(&load, s.taskWorker)
	goRun(&load, s.observer)
	goRun(&background, s.approver) // through the settling too
	faultErr := make(chan error, 1)
	go func() { faultErr <- s.faults() }()
	go func() { // progress every 10 s
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.loadOver:
				return
			case <-tick.C:
				fmt.Fprintf(s.progress, "  %3.0fs: %s\n", time.Since(s.start).Seconds(), s.led.summary())
			}
		}
	}()
	select {
	case <-time.After(time.Until(s.deadline)):
	case <-s.ctx.Done():
	}
	close(s.loadOver)
	err := <-faultErr // every node is back
	load.Wait()
	s.res.Duration = time.Since(s.start)
	fmt.Fprintf(s.progress, "load over after %s: %s; settling\n", s.res.Duration.Round(time.Millisecond), s.led.summary())
	if err == nil {
		err = s.ctx.Err()
	}
	if err == nil {
		t := time.Now()
		err = s.settle()
		s.res.SettledIn = time.Since(t)
	}
	close(s.settleOver)
	background.Wait()
	s.trackers.Wait()
	return err
}

// loadOn says whether the load goes on.
func (s *soak) loadOn() bool {
	select {
	case <-s.loadOver:
		return false
	default:
		return s.ctx.Err() == nil
	}
}

// pause sleeps between lo and hi, less if the load ends.
func (s *soak) pause(lo, hi time.Duration) {
	select {
	case <-s.loadOver:
	case <-s.ctx.Done():
	case <-time.After(randBetween(lo, hi)):
	}
}

func randN(n int) int { return mrand.IntN(n) }

func randBetween(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(mrand.Int64N(int64(hi-lo)))
}
