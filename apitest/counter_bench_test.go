package apitest_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"latchkey/agent"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// What the person at the counter waits for (issue 14): the counter app's
// calls on its agent's gateway socket, with a real `latchkey serve`
// process (the test argon2id profile: m=64 KiB, t=1) and a real
// `latchkey agent` process serving the gateway, on both store backends.
// The agent reaches the server through the tests' fault proxy (a plain
// forwarding HTTP hop in the test process, cut never). Each benchmark
// starts its own server and agent per backend (a few seconds), then
// times its calls from the client's side of the socket. Loops are
// bounded by b.N; -benchtime 200x keeps each under a minute. Run:
//
//	LATCHKEY_TEST_POSTGRES=... go test ./apitest -run '^$' -bench 'Gateway' -benchtime 200x

// BenchmarkGatewayLockUnlock: alice, logged on through the gateway, locks
// (POST /lock, manual) and unlocks with her password (POST /unlock), once
// each an iteration. Both go to the server; the unlock checks the
// password (one argon2id hash, of the test profile here). Reported: ns
// per lock and unlock, and lock and unlock p50 and p99 in ms.
func BenchmarkGatewayLockUnlock(b *testing.B) {
	forEachGatewayBackend(b, func(b *testing.B, g *gatewayAgent) {
		b.Run("lock+unlock", func(b *testing.B) {
			ctx := context.Background()
			locks, unlocks := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				st, err := g.gw.Lock(ctx, agent.LockRequest{Reason: agent.LockManual})
				locks = append(locks, time.Since(start))
				if err != nil || st.Session == nil || st.Session.LockedAt == nil {
					b.Fatalf("lock: %+v, %v", st, err)
				}
				start = time.Now()
				st, err = g.gw.Unlock(ctx, agent.UnlockRequest{Identity: "alice", Password: pw("alice")})
				unlocks = append(unlocks, time.Since(start))
				if err != nil || st.Session == nil || st.Session.LockedAt != nil {
					b.Fatalf("unlock: %+v, %v", st, err)
				}
			}
			reportQuantiles(b, "lock", locks)
			reportQuantiles(b, "unlock", unlocks)
		})
	})
}

// BenchmarkGatewayTouch: the counter's activity report (POST /touch), one
// a second at most while the person types (counter.touchEvery). The
// gateway answers at once and sends the activity to the server batched,
// at most once every agent.DefaultTouchEvery (30 s): nearly every touch
// here stays in the agent. Reported: ns per touch, p50 and p99 in ms.
func BenchmarkGatewayTouch(b *testing.B) {
	forEachGatewayBackend(b, func(b *testing.B, g *gatewayAgent) {
		timeGatewayCall(b, "touch", func(ctx context.Context) (*agent.Status, error) { return g.gw.Touch(ctx) })
	})
}

// BenchmarkGatewayStatus: the counter's poll of its agent (GET /status,
// every 5 s), which the agent answers from its own state. Reported: ns
// per call, p50 and p99 in ms.
func BenchmarkGatewayStatus(b *testing.B) {
	forEachGatewayBackend(b, func(b *testing.B, g *gatewayAgent) {
		timeGatewayCall(b, "status", func(ctx context.Context) (*agent.Status, error) { return g.gw.Status(ctx) })
	})
}

// timeGatewayCall is a sub-benchmark name that makes call b.N times in a
// row, each answered with alice's unlocked session, and reports its p50
// and p99 in ms.
func timeGatewayCall(b *testing.B, name string, call func(context.Context) (*agent.Status, error)) {
	b.Run(name, func(b *testing.B) {
		ctx := context.Background()
		times := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			st, err := call(ctx)
			times = append(times, time.Since(start))
			if err != nil || st.Session == nil || st.Session.Identity != "alice" || st.Session.LockedAt != nil {
				b.Fatalf("%s: %+v, %v", name, st, err)
			}
		}
		reportQuantiles(b, name, times)
	})
}

// forEachGatewayBackend runs fn in a sub-benchmark per store backend
// with a fresh real server (the test argon2id profile), a terminal, alice
// (password pw("alice")), and a real agent for that terminal serving its
// gateway, alice logged on through it. fn's own sub-benchmarks do the
// timing, so this set-up runs once per backend however b.N grows. It
// skips in -short mode, and PostgreSQL without LATCHKEY_TEST_POSTGRES.
func forEachGatewayBackend(b *testing.B, fn func(b *testing.B, g *gatewayAgent)) {
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			srv := benchServer(b, be)
			admin := adminOf(b, srv)
			site := admin.site(client.SiteCreate{Name: "post office"})
			term := admin.terminal(site.ID, "Counter 1")
			admin.user("alice")
			g := newGatewayAgent(b, srv.URL, term.Token)
			g.mustLogin("alice", pw("alice"))
			fn(b, g)
		})
	}
}

// benchServer is a real `latchkey serve` on a fresh store of backend be:
// SQLite in its data dir, or a fresh PostgreSQL schema.
func benchServer(b *testing.B, be sqlstoretest.Backend) *proc {
	b.Helper()
	latchkeyBinary(b)
	dataDir := b.TempDir()
	storeURL := "sqlite://" + filepath.Join(dataDir, "latchkey.db")
	if be.Name != "sqlite" {
		storeURL = be.URL(b)
	}
	return startServer(b, storeURL, dataDir)
}

// reportQuantiles reports the p50 and p99 of times in ms as the metrics
// NAME-ms-p50 and NAME-ms-p99.
func reportQuantiles(b *testing.B, name string, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	times = slices.Clone(times)
	slices.Sort(times)
	q := func(p float64) float64 {
		return float64(times[int(p*float64(len(times)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), name+"-ms-p50")
	b.ReportMetric(q(0.99), name+"-ms-p99")
}
