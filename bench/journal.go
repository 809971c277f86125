package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"latchkey"
	"latchkey/client"
)

// Defaults and bounds of `latchkey bench journal`.
const (
	DefaultJournalEntries     = 10000
	DefaultJournalPeople      = 50
	DefaultJournalTerminals   = 10
	DefaultJournalConcurrency = 4
	// MaxJournalBenchEntries bounds a run's entries (all of them are kept
	// in memory, twice over with their verdicts).
	MaxJournalBenchEntries = 1_000_000
	// JournalQuotaMinutes is the daily quota of the run's site.
	JournalQuotaMinutes = 240
	// JournalWindow is the span before the run in which the offline
	// sessions took place: each terminal's entries follow one another
	// in it without overlapping, the last ending a minute before the
	// uploads start.
	JournalWindow = 8 * time.Hour
)

// JournalConfig configures `latchkey bench journal`.
type JournalConfig struct {
	Server        string
	AdminIdentity string
	AdminPassword string
	Entries       int // offline sessions in all (default 10000)
	People        int // people, one identity each, the entries are spread over (default 50)
	Terminals     int // terminals the entries are spread over (default 10)
	Batch         int // entries per upload, at most latchkey.MaxJournalEntries (default that)
	Concurrency   int // terminals uploading at once (default 4; at most Terminals)
	Backend       string
}

// JournalPass is one upload of every batch.
type JournalPass struct {
	Duration      time.Duration `json:"duration_ns"`
	Entries       int           `json:"entries"`
	EntriesPerSec float64       `json:"entries_per_sec"`
	// Batches is the latency of the upload calls (one per batch).
	Batches          OpStats    `json:"batches"`
	ServerCPUSeconds float64    `json:"server_cpu_seconds"`
	Machine          MachineCPU `json:"machine_cpu"`
}

// JournalResult is what a journal run measured and checked.
type JournalResult struct {
	Backend           string    `json:"backend,omitempty"`
	Server            string    `json:"server"`
	Entries           int       `json:"entries"`
	People            int       `json:"people"`
	Terminals         int       `json:"terminals"`
	Batch             int       `json:"batch"`
	Batches           int       `json:"batches"`
	Concurrency       int       `json:"concurrency"`
	DailyQuotaMinutes int       `json:"daily_quota_minutes"`
	StartedAt         time.Time `json:"started_at"`
	// Setup is the time taken to make the site, people and terminals.
	Setup    time.Duration `json:"setup_ns"`
	Upload   JournalPass   `json:"upload"`
	Reupload JournalPass   `json:"reupload"`
	// Verdicts counts the first upload's verdicts by kind.
	Verdicts map[string]int `json:"verdicts"`
	// SessionsAfterUpload and SessionsAfterReupload count the sessions of
	// the run's people (GET /v1/principals/{id}/sessions) after each pass;
	// both must be Entries.
	SessionsAfterUpload   int `json:"sessions_after_upload"`
	SessionsAfterReupload int `json:"sessions_after_reupload"`
	// SameResults counts the re-uploaded entries whose answer (verdict,
	// reason and session) is identical to the first upload's.
	SameResults int `json:"same_results"`
	// Idempotent is true when every check passed; Problems lists the
	// first failures otherwise.
	Idempotent   bool     `json:"idempotent"`
	Problems     []string `json:"problems,omitempty"`
	PeakRSSBytes int64    `json:"peak_rss_bytes"`
	RSSSource    string   `json:"rss_source"`
}

// WriteText prints the result for people.
func (r *JournalResult) WriteText(w io.Writer) {
	backend := ""
	if r.Backend != "" {
		backend = ", backend " + r.Backend
	}
	fmt.Fprintf(w, "latchkey bench journal: %d ended offline sessions from %d terminals for %d people, "+
		"%d batches of up to %d, %d terminals uploading at once%s\n",
		r.Entries, r.Terminals, r.People, r.Batches, r.Batch, r.Concurrency, backend)
	fmt.Fprintf(w, "server %s, started %s, set-up %s (site with a daily quota of %d min)\n",
		r.Server, r.StartedAt.Format(time.RFC3339), r.Setup.Round(time.Millisecond), r.DailyQuotaMinutes)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pass\tentries\ttime s\tentries/s\tbatches\tbatch p50 ms\tp99 ms\tmax ms\tserver CPU cores\t")
	for _, p := range []struct {
		name string
		p    JournalPass
	}{{"upload", r.Upload}, {"re-upload", r.Reupload}} {
		cores := 0.0
		if s := p.p.Duration.Seconds(); s > 0 {
			cores = p.p.ServerCPUSeconds / s
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t\n", p.name, p.p.Entries, p.p.Duration.Seconds(),
			p.p.EntriesPerSec, p.p.Batches.Count, p.p.Batches.P50ms, p.p.Batches.P99ms, p.p.Batches.MaxMs, cores)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintf(w, "verdicts of the first upload:")
	for _, v := range []latchkey.JournalVerdict{latchkey.VerdictOK, latchkey.VerdictWarnThenLogoff, latchkey.VerdictLogoff} {
		if n := r.Verdicts[string(v)]; n > 0 {
			fmt.Fprintf(w, " %s %d", v, n)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "sessions of the %d people: %d after the upload, %d after the re-upload (want %d)\n",
		r.People, r.SessionsAfterUpload, r.SessionsAfterReupload, r.Entries)
	fmt.Fprintf(w, "re-upload: %d of %d answers (verdict, reason, session id) identical to the first upload's\n", r.SameResults, r.Entries)
	if r.Idempotent {
		fmt.Fprintln(w, "idempotency check: passed")
	} else {
		fmt.Fprintf(w, "idempotency check: FAILED (%d problems shown)\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "server peak RSS %.1f MiB, from %s\n", float64(r.PeakRSSBytes)/(1<<20), r.RSSSource)
	} else if r.RSSSource != "" {
		fmt.Fprintf(w, "server peak RSS %s\n", r.RSSSource)
	}
}

// withDefaults fills in the defaults and checks the bounds.
func (cfg JournalConfig) withDefaults() (JournalConfig, error) {
	var err error
	if cfg.Server, cfg.AdminIdentity, err = checkTarget(cfg.Server, cfg.AdminIdentity, cfg.AdminPassword, "the run sets up its site, people and terminals"); err != nil {
		return cfg, err
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.Entries, DefaultJournalEntries)
	def(&cfg.People, DefaultJournalPeople)
	def(&cfg.Terminals, DefaultJournalTerminals)
	def(&cfg.Batch, latchkey.MaxJournalEntries)
	def(&cfg.Concurrency, DefaultJournalConcurrency)
	switch {
	case cfg.Entries < 1 || cfg.Entries > MaxJournalBenchEntries:
		return cfg, fmt.Errorf("bench: entries must be 1 to %d", MaxJournalBenchEntries)
	case cfg.People < 1 || cfg.People > 10000:
		return cfg, fmt.Errorf("bench: people must be 1 to 10000")
	case cfg.Terminals < 1 || cfg.Terminals > 10000:
		return cfg, fmt.Errorf("bench: terminals must be 1 to 10000")
	case cfg.Batch < 1 || cfg.Batch > latchkey.MaxJournalEntries:
		return cfg, fmt.Errorf("bench: batch must be 1 to %d (the server's limit of one upload)", latchkey.MaxJournalEntries)
	case cfg.Concurrency < 1:
		return cfg, fmt.Errorf("bench: concurrency must be at least 1")
	}
	cfg.Concurrency = min(cfg.Concurrency, cfg.Terminals)
	return cfg, nil
}

// journalTerminal is one simulated agent back from standalone mode: its
// terminal's client and its journal, cut into batches.
type journalTerminal struct {
	id      string
	c       *client.Client
	batches [][]latchkey.JournalEntry
}

// journalExpect is what the server must hold for one entry.
type journalExpect struct {
	person   int
	terminal string
}

// journalRun is one run's state.
type journalRun struct {
	cfg      JournalConfig
	people   []string // principal IDs
	logins   []string
	terms    []*journalTerminal
	expect   map[string]journalExpect // by entry ID
	problems []string
	failures int
}

// maxProblems bounds the problems kept for the report.
const maxProblems = 10

func (r *journalRun) problem(format string, args ...any) {
	r.failures++
	if len(r.problems) < maxProblems {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// RunJournal runs the journal benchmark: it sets up a site with a daily
// quota, the people and the terminals, makes cfg.Entries ended offline
// sessions spread over them, uploads each terminal's journal in batches
// (POST /v1/agent/journal) with cfg.Concurrency terminals at once, then
// uploads every batch again. It fails unless every first verdict is ok
// with the entry's own ID as the session, every re-upload answers exactly
// what the first upload did, and the people have exactly cfg.Entries
// sessions, each one of the entries, after both passes.
func RunJournal(ctx context.Context, cfg JournalConfig, progress io.Writer) (*JournalResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	hc, closeIdle := benchHTTP(cfg.Concurrency + 8)
	defer closeIdle()
	admin, logout, err := adminLogin(ctx, hc, cfg.Server, cfg.AdminIdentity, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	defer logout()
	perTerminal := (cfg.Entries + cfg.Terminals - 1) / cfg.Terminals
	res := &JournalResult{Backend: cfg.Backend, Server: cfg.Server, Entries: cfg.Entries, People: cfg.People,
		Terminals: cfg.Terminals, Batch: cfg.Batch, Concurrency: cfg.Concurrency, DailyQuotaMinutes: JournalQuotaMinutes,
		Verdicts: map[string]int{}}
	fmt.Fprintf(progress, "bench journal: %s, %d entries, %d people, %d terminals, batch %d, concurrency %d\n",
		cfg.Server, cfg.Entries, cfg.People, cfg.Terminals, cfg.Batch, cfg.Concurrency)

	t0 := time.Now()
	run := &journalRun{cfg: cfg}
	if err := run.setup(ctx, admin); err != nil {
		return nil, err
	}
	res.Setup = time.Since(t0)
	run.makeEntries(time.Now().Add(-time.Minute))
	for _, t := range run.terms {
		res.Batches += len(t.batches)
	}
	fmt.Fprintf(progress, "set up a site, %d people and %d terminals in %s; %d entries (%d a terminal) in %d batches\n",
		cfg.People, cfg.Terminals, res.Setup.Round(time.Millisecond), cfg.Entries, perTerminal, res.Batches)

	rss := watchRSS(ctx, hc, cfg.Server)
	defer func() {
		if res.RSSSource == "" {
			rss.finish(context.WithoutCancel(ctx))
		}
	}()
	res.StartedAt = time.Now().UTC()

	first, err := run.pass(ctx, hc, "upload", &res.Upload, progress)
	if err != nil {
		return nil, err
	}
	for ti, t := range run.terms {
		for bi, batch := range t.batches {
			run.checkFirst(ti, bi, batch, first[ti][bi], res.Verdicts)
		}
	}
	if res.SessionsAfterUpload, err = run.countSessions(ctx, admin, "after the upload"); err != nil {
		return nil, err
	}

	again, err := run.pass(ctx, hc, "re-upload", &res.Reupload, progress)
	if err != nil {
		return nil, err
	}
	for ti, t := range run.terms {
		for bi, batch := range t.batches {
			res.SameResults += run.checkAgain(ti, bi, batch, first[ti][bi], again[ti][bi])
		}
	}
	if res.SessionsAfterReupload, err = run.countSessions(ctx, admin, "after the re-upload"); err != nil {
		return nil, err
	}
	res.PeakRSSBytes, res.RSSSource = rss.finish(context.WithoutCancel(ctx))
	res.Problems, res.Idempotent = run.problems, run.failures == 0
	if !res.Idempotent {
		return res, fmt.Errorf("bench: journal checks failed: %d problems, the first: %s", run.failures, run.problems[0])
	}
	return res, nil
}

// setup makes the site (with a daily quota), the people with one
// identity each and the terminals.
func (r *journalRun) setup(ctx context.Context, admin *client.Client) error {
	tag := fmt.Sprintf("%x", rand.Uint32())
	site, err := admin.CreateSite(ctx, client.SiteCreate{Name: "bench journal " + tag,
		SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: client.Ptr(JournalQuotaMinutes)}})
	if err != nil {
		return err
	}
	r.people = make([]string, r.cfg.People)
	r.logins = make([]string, r.cfg.People)
	r.terms = make([]*journalTerminal, r.cfg.Terminals)
	// Adding an identity hashes its password on the server: a few at once.
	return parallel(ctx, 8, r.cfg.People+r.cfg.Terminals, func(ctx context.Context, i int) error {
		if i >= r.cfg.People {
			i -= r.cfg.People
			tm, err := admin.RegisterTerminal(ctx, fmt.Sprintf("bench journal %s %d", tag, i), site.ID)
			if err != nil {
				return err
			}
			r.terms[i] = &journalTerminal{id: tm.ID, c: admin.WithToken(tm.Token)}
			return nil
		}
		p, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: fmt.Sprintf("bench-journal-%s-%d", tag, i), Role: latchkey.RoleUser})
		if err != nil {
			return err
		}
		login := fmt.Sprintf("benchj%s-%d", tag, i)
		if _, err := admin.AddIdentity(ctx, p.ID, login, "bench-password-"+tag); err != nil {
			return err
		}
		r.people[i], r.logins[i] = p.ID, login
		return nil
	})
}

// makeEntries makes the journals: entry k is the terminal k mod T's,
// for a random person. Each terminal's sessions follow one another in
// JournalWindow before end, without overlapping, all ended and verified
// against a cached verifier.
func (r *journalRun) makeEntries(end time.Time) {
	cfg := r.cfg
	perTerminal := (cfg.Entries + cfg.Terminals - 1) / cfg.Terminals
	slot := JournalWindow / time.Duration(perTerminal)
	base := end.Add(-JournalWindow).UTC()
	r.expect = make(map[string]journalExpect, cfg.Entries)
	journals := make([][]latchkey.JournalEntry, cfg.Terminals)
	for k := range cfg.Entries {
		ti, j, p := k%cfg.Terminals, k/cfg.Terminals, rand.N(cfg.People)
		start := base.Add(time.Duration(j) * slot).Truncate(time.Microsecond)
		ended := start.Add(slot * 3 / 4).Truncate(time.Microsecond)
		e := latchkey.JournalEntry{ID: latchkey.NewID("ses"), Identity: r.logins[p], StartedAt: start, EndedAt: &ended,
			Standalone: true, Verified: true}
		journals[ti] = append(journals[ti], e)
		r.expect[e.ID] = journalExpect{person: p, terminal: r.terms[ti].id}
	}
	for ti, j := range journals {
		for len(j) > 0 {
			n := min(cfg.Batch, len(j))
			r.terms[ti].batches = append(r.terms[ti].batches, j[:n:n])
			j = j[n:]
		}
	}
}

// pass uploads every terminal's batches, Concurrency terminals at once,
// each terminal's batches in order, and returns the answers by terminal
// and batch.
func (r *journalRun) pass(ctx context.Context, hc *http.Client, name string, out *JournalPass, progress io.Writer) ([][][]latchkey.JournalResult, error) {
	results := make([][][]latchkey.JournalResult, len(r.terms))
	for i, t := range r.terms {
		results[i] = make([][]latchkey.JournalResult, len(t.batches))
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
		done atomic.Int64
	)
	cpu0, cpuErr := serverCPU(ctx, hc, r.cfg.Server)
	m0, start := sampleCPU(), time.Now()
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				el := time.Since(start)
				fmt.Fprintf(progress, "  %3.0fs: %s %d entries (%.0f/s)\n", el.Seconds(), name, done.Load(), float64(done.Load())/el.Seconds())
			}
		}
	}()
	err := parallel(ctx, r.cfg.Concurrency, len(r.terms), func(ctx context.Context, ti int) error {
		t := r.terms[ti]
		for bi, batch := range t.batches {
			t0 := time.Now()
			got, err := t.c.UploadJournal(ctx, batch)
			lat := time.Since(t0)
			if err != nil {
				return fmt.Errorf("bench: %s of batch %d of terminal %s (%d entries): %w", name, bi, t.id, len(batch), err)
			}
			results[ti][bi] = got
			mu.Lock()
			lats = append(lats, lat)
			mu.Unlock()
			done.Add(int64(len(batch)))
		}
		return nil
	})
	el := time.Since(start)
	out.Machine = sampleCPU().since(m0)
	close(stop)
	<-ticked
	if err != nil {
		return nil, err
	}
	if cpu1, err := serverCPU(ctx, hc, r.cfg.Server); err == nil && cpuErr == nil {
		out.ServerCPUSeconds = cpu1 - cpu0
	}
	out.Duration, out.Entries = el, int(done.Load())
	out.EntriesPerSec = float64(out.Entries) / el.Seconds()
	out.Batches = Summarize("batch", lats, 0, el)
	fmt.Fprintf(progress, "%s: %d entries in %d batches, %s (%.0f entries/s)\n", name, out.Entries, len(lats),
		el.Round(time.Millisecond), out.EntriesPerSec)
	return results, nil
}

// checkFirst checks the first upload's answers to a batch: one for each
// entry, in order, each ok with the entry's own ID as its session (the
// agent's ID stays the session's).
func (r *journalRun) checkFirst(ti, bi int, batch []latchkey.JournalEntry, got []latchkey.JournalResult, verdicts map[string]int) {
	if len(got) != len(batch) {
		r.problem("upload: batch %d of terminal %d: %d answers for %d entries", bi, ti, len(got), len(batch))
		return
	}
	for i, e := range batch {
		g := got[i]
		verdicts[string(g.Verdict)]++
		if g.ID != e.ID || g.Verdict != latchkey.VerdictOK || g.Session != e.ID {
			r.problem("upload: entry %s: answer %+v, want verdict ok and session %s", e.ID, g, e.ID)
		}
	}
}

// checkAgain compares the re-upload's answers to a batch with the first
// ones and returns how many are identical.
func (r *journalRun) checkAgain(ti, bi int, batch []latchkey.JournalEntry, first, again []latchkey.JournalResult) int {
	if len(again) != len(batch) || len(first) != len(batch) {
		r.problem("re-upload: batch %d of terminal %d: %d answers for %d entries", bi, ti, len(again), len(batch))
		return 0
	}
	same := 0
	for i := range batch {
		if again[i] == first[i] {
			same++
		} else {
			r.problem("re-upload: entry %s: answer %+v, the first upload answered %+v", batch[i].ID, again[i], first[i])
		}
	}
	return same
}

// countSessions lists every session of the run's people and checks that
// they are the entries, each exactly once, ended and standalone, on the
// entry's terminal and of the entry's person. It returns their number.
func (r *journalRun) countSessions(ctx context.Context, admin *client.Client, when string) (int, error) {
	var (
		mu    sync.Mutex
		total int
		seen  = make(map[string]bool, len(r.expect))
	)
	err := parallel(ctx, r.cfg.Concurrency, len(r.people), func(ctx context.Context, p int) error {
		var after string
		for {
			page, next, err := admin.ListPrincipalSessions(ctx, r.people[p], "", latchkey.Page{Limit: latchkey.MaxPageLimit, After: after})
			if err != nil {
				return fmt.Errorf("bench: sessions of %s: %w", r.people[p], err)
			}
			mu.Lock()
			for _, s := range page {
				total++
				exp, ok := r.expect[s.ID]
				switch {
				case !ok:
					r.problem("%s: session %s of person %d is none of the entries", when, s.ID, p)
				case seen[s.ID]:
					r.problem("%s: session %s listed twice", when, s.ID)
				case exp.person != p || exp.terminal != s.TerminalID || !s.Standalone || s.Status != latchkey.SessionEnded:
					r.problem("%s: session %s: person %d, terminal %s, standalone %v, status %s; want person %d, terminal %s, standalone, ended",
						when, s.ID, p, s.TerminalID, s.Standalone, s.Status, exp.person, exp.terminal)
				}
				seen[s.ID] = true
			}
			mu.Unlock()
			if next == "" || len(page) == 0 {
				return nil
			}
			after = next
		}
	})
	if err != nil {
		return 0, err
	}
	if total != r.cfg.Entries || len(seen) != r.cfg.Entries {
		r.problem("%s: the people have %d sessions (%d distinct), want %d", when, total, len(seen), r.cfg.Entries)
	}
	return total, nil
}
