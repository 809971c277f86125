package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"latchkey/bench"
)

func quickFanout(server string) bench.FanoutConfig {
	return bench.FanoutConfig{Server: server, AdminPassword: adminPassword, Streams: 6, StreamsPerCaller: 2,
		Events: 24, Rate: 400, Writers: 2, Drain: 5 * time.Second, Backend: "sqlite"}
}

func TestRunFanout(t *testing.T) {
	t.Parallel()
	var progress bytes.Buffer
	r, err := bench.RunFanout(context.Background(), quickFanout(serve(t, nil)), &progress)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	if r.Streams != 6 || r.Callers != 3 || r.Writers != 2 {
		t.Fatalf("%d streams, %d callers, %d writers: want 6 on 3 delegates, 2 writers", r.Streams, r.Callers, r.Writers)
	}
	// Each call made one event; cycles under way at the 24th call were
	// finished (a lock cycle is 2 calls, a session cycle 4).
	if r.WriterCalls < 24 || r.WriterCalls > 24+4 || r.Events != r.WriterCalls || r.Unanswered != 0 || r.Unrecorded != 0 {
		t.Fatalf("%d calls, %d events, %d unanswered, %d unrecorded: want an event for each call",
			r.WriterCalls, r.Events, r.Unanswered, r.Unrecorded)
	}
	if r.Due != r.Events*r.Streams || r.Delivered != r.Due || r.Missing != 0 || r.Duplicates != 0 || r.Unexpected != 0 {
		t.Fatalf("%d of %d due delivered, %d missing, %d duplicates, %d unexpected", r.Delivered, r.Due, r.Missing, r.Duplicates, r.Unexpected)
	}
	for _, o := range []bench.OpStats{r.FromAnswer, r.FromRecord} {
		if o.Count != r.Due || o.P50ms > o.P99ms || o.P99ms > o.MaxMs || o.MaxMs <= 0 {
			t.Errorf("%s: %+v: want one delay per delivery, p50 <= p99 <= max", o.Op, o)
		}
	}
	// The record's time is taken before the commit, the answer after it.
	if r.FromRecord.MaxMs < r.FromAnswer.MaxMs || r.FromRecord.P50ms < r.FromAnswer.P50ms {
		t.Errorf("from the record %+v, from the answer %+v: the record is older than the answer", r.FromRecord, r.FromAnswer)
	}
	if r.PeakRSSBytes <= 0 || r.IdleRSSBytes <= 0 || r.IdleRSSBytes > r.PeakRSSBytes || !strings.HasPrefix(r.RSSSource, bench.PeakRSSMetric) {
		t.Errorf("idle RSS %d, peak %d from %q", r.IdleRSSBytes, r.PeakRSSBytes, r.RSSSource)
	}
	if want := r.FromAnswer.P99ms < bench.FanoutGoalP99ms && r.PeakRSSBytes < bench.FanoutGoalRSSMiB<<20; r.GoalMet != want {
		t.Errorf("goal met %v, want %v", r.GoalMet, want)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"6 streams (3 delegates, 2 streams each)", "backend sqlite", "from_answer", "from_record",
		"0 missing", "peak RSS", "goal"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.FanoutResult
	if err := json.Unmarshal(b, &back); err != nil || back.Delivered != r.Delivered || back.FromAnswer != r.FromAnswer {
		t.Fatalf("JSON round trip: %v\n%s", err, b)
	}
}

// A caller with more streams than the server lets one token open is
// refused, and the run says which cap it met.
func TestRunFanoutOverTokenCap(t *testing.T) {
	t.Parallel()
	cfg := quickFanout(serve(t, nil))
	cfg.Streams, cfg.StreamsPerCaller = 9, 9 // the server's default cap is 8
	r, err := bench.RunFanout(context.Background(), cfg, nil)
	if err == nil || r != nil || !strings.Contains(err.Error(), "max-streams-per-token") {
		t.Fatalf("RunFanout: %v, %v; want the token's stream cap named", r, err)
	}
}

func TestFanoutConfigRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		edit func(*bench.FanoutConfig)
		want string
	}{
		{"no server", func(c *bench.FanoutConfig) { c.Server = "" }, "server"},
		{"no admin password", func(c *bench.FanoutConfig) { c.AdminPassword = "" }, "admin password"},
		{"too many streams", func(c *bench.FanoutConfig) { c.Streams = bench.MaxFanoutStreams + 1 }, "streams"},
		{"more per caller than streams", func(c *bench.FanoutConfig) { c.StreamsPerCaller = 7 }, "per caller"},
		{"too many deliveries", func(c *bench.FanoutConfig) { c.Streams, c.Events = 10_000, 10_000 }, "events × streams"},
		{"negative rate", func(c *bench.FanoutConfig) { c.Rate = -1 }, "rate"},
		{"too long", func(c *bench.FanoutConfig) { c.Events, c.Rate = 100_000, 1 }, "events ÷ rate"},
		{"one writer", func(c *bench.FanoutConfig) { c.Writers = 1 }, "writers"},
		{"profile without a directory", func(c *bench.FanoutConfig) { c.ProfileURL = "http://127.0.0.1:1" }, "pprof"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := quickFanout("http://127.0.0.1:1")
			c.edit(&cfg)
			r, err := bench.RunFanout(context.Background(), cfg, nil)
			if err == nil || r != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("RunFanout: %v, %v; want an error about %s", r, err, c.want)
			}
		})
	}
}
