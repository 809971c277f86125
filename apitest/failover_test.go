package apitest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// cluster is three real `serve` nodes on one PostgreSQL database behind a
// balancer, with a site, terminals, a requester (ann, eligible) and the
// admin.
type cluster struct {
	t      *testing.T
	nodes  []*proc
	lb     *balancer
	admin  *client.Client // through the balancer
	ann    *client.Client // through the balancer
	annID  string
	terms  []*latchkey.Terminal
	agents map[string]string // terminal ID → the agent's groups file
}

var clusterFlags = []string{"--heartbeat", "200ms", "--node-dead-after", "1s", "--drain-wait", "0s",
	"--instruction-lock", "2s", "--sweep-interval", "200ms", "--pg-conns", "8"} // three nodes per test, several tests at once: within max_connections

func newCluster(t *testing.T, terminals int, extra ...string) *cluster {
	t.Helper()
	latchkeyBinary(t)
	storeURL := sqlstoretest.Postgres().URL(t)
	c := &cluster{t: t, agents: map[string]string{}}
	var urls []string
	for range 3 {
		p := startServer(t, storeURL, t.TempDir(), append(append([]string{}, clusterFlags...), extra...)...)
		c.nodes = append(c.nodes, p)
		urls = append(urls, p.URL)
	}
	c.lb = newBalancer(t, urls...)
	ctx := context.Background()
	tok := c.nodes[0].adminLogin(t).Token()
	c.admin = client.New(c.lb.srv.URL, client.WithToken(tok))
	site, err := c.admin.CreateSite(ctx, client.SiteCreate{Name: "branch"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range terminals {
		term, err := c.admin.RegisterTerminal(ctx, "ws"+string(rune('1'+i)), site.ID)
		if err != nil {
			t.Fatal(err)
		}
		c.terms = append(c.terms, term)
	}
	ann, err := c.admin.CreatePrincipal(ctx, latchkey.Principal{Name: "ann", Role: latchkey.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.admin.AddIdentity(ctx, ann.ID, "ann", pw("ann")); err != nil {
		t.Fatal(err)
	}
	c.annID = ann.ID
	annTok, err := client.New(c.lb.srv.URL).Login(ctx, "ann", pw("ann"))
	if err != nil {
		t.Fatal(err)
	}
	c.ann = client.New(c.lb.srv.URL, client.WithToken(annTok.Token))
	return c
}

// startAgent runs terminal i's agent, talking to the cluster through the
// balancer.
func (c *cluster) startAgent(i int) {
	c.t.Helper()
	groups := filepath.Join(c.t.TempDir(), "groups")
	c.agents[c.terms[i].ID] = groups
	startAgent(c.t, c.lb.srv.URL, c.terms[i].Token, filepath.Join(c.t.TempDir(), "state"), groups)
}

// grants counts the times terminal i's agent applied the grant of group
// to ann (its executor's log).
func (c *cluster) grants(i int, group string) int {
	b, _ := os.ReadFile(c.agents[c.terms[i].ID] + ".log")
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "+ "+group+" ann ") {
			n++
		}
	}
	return n
}

// nodeOf is the node process with the ID the registry lists.
func (c *cluster) nodeOf(id string) *proc {
	c.t.Helper()
	nodes, err := c.admin.Nodes(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID != id {
			continue
		}
		for _, p := range c.nodes {
			if strings.TrimPrefix(p.URL, "http://") == n.Addr {
				return p
			}
		}
	}
	c.t.Fatalf("no node process for %s in %+v", id, nodes)
	return nil
}

// wait polls the request (through the balancer) until ok, for at most
// within.
func (c *cluster) wait(id string, within time.Duration, what string, ok func(*latchkey.Request, *latchkey.Workflow) bool) (*latchkey.Request, *latchkey.Workflow) {
	c.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		r, err := c.admin.GetRequest(ctx, id)
		if err == nil {
			wf, err := c.admin.GetWorkflow(ctx, r.Workflow)
			if err == nil && ok(r, wf) {
				return r, wf
			}
		}
		if time.Now().After(deadline) {
			r, _ := c.admin.GetRequest(ctx, id)
			c.t.Fatalf("%s: not within %s: %+v", what, within, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) groupSet(approval bool) *latchkey.GroupSet {
	c.t.Helper()
	set, err := c.admin.CreateGroupSet(context.Background(), latchkey.GroupSet{Name: "root tools", Groups: []string{"adm"},
		Eligible: []string{c.annID}, Approval: approval})
	if err != nil {
		c.t.Fatal(err)
	}
	return set
}

// Scenarios 2 and 8 (failover-scenarios.txt): the node running a
// workflow dies while it provisions terminal 2 of 3, terminal 1 done. In
// the seed the workflow is terminated and the user resubmits, accounting
// by hand for what was provisioned. Here nobody resubmits: a live node
// resumes at the first step not done, terminal 1 is not provisioned again,
// and each agent applies its grant once.
func TestScenario2WorkflowInProgressNodeDies(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3)
	ctx := context.Background()
	set := c.groupSet(false)
	c.startAgent(0)
	r, err := c.ann.CreateRequest(ctx, latchkey.RequestCreate{GroupSet: set.ID, Terminals: []string{c.terms[0].ID, c.terms[1].ID, c.terms[2].ID}, Minutes: 30})
	if err != nil {
		t.Fatal(err)
	}
	_, wf := c.wait(r.ID, 20*time.Second, "terminal 1 provisioned, terminal 2 under way", func(_ *latchkey.Request, wf *latchkey.Workflow) bool {
		return wf.Steps[1].Status == latchkey.StepDone && wf.Steps[2].Status == latchkey.StepRunning && wf.Steps[2].Checkout != ""
	})
	dead := wf.Steps[2].Node
	victim := c.nodeOf(dead)
	victim.kill()
	killedAt := time.Now()
	c.startAgent(1)
	c.startAgent(2)
	done, wf := c.wait(r.ID, 30*time.Second, "the request active after the node died", func(r *latchkey.Request, _ *latchkey.Workflow) bool {
		return r.Status == latchkey.RequestActive
	})
	t.Logf("active %s after the SIGKILL of %s", time.Since(killedAt).Round(time.Millisecond), dead)
	if len(done.Checkouts) != 3 || done.Checkouts[0] != wf.Steps[1].Checkout {
		t.Fatalf("check-outs %v, steps %+v", done.Checkouts, wf.Steps)
	}
	for i, s := range wf.Steps {
		if s.Status != latchkey.StepDone && !(i == 0 && s.Status == latchkey.StepSkipped) {
			t.Errorf("step %s: %s", s.Name, s.Status)
		}
	}
	if wf.Steps[3].Node == dead || wf.Steps[4].Node == dead {
		t.Errorf("steps after the death ran on the dead node: %+v", wf.Steps)
	}
	for i := range c.terms {
		if n := c.grants(i, "adm"); n != 1 {
			t.Errorf("terminal %d's agent applied the grant %d times, want once", i+1, n)
		}
	}
	recs, _, err := c.admin.ListAudit(ctx, latchkey.AuditFilter{Action: string(latchkey.ActionCheckoutRequest), Limit: 100})
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d check-outs made (%v), want 3: one per terminal, none twice", len(recs), err)
	}
	if reqs, _, _ := c.admin.ListRequests(ctx, latchkey.RequestFilter{}); len(reqs) != 1 {
		t.Fatalf("%d requests: nothing was resubmitted", len(reqs))
	}
}

// Scenarios 3 and 4: the node that made a request dies while the request
// waits for its approver; the approver, on another node, still finds it
// in the inbox. The approver's decision goes to a node that dies as it
// answers; the approver submits again through the balancer and gets the
// same answer, and the decision is applied once.
func TestScenario3And4ApprovalAcrossNodeDeaths(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	ctx := context.Background()
	set := c.groupSet(true)
	// ann asks on node 1 directly, which then dies.
	annTok := c.ann.Token()
	r, err := c.nodes[1].client(annTok).CreateRequest(ctx, latchkey.RequestCreate{GroupSet: set.ID, Terminals: []string{c.terms[0].ID}, Minutes: 30})
	if err != nil || r.Status != latchkey.RequestWaitingApproval {
		t.Fatalf("create: %+v, %v", r, err)
	}
	c.nodes[1].kill()
	items, _, err := c.admin.ListWorkItems(ctx, latchkey.WorkItemOpen, latchkey.Page{})
	if err != nil || len(items) != 1 || items[0].Request != r.ID {
		t.Fatalf("the inbox after the node died: %+v, %v", items, err)
	}
	// The decision reaches node 2, which is killed at once: whether it
	// committed or not, the approver's second submit answers the same.
	decide := latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove, Comment: "go"}
	first := make(chan error, 1)
	go func() {
		_, err := c.nodes[2].client(c.admin.Token()).DecideWorkItem(ctx, items[0].ID, decide)
		first <- err
	}()
	c.nodes[2].kill()
	<-first
	got, err := c.admin.DecideWorkItem(ctx, items[0].ID, decide)
	if err != nil || got.Status != latchkey.WorkItemDone || got.Decision != latchkey.DecisionApprove {
		t.Fatalf("the decision submitted again: %+v, %v", got, err)
	}
	c.startAgent(0)
	c.wait(r.ID, 30*time.Second, "the request active on the one node left", func(r *latchkey.Request, _ *latchkey.Workflow) bool {
		return r.Status == latchkey.RequestActive
	})
	recs, _, err := c.admin.ListAudit(ctx, latchkey.AuditFilter{Action: string(latchkey.ActionRequestDecide), Limit: 10})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d decisions recorded (%v), want one", len(recs), err)
	}
	if n := c.grants(0, "adm"); n != 1 {
		t.Fatalf("the agent applied the grant %d times", n)
	}
}

// Scenario 7: a request sent through the balancer to a node that has just
// died never reached it; the balancer sends it to a live node, which runs
// it. Nothing for the user to do.
func TestScenario7RequestToADeadNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	ctx := context.Background()
	set := c.groupSet(false)
	c.nodes[0].kill()
	c.nodes[2].kill()
	c.startAgent(0)
	for i := range 3 { // whichever node the balancer tries first
		r, err := c.ann.CreateRequest(ctx, latchkey.RequestCreate{GroupSet: set.ID, Terminals: []string{c.terms[0].ID}, Minutes: 1 + i})
		if err != nil {
			t.Fatalf("request %d through the balancer with two nodes dead: %v", i, err)
		}
		c.wait(r.ID, 30*time.Second, "active", func(r *latchkey.Request, _ *latchkey.Workflow) bool { return r.Status == latchkey.RequestActive })
		if _, err := c.ann.CancelRequest(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// Scenario 8 without a balancer: the requester's client and the agent are
// given every node's URL. The node they talk to is SIGKILLed; their next
// calls go to a live node, the request is made once and provisioned, and
// the agent applies its grant once.
func TestScenario8ClientsFailOverThemselves(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1)
	ctx := context.Background()
	set := c.groupSet(false)
	var urls []string
	for _, p := range c.nodes {
		urls = append(urls, p.URL)
	}
	all := strings.Join(urls, ",")
	ann := client.New(all, client.WithToken(c.ann.Token()))
	groups := filepath.Join(t.TempDir(), "groups")
	c.agents[c.terms[0].ID] = groups
	startAgent(t, all, c.terms[0].Token, filepath.Join(t.TempDir(), "state"), groups)
	if _, _, err := ann.ListRequests(ctx, latchkey.RequestFilter{}); err != nil { // settles on node 1
		t.Fatal(err)
	}
	c.nodes[0].kill()
	r, err := ann.CreateRequest(ctx, latchkey.RequestCreate{GroupSet: set.ID, Terminals: []string{c.terms[0].ID}, Minutes: 5})
	if err != nil {
		t.Fatalf("a request after the client's node died: %v", err)
	}
	if ann.BaseURL() == c.nodes[0].URL {
		t.Fatal("the client still talks to the dead node")
	}
	c.wait(r.ID, 30*time.Second, "active", func(r *latchkey.Request, _ *latchkey.Workflow) bool { return r.Status == latchkey.RequestActive })
	if reqs, _, _ := c.admin.ListRequests(ctx, latchkey.RequestFilter{}); len(reqs) != 1 {
		t.Fatalf("%d requests, want the one", len(reqs))
	}
	if n := c.grants(0, "adm"); n != 1 {
		t.Fatalf("the agent applied the grant %d times", n)
	}
}

// Scenario 6: a task scheduled for later by a node that is dead when the
// time comes runs on a live node at its time (scenario 5 is in
// scenario5_test.go).
func TestScenario6TaskDueWhileItsNodeIsDead(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0)
	ctx := context.Background()
	at := time.Now().Add(3 * time.Second).UTC()
	x, err := c.nodes[0].client(c.admin.Token()).CreateTask(ctx, latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, RunAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[0].kill()
	var done *latchkey.Task
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		done, err = c.admin.GetTask(ctx, x.ID)
		if err == nil && done.Status == latchkey.TaskDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task: %+v, %v", done, err)
		}
	}
	if done.StartedAt.Before(at) {
		t.Fatalf("ran at %s, before its time %s", done.StartedAt, at)
	}
	if late := done.StartedAt.Sub(at); late > 5*time.Second {
		t.Errorf("ran %s after its time", late)
	}
	if done.Node == "" || c.nodeOf(done.Node) == c.nodes[0] {
		t.Fatalf("ran on %q, the dead node", done.Node)
	}
	var out strings.Builder
	if ct, err := c.admin.TaskResult(ctx, x.ID, &out); err != nil || ct != "application/json" || !strings.Contains(out.String(), `"signature"`) {
		t.Fatalf("result %q (%s), %v", out.String(), ct, err)
	}
}
