package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
	"latchkey/client"
)

// RequestsConfig configures `latchkey bench requests`: access requests on
// a set that needs approval, approved by an admin, provisioned to
// simulated agents (goroutines that long-poll GET /v1/agent/instructions
// with their terminal's token and answer ok at once).
type RequestsConfig struct {
	Server        string
	AdminIdentity string
	AdminPassword string
	Agents        int           // simulated agents (default 100)
	Requesters    int           // requests under way at once (default 16)
	Duration      time.Duration // how long requests are made (default 20s)
	Backend       string
}

// RequestsResult is what RunRequests measured.
type RequestsResult struct {
	Backend    string        `json:"backend,omitempty"`
	Server     string        `json:"server"`
	Agents     int           `json:"agents"`
	Polling    int           `json:"polling"`
	Requesters int           `json:"requesters"`
	StartedAt  time.Time     `json:"started_at"`
	Duration   time.Duration `json:"duration_ns"`
	// Active is how many requests became active in the run, ActivePerSec
	// the rate.
	Active       int     `json:"active"`
	ActivePerSec float64 `json:"active_per_sec"`
	// Ops: "create" (POST /v1/requests), "approve" (POST
	// /v1/workitems/{id}/decide), "approve_to_active" (from sending the
	// approval until the requester's event stream shows request.active:
	// the workflow's provisioning, the agent's delivery and reply
	// included), "cancel" (POST /v1/requests/{id}/cancel, which checks the
	// grant in).
	Ops     []OpStats `json:"ops"`
	LoadAvg string    `json:"loadavg"`
}

// WriteText prints the result for people.
func (r *RequestsResult) WriteText(w io.Writer) {
	backend := ""
	if r.Backend != "" {
		backend = ", backend " + r.Backend
	}
	fmt.Fprintf(w, "latchkey bench requests: %d simulated agents (%d long-polling), %d requesters, %s%s\n",
		r.Agents, r.Polling, r.Requesters, r.Duration.Round(time.Millisecond), backend)
	fmt.Fprintf(w, "%18s %7s %8s %8s %8s %8s\n", "op", "count", "ops/s", "p50 ms", "p99 ms", "max ms")
	for _, o := range r.Ops {
		fmt.Fprintf(w, "%18s %7d %8.1f %8.2f %8.2f %8.2f\n", o.Op, o.Count, o.OpsPerSec, o.P50ms, o.P99ms, o.MaxMs)
	}
	fmt.Fprintf(w, "requests approved → active: %d, %.1f per second (load average %s)\n", r.Active, r.ActivePerSec, r.LoadAvg)
}

// RunRequests runs the requests benchmark against a server.
func RunRequests(ctx context.Context, cfg RequestsConfig, progress io.Writer) (*RequestsResult, error) {
	var err error
	if cfg.Server, cfg.AdminIdentity, err = checkTarget(cfg.Server, cfg.AdminIdentity, cfg.AdminPassword, "the run registers terminals and approves"); err != nil {
		return nil, err
	}
	if cfg.Agents == 0 {
		cfg.Agents = 100
	}
	if cfg.Requesters == 0 {
		cfg.Requesters = 16
	}
	if cfg.Agents < 1 || cfg.Agents > 20000 || cfg.Requesters < 1 || cfg.Requesters > cfg.Agents {
		return nil, fmt.Errorf("bench: agents must be 1 to 20000 and requesters 1 to the agents")
	}
	if cfg.Duration, err = checkDuration(cfg.Duration); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	hc, closeIdle := benchHTTP(2 * cfg.Requesters)
	defer closeIdle()
	admin, logout, err := adminLogin(ctx, hc, cfg.Server, cfg.AdminIdentity, cfg.AdminPassword)
	if err != nil {
		return nil, err
	}
	defer logout()
	res := &RequestsResult{Backend: cfg.Backend, Server: cfg.Server, Agents: cfg.Agents, Requesters: cfg.Requesters}

	// A site, the terminals, a requester eligible for a set that needs
	// approval (any admin approves).
	tag := fmt.Sprintf("%x", rand.Uint32())
	site, err := admin.CreateSite(ctx, client.SiteCreate{Name: "bench requests " + tag})
	if err != nil {
		return nil, err
	}
	p, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: "bench-requester-" + tag, Role: latchkey.RoleUser})
	if err != nil {
		return nil, err
	}
	login, password := "benchreq"+tag, "bench-password-"+tag
	if _, err := admin.AddIdentity(ctx, p.ID, login, password); err != nil {
		return nil, err
	}
	tok, err := client.New(cfg.Server, client.WithHTTPClient(hc)).Login(ctx, login, password)
	if err != nil {
		return nil, err
	}
	requester := client.New(cfg.Server, client.WithHTTPClient(hc), client.WithToken(tok.Token))
	defer requester.Logout(context.WithoutCancel(ctx))
	set, err := admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "bench-approval-" + tag, Groups: []string{"benchapprove"},
		Eligible: []string{p.ID}, Approval: true})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	agents := make([]*simAgent, cfg.Agents)
	err = parallel(ctx, 16, cfg.Agents, func(ctx context.Context, i int) error {
		tm, err := admin.RegisterTerminal(ctx, fmt.Sprintf("bench requests %s %d", tag, i), site.ID)
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
	actx, stopAgents := context.WithCancel(ctx)
	var agentsWG sync.WaitGroup
	var replyErrs atomic.Int64
	for _, a := range agents {
		agentsWG.Add(1)
		go func() { defer agentsWG.Done(); a.run(actx, &replyErrs) }()
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
			res.Polling = n
			break
		}
	}
	fmt.Fprintf(progress, "%d terminals registered, %d agents long-polling after %s\n", cfg.Agents, res.Polling, time.Since(t0).Round(time.Millisecond))

	// The requester's event stream tells each requester when its request
	// is active.
	w := &activeWaiters{ch: map[string]chan time.Time{}}
	stream := requester.Events(actx, []string{"requests"}, client.FromNow)
	if err := stream.Connect(); err != nil {
		return nil, fmt.Errorf("bench: event stream: %w", err)
	}
	go func() {
		defer stream.Close()
		for {
			ev, err := stream.Next()
			if err != nil {
				return
			}
			if ev.Action == latchkey.ActionRequestActive {
				w.send(ev.Target, time.Now())
			}
		}
	}()

	var mu sync.Mutex
	samples := map[string][]time.Duration{}
	note := func(op string, d time.Duration) {
		mu.Lock()
		samples[op] = append(samples[op], d)
		mu.Unlock()
	}
	busy := make([]atomic.Bool, len(agents))
	var calls atomic.Int64
	res.StartedAt = time.Now().UTC()
	start := time.Now()
	err = drive(ctx, cfg.Requesters, cfg.Duration, "active", &calls, progress, func(ctx context.Context, _ int) error {
		i := rand.N(len(agents))
		if !busy[i].CompareAndSwap(false, true) {
			return nil
		}
		defer busy[i].Store(false)
		a := agents[i]
		t := time.Now()
		r, err := requester.CreateRequest(ctx, latchkey.RequestCreate{GroupSet: set.ID, Terminals: []string{a.id}, Minutes: 60, Reason: "bench"})
		if err != nil {
			return fmt.Errorf("create request: %w", err)
		}
		note("create", time.Since(t))
		active := w.get(r.ID)
		defer w.drop(r.ID)
		item, err := findItem(ctx, admin, r.ID)
		if err != nil {
			return err
		}
		sent := time.Now()
		if _, err := admin.DecideWorkItem(ctx, item, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove}); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		note("approve", time.Since(sent))
		select {
		case at := <-active:
			note("approve_to_active", at.Sub(sent))
			calls.Add(1)
		case <-time.After(30 * time.Second):
			return fmt.Errorf("bench: request %s not active within 30 s of its approval", r.ID)
		case <-ctx.Done():
			return nil
		}
		t = time.Now()
		if _, err := requester.CancelRequest(ctx, r.ID); err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		note("cancel", time.Since(t))
		// The check-in locks the group until the agent replies; the next
		// request on this terminal waits until it is free.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if tm, err := admin.GetTerminal(ctx, a.id); err == nil && !slices.Contains(tm.LockedGroups, "benchapprove") {
				return nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return ctx.Err()
			}
		}
	})
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	for _, op := range []string{"create", "approve", "approve_to_active", "cancel"} {
		res.Ops = append(res.Ops, Summarize(op, samples[op], 0, res.Duration))
	}
	res.Active = len(samples["approve_to_active"])
	res.ActivePerSec = float64(res.Active) / res.Duration.Seconds()
	res.LoadAvg = loadavg()
	if n := replyErrs.Load(); n > 0 {
		return res, fmt.Errorf("bench: %d agent calls failed", n)
	}
	return res, nil
}

// findItem is the open work item of request (made with it).
func findItem(ctx context.Context, admin *client.Client, request string) (string, error) {
	for range 50 {
		items, _, err := admin.ListWorkItems(ctx, latchkey.WorkItemOpen, latchkey.Page{Limit: 500})
		if err != nil {
			return "", fmt.Errorf("list work items: %w", err)
		}
		for _, it := range items {
			if it.Request == request {
				return it.ID, nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", fmt.Errorf("bench: no open work item for request %s", request)
}

// activeWaiters hands each request's request.active to its requester
// (who waits from before the approval).
type activeWaiters struct {
	mu sync.Mutex
	ch map[string]chan time.Time
}

func (w *activeWaiters) get(id string) chan time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.ch[id]
	if !ok {
		c = make(chan time.Time, 1)
		w.ch[id] = c
	}
	return c
}

func (w *activeWaiters) send(id string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.ch[id]; ok {
		select {
		case c <- at:
		default:
		}
	}
}

func (w *activeWaiters) drop(id string) {
	w.mu.Lock()
	delete(w.ch, id)
	w.mu.Unlock()
}
