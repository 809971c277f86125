package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"latchkey/client"

	"latchkey"
)

// What the session and lock benchmarks share: checking where they run,
// their HTTP client, the admin who sets a run up, and the load driver.

// checkTarget checks a benchmark's server URL and admin credentials and
// returns the URL without a trailing slash and the admin identity
// (default "admin"). why says what the admin is needed for.
func checkTarget(server, identity, password, why string) (string, string, error) {
	u, err := url.Parse(server)
	if server == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("bench: server %q: want a base URL such as http://127.0.0.1:7420", server)
	}
	if identity == "" {
		identity = "admin"
	}
	if password == "" {
		return "", "", fmt.Errorf("bench: the admin password is required (%s)", why)
	}
	return strings.TrimRight(server, "/"), identity, nil
}

// checkDuration fills in the default run length and bounds it.
func checkDuration(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return DefaultDuration, nil
	case d < 0 || d > MaxDuration:
		return 0, fmt.Errorf("bench: duration must be positive and at most %s", MaxDuration)
	}
	return d, nil
}

// checkProfile checks the pprof URL and the directory of a server CPU
// profile (both or neither) and returns the URL without a trailing slash.
func checkProfile(pprofURL, dir string) (string, error) {
	if (pprofURL == "") != (dir == "") {
		return "", errors.New("bench: a server profile needs both its pprof URL and a directory")
	}
	if pprofURL == "" {
		return "", nil
	}
	if u, err := url.Parse(pprofURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("bench: pprof URL %q: want a base URL such as http://127.0.0.1:7421", pprofURL)
	}
	return strings.TrimRight(pprofURL, "/"), nil
}

// randomPrefix is the default start of the names a run creates ("bench-"
// and random hex), so that runs against one store do not clash.
func randomPrefix() string {
	var b [4]byte
	rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}

// lockPrefix returns prefix, or a random one when it is empty, once it
// has checked that it can start lock names.
func lockPrefix(prefix string) (string, error) {
	if prefix == "" {
		prefix = randomPrefix()
	}
	if err := latchkey.ValidLockName("prefix", prefix+"/x"); err != nil || len(prefix) > 100 {
		return "", fmt.Errorf("bench: prefix %q: want 1 to 100 letters, digits, '-', '_' or '.'", prefix)
	}
	return prefix, nil
}

// benchHTTP is an HTTP client that keeps a connection for each of n
// workers open, and the function that closes them.
func benchHTTP(n int) (*http.Client, func()) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = n + 8
	tr.MaxIdleConnsPerHost = n + 8
	return &http.Client{Transport: tr}, tr.CloseIdleConnections
}

// adminLogin logs the run's admin on and returns its client and the
// function that logs it off again.
func adminLogin(ctx context.Context, hc *http.Client, server, identity, password string) (*client.Client, func(), error) {
	anon := client.New(server, client.WithHTTPClient(hc))
	tok, err := anon.Login(ctx, identity, password)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: log on as %q: %w", identity, err)
	}
	admin := anon.WithToken(tok.Token)
	return admin, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		admin.Logout(ctx)
	}, nil
}

// errSkipped is a cycle given up after an expected error; errStopped a
// worker that is done, or a call cut short because the run is stopping.
var (
	errSkipped = errors.New("cycle skipped")
	errStopped = errors.New("stopped")
)

// drive runs cycle for each of n workers, over and over, until d has
// passed, ctx ends or a cycle fails; the first failure stops every worker
// and is returned. A cycle answering errSkipped is not counted and its
// worker backs off a little; errStopped ends its worker. Every 5 s it
// prints the calls (counted by the cycles in calls, named unit) and
// cycles so far.
func drive(ctx context.Context, n int, d time.Duration, unit string, calls *atomic.Int64, progress io.Writer,
	cycle func(ctx context.Context, worker int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		firstErr error
		errOnce  sync.Once
		cycles   atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				err := cycle(ctx, i)
				switch {
				case err == nil:
					cycles.Add(1)
				case errors.Is(err, errSkipped): // back off from a server that limits our rate
					select {
					case <-ctx.Done():
					case <-time.After(50 * time.Millisecond):
					}
				case errors.Is(err, errStopped) || ctx.Err() != nil:
					return
				default:
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			if firstErr != nil {
				return firstErr
			}
			return ctx.Err()
		case <-tick.C:
			el := time.Since(start)
			fmt.Fprintf(progress, "  %3.0fs: %d %s (%.0f/s), %d cycles\n", el.Seconds(), calls.Load(), unit,
				float64(calls.Load())/el.Seconds(), cycles.Load())
		}
	}
}

// parallel runs fn(ctx, i) for i in [0, n) on at most workers goroutines;
// the first error stops the others from starting more and is returned.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
