package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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

const adminPassword = "bench-admin-password"

// serve starts a latchkey server on a fresh SQLite store (cheap argon2id
// profile) behind wrap, if not nil, and returns its URL.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	store := sqlstoretest.Open(t, sqlstoretest.SQLite().URL(t),
		sqlstore.Options{Password: passhash.Test, Logger: quiet})
	if _, _, err := store.Bootstrap(context.Background(), adminPassword); err != nil {
		t.Fatal(err)
	}
	// MetricsPublic: as serve on a loopback listener, whose /metrics the
	// benchmarks read without a token.
	var h http.Handler = lkhttp.NewServer(store, lkhttp.Options{Logger: quiet, MetricsPublic: true}).Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func quick(server string) bench.SessionsConfig {
	return bench.SessionsConfig{Server: server, AdminPassword: adminPassword, Terminals: 4,
		Duration: 300 * time.Millisecond, Argon2: passhash.Test, RawHashDuration: 100 * time.Millisecond, Backend: "sqlite"}
}

func opsByName(t *testing.T, r *bench.SessionsResult) map[string]bench.OpStats {
	t.Helper()
	m := map[string]bench.OpStats{}
	for _, o := range r.Ops {
		m[o.Op] = o
	}
	return m
}

func TestRunSessionsCycle(t *testing.T) {
	t.Parallel()
	url := serve(t, nil)
	var progress bytes.Buffer
	r, err := bench.RunSessions(context.Background(), quick(url), &progress)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	ops := opsByName(t, r)
	if len(r.Ops) != 5 || r.Ops[0].Op != "login" || r.Ops[4].Op != "logout" {
		t.Fatalf("ops %+v: want login, lock, unlock, touch, logout", r.Ops)
	}
	if r.Cycles < r.Terminals {
		t.Fatalf("%d cycles for %d terminals in %s", r.Cycles, r.Terminals, r.Duration)
	}
	for _, name := range []string{"login", "lock", "unlock", "logout"} {
		if o := ops[name]; o.Count != r.Cycles || o.Errors != 0 {
			t.Errorf("%s: %+v, want %d calls and no errors", name, o, r.Cycles)
		}
	}
	if o := ops["touch"]; o.Count != 3*r.Cycles {
		t.Errorf("touch: %d calls, want 3 per cycle (%d)", o.Count, 3*r.Cycles)
	}
	for _, o := range r.Ops {
		if o.OpsPerSec <= 0 || o.P50ms <= 0 || o.P50ms > o.P99ms || o.P99ms > o.MaxMs {
			t.Errorf("%s: %+v: want positive rates and p50 <= p99 <= max", o.Op, o)
		}
	}
	if want := float64(7*r.Cycles) / r.Duration.Seconds(); !near(r.TotalOpsPerSec, want) {
		t.Errorf("total ops/s %v, want %v", r.TotalOpsPerSec, want)
	}
	if r.RawHashesPerSec <= 0 || r.RawHashWorkers < 1 || r.LoginVsRaw != 0 {
		t.Errorf("raw rate %v on %d workers, login/raw %v (cycle mode: want 0)", r.RawHashesPerSec, r.RawHashWorkers, r.LoginVsRaw)
	}
	if r.PeakRSSBytes <= 0 || !strings.HasPrefix(r.RSSSource, bench.PeakRSSMetric) {
		t.Errorf("peak RSS %d from %q: want the server's %s", r.PeakRSSBytes, r.RSSSource, bench.PeakRSSMetric)
	}
	if r.Note != bench.TestProfileNote || r.Params != passhash.Test.String() {
		t.Errorf("params %q note %q: a test-profile run must say so", r.Params, r.Note)
	}

	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"mode cycle", "backend sqlite", "unlock", "p99 ms", bench.TestProfileNote, "peak RSS"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.SessionsResult
	if err := json.Unmarshal(b, &back); err != nil || back.Cycles != r.Cycles || len(back.Ops) != 5 || back.Duration != r.Duration {
		t.Fatalf("JSON round trip: %v\n%s", err, b)
	}

	// A second run against the same server makes its own people.
	if _, err := bench.RunSessions(context.Background(), quick(url), nil); err != nil {
		t.Fatalf("second run: %v", err)
	}
}

func near(a, b float64) bool { return a > 0.999*b && a < 1.001*b }

func TestRunSessionsLoginMode(t *testing.T) {
	t.Parallel()
	cfg := quick(serve(t, nil))
	cfg.Mode = bench.ModeLogin
	cfg.Duration = time.Minute
	cfg.Cycles = 3 // the cap ends the run long before the minute
	start := time.Now()
	r, err := bench.RunSessions(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Fatalf("3 cycles a terminal took %s", el)
	}
	if len(r.Ops) != 2 || r.Ops[0].Op != "login" || r.Ops[1].Op != "logout" {
		t.Fatalf("ops %+v: want login and logout only", r.Ops)
	}
	if r.Cycles != 3*cfg.Terminals || r.Ops[0].Count != r.Cycles {
		t.Fatalf("%d cycles, %d logins; want %d", r.Cycles, r.Ops[0].Count, 3*cfg.Terminals)
	}
	if want := r.Ops[0].OpsPerSec / r.RawHashesPerSec; r.LoginVsRaw <= 0 || !near(r.LoginVsRaw, want) {
		t.Fatalf("login/raw %v, want %v", r.LoginVsRaw, want)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "login vs raw argon2id") {
		t.Errorf("text lacks the login/raw ratio:\n%s", text.String())
	}
}

// With rounds, each window is judged against the raw measurements on
// either side of it, and the verdict is the median of the windows.
func TestRunSessionsRounds(t *testing.T) {
	t.Parallel()
	cfg := quick(serve(t, nil))
	cfg.Mode = bench.ModeLogin
	cfg.Rounds = 3
	cfg.Duration = 900 * time.Millisecond
	cfg.RawHashDuration = 50 * time.Millisecond
	r, err := bench.RunSessions(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rounds) != 3 {
		t.Fatalf("%d rounds, want 3", len(r.Rounds))
	}
	var logins, cycles int
	var window time.Duration
	var ratios []float64
	raws := []float64{r.Rounds[0].RawBefore}
	for i, rd := range r.Rounds {
		if i > 0 && rd.RawBefore != r.Rounds[i-1].RawAfter {
			t.Errorf("round %d: raw before %v, want the previous round's raw after %v", i+1, rd.RawBefore, r.Rounds[i-1].RawAfter)
		}
		if rd.Logins <= 0 || rd.RawBefore <= 0 || rd.RawAfter <= 0 || rd.Duration <= 0 {
			t.Fatalf("round %d: %+v: want logins, a duration and both raw rates", i+1, rd)
		}
		want := float64(rd.Logins) / rd.Duration.Seconds() / ((rd.RawBefore + rd.RawAfter) / 2)
		if !near(rd.LoginVsRaw, want) {
			t.Errorf("round %d: login/raw %v, want %v", i+1, rd.LoginVsRaw, want)
		}
		if m := rd.Machine; m.Busy <= 0 || m.Busy > float64(runtime.NumCPU())+0.5 || m.Client <= 0 || m.Client > m.Busy+0.5 || m.Steal < 0 {
			t.Errorf("round %d: machine %+v: want 0 < client <= busy <= %d cores", i+1, m, runtime.NumCPU())
		}
		logins, cycles, window = logins+rd.Logins, cycles+rd.Cycles, window+rd.Duration
		ratios = append(ratios, rd.LoginVsRaw)
		raws = append(raws, rd.RawAfter)
	}
	if logins != r.Ops[0].Count || cycles != r.Cycles || window != r.Duration {
		t.Errorf("rounds add up to %d logins, %d cycles, %s; result %d, %d, %s", logins, cycles, window, r.Ops[0].Count, r.Cycles, r.Duration)
	}
	slices.Sort(ratios)
	if r.LoginVsRaw != ratios[1] {
		t.Errorf("login/raw %v, want the median of %v", r.LoginVsRaw, ratios)
	}
	var sum float64
	for _, v := range raws {
		sum += v
	}
	if r.RawBefore != raws[0] || r.RawAfter != raws[3] || !near(r.RawHashesPerSec, sum/4) {
		t.Errorf("raw before %v after %v mean %v; want %v, %v, %v", r.RawBefore, r.RawAfter, r.RawHashesPerSec, raws[0], raws[3], sum/4)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "median of 3 rounds") {
		t.Errorf("text lacks the rounds:\n%s", text.String())
	}
}

// The warm-up's cycles are not measured: with a cap of two cycles a
// terminal, the measured run still has two each after the warm-up.
func TestRunSessionsWarmupIsUnmeasured(t *testing.T) {
	t.Parallel()
	cfg := quick(serve(t, nil))
	cfg.Mode = bench.ModeLogin
	cfg.Warmup = 300 * time.Millisecond
	cfg.Duration = time.Minute
	cfg.Cycles = 2
	var progress bytes.Buffer
	r, err := bench.RunSessions(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "warming up") {
		t.Errorf("progress does not mention the warm-up:\n%s", progress.String())
	}
	if r.Cycles != 2*cfg.Terminals || r.Ops[0].Count != r.Cycles || r.Rounds[0].Logins != r.Cycles {
		t.Fatalf("%d cycles, %d logins, round %+v; want %d: the warm-up must not count", r.Cycles, r.Ops[0].Count, r.Rounds[0], 2*cfg.Terminals)
	}
}

// With a pprof address, each round's server CPU profile is fetched over
// the round's window and written to the directory.
func TestRunSessionsFetchesServerProfiles(t *testing.T) {
	t.Parallel()
	var asked []string
	var mu sync.Mutex
	pprofSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		io.WriteString(w, "profile bytes")
	}))
	t.Cleanup(pprofSrv.Close)
	cfg := quick(serve(t, nil))
	cfg.Mode = bench.ModeLogin
	cfg.Rounds = 2
	cfg.Duration = 4200 * time.Millisecond
	cfg.ProfileURL, cfg.ProfileDir = pprofSrv.URL, t.TempDir()
	r, err := bench.RunSessions(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || asked[0] != "/debug/pprof/profile?seconds=1" {
		t.Fatalf("profiles asked for %v: want two of 1 s (the 2.1 s window less a second)", asked)
	}
	for i, rd := range r.Rounds {
		b, err := os.ReadFile(rd.Profile)
		if err != nil || string(b) != "profile bytes" || filepath.Base(rd.Profile) != fmt.Sprintf("round-%d.pprof", i+1) {
			t.Errorf("round %d profile %q: %q, %v", i+1, rd.Profile, b, err)
		}
	}
}

// jsonError answers like the API does.
func jsonError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":"injected by the test"}}`, code)
}

func TestRunSessionsAbortsOnUnexpectedError(t *testing.T) {
	t.Parallel()
	var locks atomic.Int64
	url := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/lock") && locks.Add(1) == 6 {
				jsonError(w, http.StatusConflict, latchkey.ECONFLICT)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	cfg := quick(url)
	cfg.Duration = 10 * time.Second
	start := time.Now()
	r, err := bench.RunSessions(context.Background(), cfg, nil)
	if err == nil || r != nil {
		t.Fatalf("run with a refused lock: result %v, err %v; want an error", r, err)
	}
	if !strings.Contains(err.Error(), "lock at terminal") || latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Fatalf("error %q: want it to name the lock call and keep its code", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("the abort took %s", el)
	}
}

func TestRunSessionsCountsRateLimits(t *testing.T) {
	t.Parallel()
	var touches atomic.Int64
	url := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/touch") && touches.Add(1)%7 == 0 {
				jsonError(w, http.StatusTooManyRequests, latchkey.ERATELIMITED)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	r, err := bench.RunSessions(context.Background(), quick(url), nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := opsByName(t, r)
	if ops["touch"].Errors == 0 {
		t.Fatalf("touch %+v: want the injected rate_limited answers counted", ops["touch"])
	}
	if ops["login"].Count <= r.Cycles {
		t.Fatalf("%d logins, %d whole cycles: want the given-up cycles left out", ops["login"].Count, r.Cycles)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "rate_limited") {
		t.Errorf("text does not warn of the rate limit:\n%s", text.String())
	}
}

func TestRunSessionsRSSFallback(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		metrics func(w http.ResponseWriter)
		want    int64
		source  string
	}{
		{"only process RSS", func(w http.ResponseWriter) {
			fmt.Fprintf(w, "# TYPE %s gauge\n%s 1.2345e+07\n", bench.RSSMetric, bench.RSSMetric)
		}, 12345000, bench.RSSMetric},
		{"peak unreadable on the server", func(w http.ResponseWriter) {
			fmt.Fprintf(w, "%s 0\n%s 777\n", bench.PeakRSSMetric, bench.RSSMetric)
		}, 777, bench.RSSMetric},
		{"no metrics", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }, 0, "unavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := serve(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/metrics" {
						c.metrics(w)
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			r, err := bench.RunSessions(context.Background(), quick(url), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.PeakRSSBytes != c.want || !strings.HasPrefix(r.RSSSource, c.source) {
				t.Fatalf("peak RSS %d from %q, want %d from %s", r.PeakRSSBytes, r.RSSSource, c.want, c.source)
			}
		})
	}
}

func TestRunSessionsCancel(t *testing.T) {
	t.Parallel()
	cfg := quick(serve(t, nil))
	cfg.Duration = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	var progress lineWatcher
	progress.onLine = func(s string) {
		if strings.HasPrefix(s, "running") {
			time.AfterFunc(300*time.Millisecond, cancel)
		}
	}
	start := time.Now()
	r, err := bench.RunSessions(ctx, cfg, &progress)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v, want context.Canceled", err)
	}
	if r == nil || r.Cycles == 0 || r.Duration > 10*time.Second {
		t.Fatalf("cancelled run: result %+v, want what was measured before the cancel", r)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("cancel took effect after %s", el)
	}
}

// lineWatcher calls onLine with each line written to it.
type lineWatcher struct {
	buf    bytes.Buffer
	onLine func(string)
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.onLine(strings.TrimSpace(line))
	}
}

func TestSessionsConfigRefused(t *testing.T) {
	t.Parallel()
	url := serve(t, nil)
	for _, c := range []struct {
		name string
		edit func(*bench.SessionsConfig)
		want string
	}{
		{"no server", func(c *bench.SessionsConfig) { c.Server = "" }, "server"},
		{"not a URL", func(c *bench.SessionsConfig) { c.Server = "127.0.0.1:7420" }, "server"},
		{"no admin password", func(c *bench.SessionsConfig) { c.AdminPassword = "" }, "admin password"},
		{"wrong admin password", func(c *bench.SessionsConfig) { c.AdminPassword = "nope" }, latchkey.EINVALIDCREDENTIALS},
		{"negative terminals", func(c *bench.SessionsConfig) { c.Terminals = -1 }, "terminals"},
		{"too many terminals", func(c *bench.SessionsConfig) { c.Terminals = bench.MaxTerminals + 1 }, "terminals"},
		{"negative duration", func(c *bench.SessionsConfig) { c.Duration = -time.Second }, "duration"},
		{"too many cycles", func(c *bench.SessionsConfig) { c.Cycles = bench.MaxCycles + 1 }, "cycles"},
		{"unknown mode", func(c *bench.SessionsConfig) { c.Mode = "soak" }, "mode"},
		{"negative rounds", func(c *bench.SessionsConfig) { c.Rounds = -1 }, "rounds"},
		{"too many rounds", func(c *bench.SessionsConfig) { c.Rounds = bench.MaxRounds + 1 }, "rounds"},
		{"negative warm-up", func(c *bench.SessionsConfig) { c.Warmup = -time.Second }, "warm-up"},
		{"profile without a directory", func(c *bench.SessionsConfig) { c.ProfileURL = "http://127.0.0.1:1" }, "pprof"},
		{"profile URL not a URL", func(c *bench.SessionsConfig) { c.ProfileURL, c.ProfileDir = "127.0.0.1:1", "x" }, "pprof URL"},
		{"rounds too short", func(c *bench.SessionsConfig) { c.Rounds = 10; c.Duration = 5 * time.Millisecond }, "round"},
		{"bad argon2", func(c *bench.SessionsConfig) { c.Argon2 = passhash.Params{Time: 1} }, "argon2id"},
		{"control character in prefix", func(c *bench.SessionsConfig) { c.Prefix = "a\x00b" }, "prefix"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := quick(url)
			c.edit(&cfg)
			r, err := bench.RunSessions(context.Background(), cfg, nil)
			if err == nil || r != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("RunSessions: %v, %v; want an error about %s", r, err, c.want)
			}
		})
	}
}
