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
// password: one argon2id hash, of the test profile on sqlite and
// postgres, of the production profile on sqlite-argon2-production.
// Reported: ns per lock and unlock, and lock and unlock p50 and p99 in
// ms.
func BenchmarkGatewayLockUnlock(b *testing.B) {
	forEachGatewayBackend(b, true, func(b *testing.B, g *gatewayAgent) {
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
	forEachGatewayBackend(b, false, func(b *testing.B, g *gatewayAgent) {
		timeGatewayCall(b, "touch", func(ctx context.Context) (*agent.Status, error) { return g.gw.Touch(ctx) })
	})
}

// BenchmarkGatewayStatus: the counter's poll of its agent (GET /status,
// every 5 s), which the agent answers from its own state. Reported: ns
// per call, p50 and p99 in ms.
func BenchmarkGatewayStatus(b *testing.B) {
	forEachGatewayBackend(b, false, func(b *testing.B, g *gatewayAgent) {
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
// gateway, alice logged on through it. With production, a last
// sub-benchmark, sqlite-argon2-production, does the same with the
// server's production argon2id profile (m=19456 KiB, t=2, p=1): what a
// password check adds. fn's own sub-benchmarks do the timing, so this
// set-up runs once per backend however b.N grows. It skips in -short
// mode, and PostgreSQL without LATCHKEY_TEST_POSTGRES.
func forEachGatewayBackend(b *testing.B, production bool, fn func(b *testing.B, g *gatewayAgent)) {
	type variant struct {
		name  string
		be    sqlstoretest.Backend
		extra []string
	}
	var vs []variant
	for _, be := range sqlstoretest.Backends() {
		vs = append(vs, variant{be.Name, be, nil})
	}
	if production { // later flags win: startServer's test profile is overridden
		vs = append(vs, variant{"sqlite-argon2-production", sqlstoretest.SQLite(),
			[]string{"--argon2-time", "2", "--argon2-memory", "19456", "--argon2-threads", "1"}})
	}
	for _, v := range vs {
		b.Run(v.name, func(b *testing.B) {
			srv := benchServer(b, v.be, v.extra...)
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

// benchServer is a real `latchkey serve` on a fresh store of backend be
// (SQLite in its data dir, or a fresh PostgreSQL schema), with extra
// flags.
func benchServer(b *testing.B, be sqlstoretest.Backend, extra ...string) *proc {
	b.Helper()
	latchkeyBinary(b)
	dataDir := b.TempDir()
	storeURL := "sqlite://" + filepath.Join(dataDir, "latchkey.db")
	if be.Name != "sqlite" {
		storeURL = be.URL(b)
	}
	return startServer(b, storeURL, dataDir, extra...)
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
