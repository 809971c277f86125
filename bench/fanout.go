package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"latchkey"
	"latchkey/client"
)

// Bounds and defaults of FanoutConfig.
const (
	DefaultFanoutStreams    = 1000
	MaxFanoutStreams        = 10_000
	DefaultStreamsPerCaller = 4
	DefaultFanoutEvents     = 2000
	MaxFanoutEvents         = 100_000
	// MaxFanoutDeliveries bounds events × streams: every delivery is kept
	// (16 bytes) until the run is tallied.
	MaxFanoutDeliveries  = 20_000_000
	DefaultFanoutRate    = 100 // events a second, all writers together
	MaxFanoutRate        = 10_000
	DefaultFanoutWriters = 4
	MaxFanoutWriters     = 64
	// DefaultFanoutDrain is how long the streams get, after the last
	// write, to deliver the last event.
	DefaultFanoutDrain = 10 * time.Second
	// MaxFanoutWrite bounds the writing (events ÷ rate).
	MaxFanoutWrite = time.Hour
)

// The goal of issue 15 the fan-out benchmark judges.
const (
	FanoutGoalP99ms  = 50
	FanoutGoalRSSMiB = 512
)

// FanoutConfig configures RunFanout. Zero values take the defaults.
type FanoutConfig struct {
	Server        string // base URL of a running latchkey server
	AdminIdentity string // default "admin"
	AdminPassword string // required
	// Streams is how many event streams (GET /v1/events, topics locks
	// and sessions) are open during the run (default 1000).
	Streams int
	// StreamsPerCaller is how many of them each watching caller opens
	// with its token (default 4): Streams ÷ StreamsPerCaller delegates,
	// each logged on once. The server caps the streams of one token
	// (serve --max-streams-per-token, default 8); a caller over it is
	// refused. Delegates, because lock events are for staff and each
	// event is to reach every stream.
	StreamsPerCaller int
	// Events is how many lock and session calls the writers make (default
	// 2000), each committing one event; a cycle under way when they are
	// made is finished, so a few more may be written.
	Events int
	// Rate is how many of those calls are started a second, all writers
	// together (default 100): call i is due at i ÷ Rate after the start.
	Rate float64
	// Writers is how many clients write (default 4): half of them (rounded
	// down) delegates cycling lock acquire → release, each cycle on a lock
	// of its own, the others terminals cycling a person's session
	// login → lock → unlock → logout.
	Writers int
	// Drain is how long the streams get after the last write to deliver
	// every event (default 10s); what has not arrived then is missing.
	Drain time.Duration
	// ServerPID, when set, is the server's process on this machine: its
	// peak RSS is read from /proc/PID/status (VmHWM) instead of the
	// server's /metrics.
	ServerPID int
	// ProfileURL and ProfileDir, when set, take a CPU profile of the
	// server (serve --pprof-listen) over the writing into
	// ProfileDir/round-1.pprof.
	ProfileURL string
	ProfileDir string
	// Prefix starts the names of the people, terminals, site and locks the
	// run creates (default "bench-" and random hex).
	Prefix string
	// Backend labels the result (e.g. "sqlite", "postgres"); optional.
	Backend string
}

// FanoutResult is what RunFanout measured. It is printed by WriteText or
// encoded as JSON.
type FanoutResult struct {
	Backend          string    `json:"backend,omitempty"`
	Server           string    `json:"server"`
	Prefix           string    `json:"prefix"`
	StartedAt        time.Time `json:"started_at"`
	Streams          int       `json:"streams"`
	Callers          int       `json:"callers"`
	StreamsPerCaller int       `json:"streams_per_caller"`
	Writers          int       `json:"writers"`
	Rate             float64   `json:"rate"`
	// StreamsOpen is how long opening every stream took.
	StreamsOpen time.Duration `json:"streams_open_ns"`
	// Duration is how long the writing took, from the first call to the
	// last answer.
	Duration time.Duration `json:"duration_ns"`
	// WriterCalls is how many calls the writers had answered; Events how
	// many lock.* and session.* records the audit trail holds after every
	// stream was open (each due on every stream).
	WriterCalls int `json:"writer_calls"`
	Events      int `json:"events"`
	// Due is Events × Streams; Delivered how many of those arrived within
	// the drain; Missing the rest. Duplicates are events that arrived on a
	// stream more than once, Unexpected events on a stream that are not in
	// the audit trail's count.
	Due        int `json:"due"`
	Delivered  int `json:"delivered"`
	Missing    int `json:"missing"`
	Duplicates int `json:"duplicates"`
	Unexpected int `json:"unexpected"`
	// Unanswered are events no writer's answer names (their delay from
	// the answer is not measured); Unrecorded are writer answers with no
	// event.
	Unanswered int `json:"unanswered"`
	Unrecorded int `json:"unrecorded"`
	// Early is how many deliveries arrived before the writer had its
	// answer (counted as 0 in FromAnswer).
	Early int `json:"early"`
	// FromAnswer is each delivery's delay from the writer's answer;
	// FromRecord from the record's time (the server's clock when the
	// write began, so it includes the commit and its fsync).
	FromAnswer OpStats `json:"from_answer"`
	FromRecord OpStats `json:"from_record"`
	// StreamErrors is how many streams broke before the end (what they
	// missed is counted as missing), the first error StreamError.
	StreamErrors int    `json:"stream_errors"`
	StreamError  string `json:"stream_error,omitempty"`
	// ServerCPUSeconds is the server's CPU time during the writing, or 0
	// if it could not be read; Machine how this machine's CPU was spent.
	ServerCPUSeconds float64    `json:"server_cpu_seconds"`
	Machine          MachineCPU `json:"machine"`
	Profile          string     `json:"profile,omitempty"`
	// IdleRSSBytes is the server's RSS with every stream open, before the
	// writing (0 if unknown); PeakRSSBytes its peak, RSSSource where that
	// was read or why it is unknown.
	IdleRSSBytes int64  `json:"idle_rss_bytes"`
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	RSSSource    string `json:"rss_source"`
	// GoalMet: every event on every stream once, p99 from the answer under
	// FanoutGoalP99ms and the peak RSS known and under FanoutGoalRSSMiB.
	GoalMet bool `json:"goal_met"`
}

// withDefaults checks cfg and fills in its defaults.
func (cfg FanoutConfig) withDefaults() (FanoutConfig, error) {
	var err error
	if cfg.Server, cfg.AdminIdentity, err = checkTarget(cfg.Server, cfg.AdminIdentity, cfg.AdminPassword,
		"the run creates its people and terminals"); err != nil {
		return cfg, err
	}
	switch {
	case cfg.Streams == 0:
		cfg.Streams = DefaultFanoutStreams
	case cfg.Streams < 0 || cfg.Streams > MaxFanoutStreams:
		return cfg, fmt.Errorf("bench: streams must be 1 to %d", MaxFanoutStreams)
	}
	switch {
	case cfg.StreamsPerCaller == 0:
		cfg.StreamsPerCaller = min(DefaultStreamsPerCaller, cfg.Streams)
	case cfg.StreamsPerCaller < 0 || cfg.StreamsPerCaller > cfg.Streams:
		return cfg, fmt.Errorf("bench: streams per caller must be 1 to the number of streams (%d)", cfg.Streams)
	}
	switch {
	case cfg.Events == 0:
		cfg.Events = DefaultFanoutEvents
	case cfg.Events < 0 || cfg.Events > MaxFanoutEvents:
		return cfg, fmt.Errorf("bench: events must be 1 to %d", MaxFanoutEvents)
	}
	if cfg.Events*cfg.Streams > MaxFanoutDeliveries {
		return cfg, fmt.Errorf("bench: events × streams must be at most %d", MaxFanoutDeliveries)
	}
	switch {
	case cfg.Rate == 0:
		cfg.Rate = DefaultFanoutRate
	case !(cfg.Rate > 0 && cfg.Rate <= MaxFanoutRate):
		return cfg, fmt.Errorf("bench: rate must be more than 0 and at most %d events a second", MaxFanoutRate)
	}
	if time.Duration(float64(cfg.Events)/cfg.Rate*float64(time.Second)) > MaxFanoutWrite {
		return cfg, fmt.Errorf("bench: events ÷ rate must be at most %s", MaxFanoutWrite)
	}
	switch {
	case cfg.Writers == 0:
		cfg.Writers = DefaultFanoutWriters
	case cfg.Writers < 2 || cfg.Writers > MaxFanoutWriters:
		return cfg, fmt.Errorf("bench: writers must be 2 to %d (half lock writers, half session writers)", MaxFanoutWriters)
	}
	switch {
	case cfg.Drain == 0:
		cfg.Drain = DefaultFanoutDrain
	case cfg.Drain < 0 || cfg.Drain > 5*time.Minute:
		return cfg, errors.New("bench: the drain must last more than 0 and at most 5 minutes")
	}
	if cfg.ServerPID < 0 {
		return cfg, errors.New("bench: the server's pid must be positive")
	}
	if cfg.ProfileURL, err = checkProfile(cfg.ProfileURL, cfg.ProfileDir); err != nil {
		return cfg, err
	}
	if cfg.Prefix, err = lockPrefix(cfg.Prefix); err != nil { // the prefix starts lock names too
		return cfg, err
	}
	return cfg, nil
}

// RunFanout measures the event stream's fan-out: it opens cfg.Streams
// event streams (topics locks and sessions) as delegates, cfg.StreamsPerCaller
// on each one's token, then has cfg.Writers writers make cfg.Events lock and
// session calls at cfg.Rate a second, and times each event's arrival on
// every stream from the answer to the call that made it. The events due
// are read back from the audit trail (GET /v1/audit/export) after the
// writing: every one of them must arrive on every stream exactly once.
// It prints progress to progress (nil for none).
//
// A failed call aborts the run with an error naming it; when ctx ends
// during the writing, RunFanout stops and returns ctx's error. A delivery
// missing, repeated or unexpected is an error returned with the result.
func RunFanout(ctx context.Context, cfg FanoutConfig, progress io.Writer) (*FanoutResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	// A connection for each stream, each writer and the admin.
	hc, closeIdle := benchHTTP(cfg.Streams + cfg.Writers + 4)
	defer closeIdle()
	callers := (cfg.Streams + cfg.StreamsPerCaller - 1) / cfg.StreamsPerCaller
	res := &FanoutResult{Backend: cfg.Backend, Server: cfg.Server, Prefix: cfg.Prefix, Streams: cfg.Streams,
		Callers: callers, StreamsPerCaller: cfg.StreamsPerCaller, Writers: cfg.Writers, Rate: cfg.Rate}
	fmt.Fprintf(progress, "bench fanout: %s, %d streams (%d callers), %d events at %.0f/s by %d writers, prefix %s\n",
		cfg.Server, cfg.Streams, callers, cfg.Events, cfg.Rate, cfg.Writers, cfg.Prefix)

	admin, logout, err := adminLogin(ctx, hc, cfg.Server, cfg.AdminIdentity, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	defer logout()
	rctx, stopRSS := context.WithCancel(ctx) // ends the sampling on an early return
	defer stopRSS()
	rss := watchRSS(rctx, hc, cfg.Server)

	t0 := time.Now()
	writers, err := setupFanoutWriters(ctx, admin, cfg)
	defer func() { closeWriters(context.WithoutCancel(ctx), writers) }()
	if err != nil {
		return nil, err
	}
	watchers := make([]*client.Client, callers)
	defer func() { logoutAll(context.WithoutCancel(ctx), watchers) }()
	err = parallel(ctx, 8, callers, func(ctx context.Context, i int) error {
		c, _, err := newDelegate(ctx, admin, fmt.Sprintf("%s-watcher-%d", cfg.Prefix, i))
		watchers[i] = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bench: set up: %w", err)
	}
	fmt.Fprintf(progress, "set up %d writers and %d watching delegates in %s\n", cfg.Writers, callers,
		time.Since(t0).Round(time.Millisecond))

	// The streams live until every event is tallied.
	sctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	base := time.Now() // every time of the run is kept as an offset from it
	var delivered atomic.Int64
	streams := make([]*fanoutStream, cfg.Streams)
	t0 = time.Now()
	err = parallel(sctx, 32, cfg.Streams, func(_ context.Context, i int) error {
		s, err := openFanoutStream(sctx, hc, watchers[i/cfg.StreamsPerCaller], base, &delivered)
		if err != nil {
			return fmt.Errorf("bench: stream %d (caller %d): %w", i, i/cfg.StreamsPerCaller, err)
		}
		streams[i] = s
		return nil
	})
	defer func() { stopStreams(); waitStreams(streams) }()
	if err != nil {
		return nil, err
	}
	res.StreamsOpen = time.Since(t0)
	fmt.Fprintf(progress, "opened %d streams in %s\n", cfg.Streams, res.StreamsOpen.Round(time.Millisecond))
	res.IdleRSSBytes = currentRSS(ctx, hc, cfg.Server, cfg.ServerPID)

	cpu0, cpuErr := serverCPU(ctx, hc, cfg.Server)
	window := time.Duration(float64(cfg.Events) / cfg.Rate * float64(time.Second))
	prof := startProfile(ctx, SessionsConfig{ProfileURL: cfg.ProfileURL, ProfileDir: cfg.ProfileDir}, window, 1)
	res.StartedAt = time.Now().UTC()
	start, m0 := time.Now(), sampleCPU()
	writeErr := runFanoutWriters(ctx, writers, cfg, base, &delivered, progress)
	res.Duration, res.Machine = time.Since(start), sampleCPU().since(m0)
	if cpu1, err := serverCPU(ctx, hc, cfg.Server); err == nil && cpuErr == nil {
		res.ServerCPUSeconds = cpu1 - cpu0
	}
	if res.Profile, err = prof.wait(); err != nil {
		fmt.Fprintf(progress, "no server profile: %v\n", err)
	}
	if writeErr != nil {
		return nil, writeErr
	}

	// What is due: every lock and session event after the last stream's
	// start, as the audit trail has it.
	after := int64(0)
	for _, s := range streams {
		after = max(after, s.after)
	}
	due, err := auditedEvents(ctx, admin, after, base)
	if err != nil {
		return nil, err
	}
	drainStreams(ctx, streams, due, cfg.Drain, progress)
	stopStreams()
	waitStreams(streams)
	res.PeakRSSBytes, res.RSSSource = peakRSS(context.WithoutCancel(ctx), rss, cfg.ServerPID)

	answers := map[string]time.Duration{}
	for _, w := range writers {
		res.WriterCalls += w.calls
		for k, v := range w.answers {
			answers[k] = v
		}
	}
	logs := make([]streamLog, len(streams))
	for i, s := range streams {
		logs[i] = streamLog{after: s.after, got: s.got}
		if s.err != nil && !errors.Is(s.err, context.Canceled) {
			if res.StreamErrors++; res.StreamError == "" {
				res.StreamError = s.err.Error()
			}
		}
	}
	t := tallyFanout(matchAnswers(due, answers), logs)
	res.Events, res.Due, res.Delivered, res.Missing = len(due), t.due, t.delivered, t.due-t.delivered
	res.Duplicates, res.Unexpected, res.Early, res.Unanswered = t.duplicates, t.unexpected, t.early, t.unanswered
	res.Unrecorded = res.WriterCalls - (len(due) - t.unanswered)
	res.FromAnswer = Summarize("from_answer", t.fromAnswer, 0, res.Duration)
	res.FromRecord = Summarize("from_record", t.fromRecord, 0, res.Duration)
	res.GoalMet = res.Missing == 0 && res.Duplicates == 0 && res.Unexpected == 0 && res.Events > 0 &&
		res.FromAnswer.P99ms < FanoutGoalP99ms && res.PeakRSSBytes > 0 && res.PeakRSSBytes < FanoutGoalRSSMiB<<20
	fmt.Fprintf(progress, "done: %d events, %d of %d deliveries\n", res.Events, res.Delivered, res.Due)
	if res.Missing > 0 || res.Duplicates > 0 || res.Unexpected > 0 {
		return res, fmt.Errorf("bench: %d of %d deliveries missing, %d duplicates, %d unexpected: every event is to arrive on every stream once",
			res.Missing, res.Due, res.Duplicates, res.Unexpected)
	}
	return res, nil
}

// fanoutStream is one open event stream and what arrived on it. It reads
// the stream's frames itself and takes only their id, without decoding
// their JSON as client.EventStream does: on one machine, decoding every
// delivery in the benchmark took as much CPU as the server's fan-out
// (half a core for 100,000 deliveries a second), and the goal is about the
// server. It does not reconnect either: a stream that breaks misses what
// follows, counted as missing, where the client would resume.
type fanoutStream struct {
	body  io.ReadCloser
	rd    *bufio.Reader
	after int64 // the stream's start: the server's resume point when it connected
	base  time.Time
	count *atomic.Int64 // deliveries of every stream
	last  atomic.Int64  // the seq of the last event that arrived
	done  chan struct{}
	// Written by follow until done is closed.
	got []arrival
	err error
}

// arrival is an event on a stream: its seq, and when it arrived (from the
// run's base time).
type arrival struct {
	seq int64
	at  time.Duration
}

// openFanoutStream opens GET /v1/events (topics locks and sessions, from
// now) with c's token, reads the server's start frame and starts
// following the stream.
func openFanoutStream(ctx context.Context, hc *http.Client, c *client.Client, base time.Time, count *atomic.Int64) (*fanoutStream, error) {
	const path = "/v1/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL()+path+"?topics=locks,sessions", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+c.Token())
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		err := fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(body))
		if resp.StatusCode == http.StatusTooManyRequests {
			err = fmt.Errorf("%w (the server caps the streams of a token and in all: serve --max-streams-per-token, --max-streams)", err)
		}
		return nil, err
	}
	s := &fanoutStream{body: resp.Body, rd: bufio.NewReader(resp.Body), base: base, count: count, done: make(chan struct{})}
	if s.after, err = s.next(); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: the start: %w", path, err)
	}
	s.last.Store(s.after)
	go s.follow()
	return s, nil
}

// next reads up to the end of the next frame (a blank line) and returns
// its id; comments (heartbeats) are skipped.
func (s *fanoutStream) next() (int64, error) {
	id := int64(-1)
	for {
		line, err := s.rd.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a long data line: skip the rest of it
			for err == bufio.ErrBufferFull {
				_, err = s.rd.ReadSlice('\n')
			}
			if err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if id >= 0 {
				return id, nil
			}
			continue // a heartbeat's end
		}
		if v, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
			if id, err = strconv.ParseInt(string(v), 10, 64); err != nil || id < 0 {
				return 0, fmt.Errorf("bad event id %q", v)
			}
		}
	}
}

// follow reads the stream until it breaks or its context ends.
func (s *fanoutStream) follow() {
	defer close(s.done)
	defer s.body.Close()
	for {
		seq, err := s.next()
		if err != nil {
			s.err = err
			return
		}
		s.got = append(s.got, arrival{seq: seq, at: time.Since(s.base)})
		s.last.Store(seq)
		s.count.Add(1)
	}
}

// waitStreams waits for the streams' readers to end (their context
// ended).
func waitStreams(streams []*fanoutStream) {
	for _, s := range streams {
		if s != nil {
			<-s.done
		}
	}
}

// drainStreams waits until every stream has seen the last event due, a
// stream ended, or d passed.
func drainStreams(ctx context.Context, streams []*fanoutStream, due []dueEvent, d time.Duration, progress io.Writer) {
	if len(due) == 0 {
		return
	}
	last := due[len(due)-1].seq
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		behind := 0
		for _, s := range streams {
			select {
			case <-s.done: // ended: what it lacks is missing
				continue
			default:
			}
			if s.last.Load() < last {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(progress, "drain: streams still behind after %s\n", d)
}

// dueEvent is an event every stream is to deliver: its seq, the writer's
// answer that made it (answered false when none did), and the record's
// time, both from the run's base time.
type dueEvent struct {
	seq      int64
	key      string // action and target
	answer   time.Duration
	answered bool
	record   time.Duration
}

func eventKey(action latchkey.Action, target string) string { return string(action) + "\x00" + target }

// auditedEvents reads the lock and session records after seq after from
// the audit trail, oldest first.
func auditedEvents(ctx context.Context, admin *client.Client, after int64, base time.Time) ([]dueEvent, error) {
	var out []dueEvent
	err := admin.ExportAudit(ctx, after, func(l latchkey.AuditLine) error {
		switch latchkey.EventTopic(l.Action) {
		case latchkey.TopicLocks, latchkey.TopicSessions:
			out = append(out, dueEvent{seq: l.Seq, key: eventKey(l.Action, l.Target),
				record: time.UnixMicro(l.AtMicros).Sub(base)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bench: read the audit trail: %w", err)
	}
	return out, nil
}

// matchAnswers sets the answer of each due event a writer's answer names
// (by action and target, unique in a run).
func matchAnswers(due []dueEvent, answers map[string]time.Duration) []dueEvent {
	for i := range due {
		due[i].answer, due[i].answered = answers[due[i].key]
	}
	return due
}

// streamLog is what arrived on one stream, which started after seq after.
type streamLog struct {
	after int64
	got   []arrival
}

// fanoutTally counts the deliveries of the due events (in seq order) to
// the streams and collects their delays.
type fanoutTally struct {
	due, delivered, duplicates, unexpected, early, unanswered int
	fromAnswer, fromRecord                                    []time.Duration
}

// tallyFanout checks what arrived on each stream against the events due.
// Every due event is due on every stream once. An arrival of a seq not
// due is unexpected, unless it is at or before the last start of a
// stream (the due events begin after it); a second arrival of one is a
// duplicate. A delivery's delay is counted from the writer's answer (0,
// and early, when it came first) and from the record's time.
func tallyFanout(due []dueEvent, logs []streamLog) fanoutTally {
	var t fanoutTally
	index := make(map[int64]int, len(due))
	for i, e := range due {
		index[e.seq] = i
		if !e.answered {
			t.unanswered++
		}
	}
	var after int64
	for _, l := range logs {
		after = max(after, l.after)
	}
	t.due = len(due) * len(logs)
	seen := make([]bool, len(due))
	for _, l := range logs {
		clear(seen)
		for _, a := range l.got {
			i, ok := index[a.seq]
			switch {
			case !ok:
				if a.seq > after {
					t.unexpected++
				}
				continue
			case seen[i]:
				t.duplicates++
				continue
			}
			seen[i] = true
			t.delivered++
			e := due[i]
			t.fromRecord = append(t.fromRecord, max(a.at-e.record, 0))
			if !e.answered {
				continue
			}
			d := a.at - e.answer
			if d < 0 {
				t.early++
				d = 0
			}
			t.fromAnswer = append(t.fromAnswer, d)
		}
	}
	return t
}

// currentRSS is the server's resident set size now: from /proc/PID/status
// (VmRSS) with a pid, else RSSMetric of its /metrics; 0 if unknown.
func currentRSS(ctx context.Context, hc *http.Client, server string, pid int) int64 {
	if pid > 0 {
		v, err := procStatus(pid, "VmRSS")
		if err != nil {
			return 0
		}
		return v
	}
	body, err := scrapeMetrics(ctx, hc, server)
	if err != nil {
		return 0
	}
	v, _, _ := MetricValue(bytes.NewReader(body), RSSMetric)
	return int64(v)
}

// peakRSS ends w and returns the server's peak RSS and where it was read:
// with a pid, VmHWM of /proc/PID/status; else what w found.
func peakRSS(ctx context.Context, w *rssWatch, pid int) (int64, string) {
	v, source := w.finish(ctx)
	if pid <= 0 {
		return v, source
	}
	hwm, err := procStatus(pid, "VmHWM")
	if err != nil {
		return v, source + " (" + err.Error() + ")"
	}
	return hwm, fmt.Sprintf("/proc/%d/status VmHWM, at the end of the run", pid)
}
