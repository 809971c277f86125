package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// Round is one window of the load, with the raw argon2id rates measured
// just before and just after it.
type Round struct {
	Duration  time.Duration `json:"duration_ns"`
	Logins    int           `json:"logins"`
	Cycles    int           `json:"cycles"`
	RawBefore float64       `json:"raw_before"`
	RawAfter  float64       `json:"raw_after"`
	// ServerCPUSeconds is the server's CPU time in the window (0 if
	// unknown).
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	// Machine is how the whole machine's CPU was spent in the window; the
	// server's share is ServerCPUSeconds over Duration.
	Machine MachineCPU `json:"machine"`
	// Profile is the file of the server's CPU profile over the window
	// (SessionsConfig.ProfileURL), if one was taken.
	Profile string `json:"profile,omitempty"`
	// LoginVsRaw and NonHashCPUShare are as in SessionsResult, for this
	// window against the mean of RawBefore and RawAfter (ModeLogin only).
	LoginVsRaw      float64 `json:"login_vs_raw,omitempty"`
	NonHashCPUShare float64 `json:"non_hash_cpu_share,omitempty"`
}

// raw is the mean of the raw rates around the round.
func (r Round) raw() float64 {
	if r.RawAfter > 0 {
		return (r.RawBefore + r.RawAfter) / 2
	}
	return r.RawBefore
}

// runRounds measures the raw argon2id rate, then runs cfg.Rounds windows of
// the load, each followed by another raw measurement, filling res's
// rounds, duration, raw rates and server CPU. It returns the load's error.
func runRounds(ctx context.Context, cfg SessionsConfig, workers []*worker, hc *http.Client, res *SessionsResult, progress io.Writer) error {
	res.RawHashWorkers = runtime.GOMAXPROCS(0)
	var raws []float64
	measureRaw := func() (float64, error) {
		fmt.Fprintf(progress, "measuring raw %s for %s on %d goroutines\n", cfg.Argon2, cfg.RawHashDuration, res.RawHashWorkers)
		r, _, err := RawHashRate(ctx, cfg.Argon2, cfg.RawHashDuration, res.RawHashWorkers)
		if err != nil {
			return 0, fmt.Errorf("bench: raw argon2id rate: %w", err)
		}
		fmt.Fprintf(progress, "raw argon2id: %.1f hashes/s\n", r)
		raws = append(raws, r)
		return r, nil
	}
	if cfg.Warmup > 0 {
		fmt.Fprintf(progress, "warming up: %s cycles for %s, unmeasured\n", cfg.Mode, cfg.Warmup)
		if err := runLoad(ctx, cfg, workers, cfg.Warmup, progress); err != nil {
			return err
		}
		for _, w := range workers {
			w.samples, w.errors, w.cycles, w.started = [numOps][]time.Duration{}, [numOps]int{}, 0, 0
		}
	}
	before, err := measureRaw()
	if err != nil {
		return err
	}
	res.StartedAt = time.Now().UTC()
	window := cfg.Duration / time.Duration(cfg.Rounds)
	var loadErr error
	for i := range cfg.Rounds {
		logins, cycles := countDone(workers)
		cpu0, cpuErr := serverCPU(ctx, hc, cfg.Server)
		fmt.Fprintf(progress, "running %s cycles for %s (round %d of %d)\n", cfg.Mode, window, i+1, cfg.Rounds)
		prof := startProfile(ctx, cfg, window, i+1)
		start, m0 := time.Now(), sampleCPU()
		loadErr = runLoad(ctx, cfg, workers, window, progress)
		rd := Round{Duration: time.Since(start), Machine: sampleCPU().since(m0), RawBefore: before}
		if rd.Profile, err = prof.wait(); err != nil {
			fmt.Fprintf(progress, "round %d: no server profile: %v\n", i+1, err)
		}
		res.Duration += rd.Duration
		logins1, cycles1 := countDone(workers)
		rd.Logins, rd.Cycles = logins1-logins, cycles1-cycles
		if cpu1, err := serverCPU(ctx, hc, cfg.Server); err == nil && cpuErr == nil {
			rd.ServerCPUSeconds = cpu1 - cpu0
			res.ServerCPUSeconds += rd.ServerCPUSeconds
		}
		if loadErr == nil && ctx.Err() == nil {
			if before, err = measureRaw(); err != nil && ctx.Err() == nil {
				return err
			}
			rd.RawAfter = before
		}
		res.Rounds = append(res.Rounds, rd)
		if loadErr != nil || ctx.Err() != nil {
			break
		}
	}
	res.RawBefore = raws[0]
	if len(raws) > 1 {
		res.RawAfter = raws[len(raws)-1]
	}
	var sum float64
	for _, r := range raws {
		sum += r
	}
	res.RawHashesPerSec = sum / float64(len(raws))
	if loadErr == nil {
		loadErr = ctx.Err()
	}
	return loadErr
}

// countDone counts the logins and cycles the workers have finished.
func countDone(workers []*worker) (logins, cycles int) {
	for _, w := range workers {
		logins += len(w.samples[opLogin])
		cycles += w.cycles
	}
	return logins, cycles
}

// judgeRounds sets each round's login ratio and non-hash CPU share, and
// the result's as their medians.
func (res *SessionsResult) judgeRounds() {
	var ratios, shares []float64
	for i := range res.Rounds {
		r := &res.Rounds[i]
		if r.Duration <= 0 || r.raw() <= 0 {
			continue
		}
		r.LoginVsRaw = float64(r.Logins) / r.Duration.Seconds() / r.raw()
		ratios = append(ratios, r.LoginVsRaw)
		if r.ServerCPUSeconds > 0 && r.Cycles > 0 {
			hashCPU := float64(res.RawHashWorkers) / r.raw()
			r.NonHashCPUShare = 1 - hashCPU/(r.ServerCPUSeconds/float64(r.Cycles))
			shares = append(shares, r.NonHashCPUShare)
		}
	}
	res.LoginVsRaw, res.NonHashCPUShare = median(ratios), median(shares)
}

// median is the middle value (the mean of the two middle ones for an even
// count), 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// profileFetch is a CPU profile of the server being taken.
type profileFetch struct {
	done chan struct{}
	path string
	err  error
}

// startProfile starts fetching a CPU profile of the server over the
// coming window (whole seconds, one less than the window so that it ends
// inside it) into cfg.ProfileDir; nil when no profile is wanted.
func startProfile(ctx context.Context, cfg SessionsConfig, window time.Duration, round int) *profileFetch {
	secs := int(window.Seconds()) - 1
	if cfg.ProfileURL == "" || secs < 1 {
		return nil
	}
	p := &profileFetch{done: make(chan struct{}), path: filepath.Join(cfg.ProfileDir, fmt.Sprintf("round-%d.pprof", round))}
	go func() {
		defer close(p.done)
		p.err = fetchProfile(ctx, cfg.ProfileURL, secs, p.path)
	}()
	return p
}

// wait returns the profile's file once it is written.
func (p *profileFetch) wait() (string, error) {
	if p == nil {
		return "", nil
	}
	<-p.done
	if p.err != nil {
		return "", p.err
	}
	return p.path, nil
}

func fetchProfile(ctx context.Context, base string, secs int, path string) error {
	body, err := getBody(ctx, http.DefaultClient, base, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs),
		time.Duration(secs)*time.Second+30*time.Second, 64<<20)
	if err != nil {
		return fmt.Errorf("fetch CPU profile: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, body, 0o644)
}
