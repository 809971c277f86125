package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/bench"
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
