package bench_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"latchkey/bench"
)

// A short delivery run against an in-process server: every check-out made
// was delivered to its agent and answered, and the report says so.
func TestRunAgentsDelivery(t *testing.T) {
	t.Parallel()
	url := serve(t, nil)
	var progress bytes.Buffer
	r, err := bench.RunAgents(context.Background(), bench.AgentsConfig{Server: url, AdminPassword: adminPassword, Agents: 20,
		Mode: bench.AgentsDelivery, Duration: 500 * time.Millisecond, Requesters: 4}, &progress)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	if r.Polling != 20 || len(r.Ops) != 2 || r.Ops[1].Op != "delivery" || r.Ops[1].Count == 0 || r.Ops[0].Count != r.Ops[1].Count {
		t.Fatalf("result %+v: want 20 agents polling and every check-out delivered", r)
	}
	if r.ServerRSSBytes <= 0 {
		t.Fatalf("no server RSS: %+v", r)
	}
	var out bytes.Buffer
	r.WriteText(&out)
	if !strings.Contains(out.String(), "delivery") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestRunAgentsRefused(t *testing.T) {
	for _, c := range []struct {
		cfg  bench.AgentsConfig
		want string
	}{
		{bench.AgentsConfig{AdminPassword: "x", Mode: bench.AgentsIdle}, "server"},
		{bench.AgentsConfig{Server: "http://127.0.0.1:1", AdminPassword: "x", Mode: "storm"}, "mode"},
		{bench.AgentsConfig{Server: "http://127.0.0.1:1", AdminPassword: "x", Mode: bench.AgentsIdle, Agents: 20001}, "agents"},
	} {
		if _, err := bench.RunAgents(context.Background(), c.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.cfg, err, c.want)
		}
	}
}
