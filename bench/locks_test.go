package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/bench"
	lkhttp "latchkey/http"
	"latchkey/passhash"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

func quickLocks(server, mode string) bench.LocksConfig {
	return bench.LocksConfig{Server: server, AdminPassword: adminPassword, Clients: 4, Mode: mode,
		Duration: 300 * time.Millisecond, Poll: 2 * time.Millisecond, Backend: "sqlite"}
}

func lockOps(r *bench.LocksResult) map[string]bench.OpStats {
	m := map[string]bench.OpStats{}
	for _, o := range r.Ops {
		m[o.Op] = o
	}
	return m
}

func TestRunLocksUncontended(t *testing.T) {
	t.Parallel()
	url := serve(t, nil)
	var progress bytes.Buffer
	r, err := bench.RunLocks(context.Background(), quickLocks(url, bench.LockUncontended), &progress)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	ops := lockOps(r)
	if len(r.Ops) != 2 || r.Locks != 4 || r.Handover != "" {
		t.Fatalf("ops %+v, %d locks, hand-over %q: want acquire and release on a lock per client", r.Ops, r.Locks, r.Handover)
	}
	if r.Cycles < r.Clients || ops["acquire"].Count != r.Cycles || ops["release"].Count != r.Cycles || r.Polls != 0 {
		t.Fatalf("%d cycles, ops %+v, %d polls: want one acquire and one release a cycle", r.Cycles, r.Ops, r.Polls)
	}
	for _, o := range r.Ops {
		if o.OpsPerSec <= 0 || o.P50ms <= 0 || o.P50ms > o.P99ms || o.P99ms > o.MaxMs {
			t.Errorf("%s: %+v: want positive rates and p50 <= p99 <= max", o.Op, o)
		}
	}
	if want := float64(2*r.Cycles) / r.Duration.Seconds(); !near(r.TotalOpsPerSec, want) || !near(r.CyclesPerSec, want/2) {
		t.Errorf("calls/s %v, cycles/s %v: want %v and %v", r.TotalOpsPerSec, r.CyclesPerSec, want, want/2)
	}
	if r.PeakRSSBytes <= 0 || !strings.HasPrefix(r.RSSSource, bench.PeakRSSMetric) {
		t.Errorf("peak RSS %d from %q: want the server's %s", r.PeakRSSBytes, r.RSSSource, bench.PeakRSSMetric)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"mode uncontended", "4 clients on 4 locks", "backend sqlite", "release", "p99 ms", "peak RSS"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.LocksResult
	if err := json.Unmarshal(b, &back); err != nil || back.Cycles != r.Cycles || len(back.Ops) != 2 || back.Duration != r.Duration {
		t.Fatalf("JSON round trip: %v\n%s", err, b)
	}
	// A second run against the same server uses its own people and locks.
	if _, err := bench.RunLocks(context.Background(), quickLocks(url, bench.LockUncontended), nil); err != nil {
		t.Fatalf("second run: %v", err)
	}
}

func TestRunLocksContended(t *testing.T) {
	t.Parallel()
	for _, handover := range []string{bench.HandoverPoll, bench.HandoverEvents} {
		t.Run(handover, func(t *testing.T) {
			t.Parallel()
			cfg := quickLocks(serve(t, nil), bench.LockContended)
			cfg.Locks, cfg.Handover = 1, handover
			cfg.Warmup = 100 * time.Millisecond
			r, err := bench.RunLocks(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			ops := lockOps(r)
			if len(r.Ops) != 5 || r.Locks != 1 || r.Handover != handover {
				t.Fatalf("ops %+v, %d locks, hand-over %q", r.Ops, r.Locks, r.Handover)
			}
			if r.Cycles < r.Clients || ops["release"].Count != r.Cycles || ops["wait"].Count != r.Cycles {
				t.Fatalf("%d cycles, ops %+v: want a release and a wait a cycle", r.Cycles, r.Ops)
			}
			if r.Polls == 0 {
				t.Fatalf("no acquire answered read_only: want four clients on one lock to queue")
			}
			// Every read_only answer is followed by another acquire when
			// polling; with events, only when the grant did not come.
			want := r.Cycles + r.Polls
			if handover == bench.HandoverEvents {
				want = r.Cycles + r.FallbackPolls
				if r.PollInterval != 0 || r.FallbackPolls > r.Polls/2 {
					t.Errorf("events: poll interval %s, %d of %d waits fell back to asking", r.PollInterval, r.FallbackPolls, r.Polls)
				}
			} else if r.PollInterval != cfg.Poll || r.FallbackPolls != 0 {
				t.Errorf("poll: interval %s, %d fallbacks", r.PollInterval, r.FallbackPolls)
			}
			if ops["acquire"].Count != want {
				t.Fatalf("%d acquire calls, %d cycles, %d polls, %d fallbacks", ops["acquire"].Count, r.Cycles, r.Polls, r.FallbackPolls)
			}
			// Nearly every grant on a shared lock is a hand-over; a few at
			// the start of the run and after a free moment are not.
			h, c := ops["handover"], ops["release_to_grant"]
			if h.Count == 0 || h.Count > r.Cycles || h.P50ms > h.P99ms || r.HandoverEarly > h.Count {
				t.Fatalf("handover %+v (%d early) for %d cycles", h, r.HandoverEarly, r.Cycles)
			}
			// Counted from the release call instead of its answer, the
			// same hand-overs take longer.
			if c.Count != h.Count || c.P50ms < h.P50ms || c.MaxMs < h.MaxMs {
				t.Fatalf("release_to_grant %+v against handover %+v", c, h)
			}
			var text bytes.Buffer
			r.WriteText(&text)
			for _, want := range []string{"mode contended", "4 clients on 1 locks", "hand-over by", "handover", "wait"} {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text lacks %q:\n%s", want, text.String())
				}
			}
		})
	}
}

func TestLocksConfigRefused(t *testing.T) {
	t.Parallel()
	url := serve(t, nil)
	for _, c := range []struct {
		name string
		edit func(*bench.LocksConfig)
		want string
	}{
		{"no server", func(c *bench.LocksConfig) { c.Server = "" }, "server"},
		{"no admin password", func(c *bench.LocksConfig) { c.AdminPassword = "" }, "admin password"},
		{"wrong admin password", func(c *bench.LocksConfig) { c.AdminPassword = "nope" }, latchkey.EINVALIDCREDENTIALS},
		{"negative clients", func(c *bench.LocksConfig) { c.Clients = -1 }, "clients"},
		{"unknown mode", func(c *bench.LocksConfig) { c.Mode = "soak" }, "mode"},
		{"more locks than clients", func(c *bench.LocksConfig) { c.Mode = bench.LockContended; c.Locks = 5 }, "locks"},
		{"poll too fast", func(c *bench.LocksConfig) { c.Poll = time.Microsecond }, "poll"},
		{"unknown hand-over", func(c *bench.LocksConfig) { c.Handover = "carrier pigeon" }, "hand-over"},
		{"profile without a directory", func(c *bench.LocksConfig) { c.ProfileURL = "http://127.0.0.1:1" }, "pprof"},
		{"slash in prefix", func(c *bench.LocksConfig) { c.Prefix = "a//b" }, "prefix"},
		{"a bad second server", func(c *bench.LocksConfig) { c.Server += ",127.0.0.1:1" }, "server"},
		{"more servers than clients", func(c *bench.LocksConfig) { c.Server = strings.Repeat(c.Server+",", 4) + c.Server }, "servers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := quickLocks(url, bench.LockUncontended)
			c.edit(&cfg)
			r, err := bench.RunLocks(context.Background(), cfg, nil)
			if err == nil || r != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("RunLocks: %v, %v; want an error about %s", r, err, c.want)
			}
		})
	}
}

// serveNodes starts n servers (httptest) on one fresh SQLite store, as
// the nodes of a cluster, and returns their URLs with each one's count of
// lock calls (acquire and release) and of principals created.
func serveNodes(t *testing.T, n int) (urls []string, lockCalls, creates []*atomic.Int64) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	store := sqlstoretest.Open(t, sqlstoretest.SQLite().URL(t), sqlstore.Options{Password: passhash.Test, Logger: quiet})
	if _, _, err := store.Bootstrap(context.Background(), adminPassword); err != nil {
		t.Fatal(err)
	}
	h := lkhttp.NewServer(store, lkhttp.Options{Logger: quiet, MetricsPublic: true}).Handler()
	for range n {
		locks, made := new(atomic.Int64), new(atomic.Int64)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/locks/"):
				locks.Add(1)
			case r.Method == http.MethodPost && r.URL.Path == "/v1/principals":
				made.Add(1)
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		urls, lockCalls, creates = append(urls, srv.URL), append(lockCalls, locks), append(creates, made)
	}
	return urls, lockCalls, creates
}

// With several servers, client i talks to server i mod n: each node
// carries the lock calls of its clients, and the admin sets up the run at
// the first.
func TestRunLocksNodes(t *testing.T) {
	t.Parallel()
	urls, lockCalls, creates := serveNodes(t, 2)
	cfg := quickLocks(urls[0]+", "+urls[1]+"/", bench.LockUncontended)
	cfg.Clients = 5
	r, err := bench.RunLocks(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Server != urls[0]+","+urls[1] || len(r.Nodes) != 2 {
		t.Fatalf("server %q, nodes %+v: want both servers", r.Server, r.Nodes)
	}
	if creates[0].Load() != 5 || creates[1].Load() != 0 {
		t.Errorf("principals created at the nodes: %d, %d; want all 5 at the first", creates[0].Load(), creates[1].Load())
	}
	var cycles int
	var cpu float64
	for i, n := range r.Nodes {
		if want := []int{3, 2}[i]; n.Server != urls[i] || n.Clients != want || n.Cycles < want {
			t.Errorf("node %d: %+v: want %s with %d clients and a cycle each at least", i, n, urls[i], want)
		}
		// Without a warm-up, every lock call the node had is measured.
		if got := lockCalls[i].Load(); got != int64(2*n.Cycles) {
			t.Errorf("node %d: %d lock calls for %d cycles: want an acquire and a release a cycle", i, got, n.Cycles)
		}
		if n.ServerCPUSeconds <= 0 || n.PeakRSSBytes <= 0 {
			t.Errorf("node %d: CPU %.3f s, peak RSS %d: want the node's", i, n.ServerCPUSeconds, n.PeakRSSBytes)
		}
		cycles += n.Cycles
		cpu += n.ServerCPUSeconds
	}
	if cycles != r.Cycles || !near(cpu, r.ServerCPUSeconds) {
		t.Errorf("nodes' cycles %d and CPU %.3f s; the run's %d and %.3f s", cycles, cpu, r.Cycles, r.ServerCPUSeconds)
	}
	if !strings.HasPrefix(r.RSSSource, "the largest of 2 nodes") {
		t.Errorf("RSS source %q", r.RSSSource)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, u := range urls {
		if !strings.Contains(text.String(), u+"  ") {
			t.Errorf("text lacks node %s:\n%s", u, text.String())
		}
	}
}

// A watched process's CPU time over the window comes with the result.
func TestRunLocksWatch(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cfg := quickLocks(serve(t, nil), bench.LockUncontended)
	cfg.WatchPIDs = []int{os.Getpid()}
	r, err := bench.RunLocks(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The server runs in this process: the load costs it CPU.
	if len(r.Watched) != 1 || r.Watched[0].PID != os.Getpid() || r.Watched[0].CPUSeconds <= 0 || r.Nodes != nil {
		t.Fatalf("watched %+v, nodes %+v: want this process's CPU time and no nodes", r.Watched, r.Nodes)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "and its children:") {
		t.Errorf("text lacks the watched process:\n%s", text.String())
	}
	cfg.WatchPIDs = []int{0}
	if _, err := bench.RunLocks(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "process") {
		t.Errorf("watching process 0: %v", err)
	}
}
