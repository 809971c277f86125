package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
	"latchkey/client"
)

// Agents benchmark modes.
const (
	AgentsIdle     = "idle"     // N agents long-poll; nothing happens; the server's memory is measured
	AgentsDelivery = "delivery" // check-outs are made for random agents; delivery latency is measured
)

// AgentsConfig configures `latchkey bench agents`.
type AgentsConfig struct {
	Server        string
	AdminIdentity string
	AdminPassword string
	Agents        int           // simulated agents, each with its own connection (default 1000)
	Mode          string        // AgentsIdle or AgentsDelivery
	Duration      time.Duration // delivery: how long check-outs are made; idle: how long the agents wait
	Requesters    int           // delivery: concurrent check-out requests (default 16)
	Backend       string
}

// AgentsResult is what a run measured.
type AgentsResult struct {
	Backend      string    `json:"backend"`
	Server       string    `json:"server"`
	Mode         string    `json:"mode"`
	Agents       int       `json:"agents"`
	Polling      int       `json:"polling"` // agents with a long-poll open at the measurement
	StartedAt    time.Time `json:"started_at"`
	Duration     time.Duration
	Ops          []OpStats `json:"ops"`
	CheckoutsSec float64   `json:"checkouts_per_sec"`
	// ServerRSSBytes is the server's resident memory with the agents
	// waiting (process_resident_memory_bytes); PeakRSSBytes its peak over
	// the run, set-up included.
	ServerRSSBytes int64  `json:"server_rss_bytes"`
	PeakRSSBytes   int64  `json:"peak_rss_bytes"`
	RSSSource      string `json:"rss_source"`
}

// WriteText prints the result for people.
func (r *AgentsResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "latchkey bench agents: mode %s, %d agents (%d long-polling), %s\n", r.Mode, r.Agents, r.Polling, r.Duration.Round(time.Millisecond))
	if len(r.Ops) > 0 {
		fmt.Fprintf(w, "%14s %7s %8s %8s %8s %8s\n", "op", "count", "ops/s", "p50 ms", "p99 ms", "max ms")
		for _, o := range r.Ops {
			fmt.Fprintf(w, "%14s %7d %8.1f %8.2f %8.2f %8.2f\n", o.Op, o.Count, o.OpsPerSec, o.P50ms, o.P99ms, o.MaxMs)
		}
		fmt.Fprintf(w, "check-outs completed (replied) per second: %.1f\n", r.CheckoutsSec)
	}
	fmt.Fprintf(w, "server RSS with the agents waiting: %.1f MiB; peak %.1f MiB (%s)\n",
		float64(r.ServerRSSBytes)/(1<<20), float64(r.PeakRSSBytes)/(1<<20), r.RSSSource)
}

// simAgent is one simulated agent: a terminal and its own connection.
type simAgent struct {
	id, token string
	c         *client.Client
	polling   atomic.Bool
	// sent is when the check-out now outstanding on the terminal was
	// requested; got receives the delivery.
	mu   sync.Mutex
	sent time.Time
	got  chan time.Duration
}

// RunAgents runs the agents benchmark against a server.
func RunAgents(ctx context.Context, cfg AgentsConfig, progress io.Writer) (*AgentsResult, error) {
	var err error
	if cfg.Server, cfg.AdminIdentity, err = checkTarget(cfg.Server, cfg.AdminIdentity, cfg.AdminPassword, "the run registers its terminals"); err != nil {
		return nil, err
	}
	if cfg.Agents == 0 {
		cfg.Agents = 1000
	}
	if cfg.Agents < 1 || cfg.Agents > 20000 {
		return nil, fmt.Errorf("bench: agents must be 1 to 20000")
	}
	if cfg.Duration, err = checkDuration(cfg.Duration); err != nil {
		return nil, err
	}
	if cfg.Requesters == 0 {
		cfg.Requesters = 16
	}
	if cfg.Mode != AgentsIdle && cfg.Mode != AgentsDelivery {
		return nil, fmt.Errorf("bench: mode must be %s or %s", AgentsIdle, AgentsDelivery)
	}
	if progress == nil {
		progress = io.Discard
	}
	hc, closeIdle := benchHTTP(cfg.Requesters)
	defer closeIdle()
	admin, logout, err := adminLogin(ctx, hc, cfg.Server, cfg.AdminIdentity, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	defer logout()
	res := &AgentsResult{Backend: cfg.Backend, Server: cfg.Server, Mode: cfg.Mode, Agents: cfg.Agents}

	// Set-up: a site, the terminals, one person with one identity and a
	// group set everybody may use.
	tag := fmt.Sprintf("%x", rand.Uint32())
	site, err := admin.CreateSite(ctx, client.SiteCreate{Name: "bench agents " + tag})
	if err != nil {
		return nil, err
	}
	p, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: "bench-agent-user-" + tag, Role: latchkey.RoleUser})
	if err != nil {
		return nil, err
	}
	if _, err := admin.AddIdentity(ctx, p.ID, "benchuser"+tag, "bench-password-"+tag); err != nil {
		return nil, err
	}
	set, err := admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "bench-tools-" + tag, Groups: []string{"benchgrp"}})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	agents := make([]*simAgent, cfg.Agents)
	err = parallel(ctx, 16, cfg.Agents, func(ctx context.Context, i int) error {
		tm, err := admin.RegisterTerminal(ctx, fmt.Sprintf("bench agent %s %d", tag, i), site.ID)
		if err != nil {
			return err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 2, 2
		agents[i] = &simAgent{id: tm.ID, token: tm.Token, got: make(chan time.Duration, 1),
			c: client.New(cfg.Server, client.WithToken(tm.Token), client.WithHTTPClient(&http.Client{Transport: tr}))}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "registered %d terminals in %s\n", cfg.Agents, time.Since(t0).Round(time.Millisecond))

	rss := watchRSS(ctx, hc, cfg.Server)
	actx, stopAgents := context.WithCancel(ctx)
	var agentsWG sync.WaitGroup
	var replyErrs atomic.Int64
	for _, a := range agents {
		agentsWG.Add(1)
		go func() {
			defer agentsWG.Done()
			a.run(actx, &replyErrs)
		}()
	}
	defer func() { stopAgents(); agentsWG.Wait() }()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := 0
		for _, a := range agents {
			if a.polling.Load() {
				n++
			}
		}
		if n == cfg.Agents || time.Now().After(deadline) {
			fmt.Fprintf(progress, "%d of %d agents long-polling after %s\n", n, cfg.Agents, time.Since(t0).Round(time.Millisecond))
			res.Polling = n
			break
		}
	}

	res.StartedAt = time.Now().UTC()
	start := time.Now()
	if cfg.Mode == AgentsIdle {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Duration):
		}
	} else if err := runDeliveries(ctx, cfg, admin, set.ID, p.ID, agents, res, start); err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	if body, err := scrapeMetrics(ctx, hc, cfg.Server); err == nil {
		if v, found, err := MetricValue(bytes.NewReader(body), "process_resident_memory_bytes"); err == nil && found {
			res.ServerRSSBytes = int64(v)
		}
	}
	res.PeakRSSBytes, res.RSSSource = rss.finish(context.WithoutCancel(ctx))
	if n := replyErrs.Load(); n > 0 {
		return res, fmt.Errorf("bench: %d agent calls failed", n)
	}
	return res, nil
}

// run is one agent: long-poll, note deliveries, reply at once.
func (a *simAgent) run(ctx context.Context, errs *atomic.Int64) {
	for ctx.Err() == nil {
		a.polling.Store(true)
		ins, err := a.c.PollInstructions(ctx, 30*time.Second)
		a.polling.Store(false)
		if err != nil {
			if ctx.Err() == nil {
				errs.Add(1)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		for _, in := range ins {
			a.mu.Lock()
			lat := time.Since(a.sent)
			a.mu.Unlock()
			if err := a.c.ReplyInstruction(ctx, in.ID, latchkey.Reply{Result: "ok"}); err != nil && ctx.Err() == nil {
				errs.Add(1)
			}
			select {
			case a.got <- lat:
			default:
			}
		}
	}
}

// runDeliveries makes check-outs for random idle agents from Requesters
// goroutines, each waiting for its delivery and the agent's reply before
// the next.
func runDeliveries(ctx context.Context, cfg AgentsConfig, admin *client.Client, set, principal string, agents []*simAgent, res *AgentsResult, start time.Time) error {
	var mu sync.Mutex
	var request, delivery []time.Duration
	busy := make([]atomic.Bool, len(agents))
	var calls atomic.Int64
	err := drive(ctx, cfg.Requesters, cfg.Duration, "check-outs", &calls, io.Discard, func(ctx context.Context, _ int) error {
		i := rand.N(len(agents))
		if !busy[i].CompareAndSwap(false, true) {
			return nil
		}
		defer busy[i].Store(false)
		a := agents[i]
		a.mu.Lock()
		a.sent = time.Now()
		a.mu.Unlock()
		t := time.Now()
		_, err := admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set, Terminal: a.id, Principal: principal, Minutes: 60})
		if err != nil {
			return err
		}
		req := time.Since(t)
		calls.Add(1)
		select {
		case lat := <-a.got:
			mu.Lock()
			request, delivery = append(request, req), append(delivery, lat)
			mu.Unlock()
		case <-time.After(30 * time.Second):
			return fmt.Errorf("bench: agent %s never got its check-out", a.id)
		case <-ctx.Done():
			return nil
		}
		// The reply unlocks the group; wait until it is through so the
		// next check-out on this terminal is not refused.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if tm, err := admin.GetTerminal(ctx, a.id); err == nil && len(tm.LockedGroups) == 0 {
				return nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return ctx.Err()
			}
		}
	})
	if err != nil && ctx.Err() == nil {
		return err
	}
	el := time.Since(start)
	res.Ops = []OpStats{Summarize("checkout_call", request, 0, el), Summarize("delivery", delivery, 0, el)}
	res.CheckoutsSec = float64(len(delivery)) / el.Seconds()
	return nil
}
