package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"latchkey/bench"
	"latchkey/sqlstore/sqlstoretest"
)

// The failover soak in CI size: 20 s of load on three real serve nodes
// on PostgreSQL, a node killed or stopped every few seconds; every
// invariant holds and the report says what was measured. Bounded: the
// soak's own bounds, and a context of 3 minutes.
func TestFailoverSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs real latchkey serve processes for about 30 s")
	}
	dsn, why := sqlstoretest.PostgresDSN()
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("the failover soak must run in CI: %s", why)
		}
		t.Skipf("skipping: %s", why)
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "latchkey")
	build := exec.Command("go", "build", "-o", bin, "latchkey/cmd/latchkey")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	start := time.Now()
	res, err := bench.RunFailover(ctx, bench.FailoverConfig{Binary: bin, Store: dsn, Duration: 20 * time.Second,
		Agents: 2, Persons: 2, Settle: 20 * time.Second}, &progress)
	var out bytes.Buffer
	if res != nil {
		res.WriteText(&out)
	}
	t.Logf("%s in %s\n%s", progress.String(), time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Faults) < 2 || res.Kills+res.Stops != len(res.Faults) {
		t.Errorf("%d faults (%d kills, %d stops): want at least two in 20 s", len(res.Faults), res.Kills, res.Stops)
	}
	if len(res.Invariants) < 8 {
		t.Errorf("%d invariants checked", len(res.Invariants))
	}
	for _, inv := range res.Invariants {
		if !inv.OK {
			t.Errorf("%s: %s", inv.Name, inv.Detail)
		}
	}
	a := res.Acked
	if a.Sessions == 0 || a.Checkouts == 0 || a.Requests == 0 || a.Tasks == 0 || a.LockCycles == 0 || a.Grants == 0 {
		t.Errorf("some load never happened: %+v", a)
	}
	b, err := json.Marshal(res)
	if err != nil || !bytes.Contains(b, []byte(`"takeover"`)) {
		t.Fatalf("JSON: %s, %v", b, err)
	}
	if !strings.Contains(out.String(), "takeover of a held job") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestFailoverRefused(t *testing.T) {
	for _, c := range []struct {
		cfg  bench.FailoverConfig
		want string
	}{
		{bench.FailoverConfig{Store: "postgres://x/y"}, "binary"},
		{bench.FailoverConfig{Binary: "latchkey", Store: "sqlite:///tmp/x.db"}, "postgres"},
		{bench.FailoverConfig{Binary: "latchkey", Store: "postgres://x/y", Duration: time.Second}, "duration"},
		{bench.FailoverConfig{Binary: "latchkey", Store: "postgres://x/y", Agents: 1000}, "agents"},
		{bench.FailoverConfig{Binary: "latchkey", Store: "postgres://x/y", MaxFaults: -1}, "faults"},
	} {
		if _, err := bench.RunFailover(context.Background(), c.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.cfg, err, c.want)
		}
	}
}
