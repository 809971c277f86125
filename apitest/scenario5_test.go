package apitest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
)

// simAgent is a simulated terminal agent for a thousand terminals: it
// long-polls its instructions, applies each once to the groups it keeps
// in memory (a re-delivery is only answered again, as the journal does),
// answers inventories from them, and counts what it applied. With lose it
// drops every grant that is not a correction: a grant lost behind
// latchkey's back.
type simAgent struct {
	c       *client.Client
	lose    bool
	mu      sync.Mutex
	members map[latchkey.MemberKey]bool
	applied map[string]bool
	fixes   []string
}

func newSimAgent(c *client.Client, lose bool, members ...latchkey.MemberKey) *simAgent {
	a := &simAgent{c: c, lose: lose, members: map[latchkey.MemberKey]bool{}, applied: map[string]bool{}}
	for _, k := range members {
		a.members[k] = true
	}
	return a
}

func (a *simAgent) run(ctx context.Context) {
	for ctx.Err() == nil {
		ins, err := a.c.PollInstructions(ctx, 5*time.Second)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		for _, in := range ins {
			_ = a.c.ReplyInstruction(ctx, in.ID, a.handle(in)) // a lost reply: re-delivered, answered again
		}
	}
}

func (a *simAgent) handle(in latchkey.Instruction) latchkey.Reply {
	a.mu.Lock()
	defer a.mu.Unlock()
	if in.Kind == latchkey.InstrInventory {
		r := latchkey.Reply{Result: latchkey.ReplyOK, Members: map[string][]string{}}
		for _, g := range in.Groups {
			r.Members[g] = []string{}
			for k := range a.members {
				if k.Group == g {
					r.Members[g] = append(r.Members[g], k.Login)
				}
			}
		}
		return r
	}
	if !a.applied[in.ID] {
		a.applied[in.ID] = true
		if in.Fix {
			a.fixes = append(a.fixes, in.ID)
		}
		for _, g := range in.Groups {
			k := latchkey.MemberKey{Group: g, Login: in.Login}
			switch {
			case in.Kind == latchkey.InstrCheckin:
				delete(a.members, k)
			case !a.lose || in.Fix:
				a.members[k] = true
			}
		}
	}
	return latchkey.Reply{Result: latchkey.ReplyOK}
}

func (a *simAgent) state() (members []latchkey.MemberKey, fixes []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := range a.members {
		members = append(members, k)
	}
	return members, slices.Clone(a.fixes)
}

// Scenario 5 (failover-scenarios.txt): the node running a long
// reconciliation dies part-way. In the seed the task starts again from
// the beginning; here a live node takes it over within seconds and
// resumes after the last checkpoint: a thousand simulated agents, the
// node killed at terminal 700, the task completes exactly once (one
// result, one task.done record), progress never goes back by more than
// one checkpoint, and each drifted terminal gets exactly one correction,
// applied once.
func TestScenario5ReconcileNodeDiesAtTerminal700(t *testing.T) {
	t.Parallel()
	const terminals, batch = 1000, 100
	c := newCluster(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	site, err := c.admin.CreateSite(ctx, client.SiteCreate{Name: "district"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "counter tools", Groups: []string{"wheel"}, Eligible: []string{c.annID}})
	if err != nil {
		t.Fatal(err)
	}
	// A thousand terminals, registered eight at a time.
	terms := make([]*latchkey.Terminal, terminals)
	var wg sync.WaitGroup
	errs := make(chan error, terminals)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < terminals; i += 8 {
				tm, err := c.admin.RegisterTerminal(ctx, fmt.Sprintf("pc%04d", i), site.ID)
				if err != nil {
					errs <- err
					return
				}
				terms[i] = tm
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.SortFunc(terms, func(a, b *latchkey.Terminal) int { return strings.Compare(a.ID, b.ID) }) // the reconciliation's order
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, n.URL)
	}
	// Every tenth terminal has a member nobody granted; ann checks out
	// on the first five, and the agents of the first two lose the grant.
	intruder := latchkey.MemberKey{Group: "wheel", Login: "intruder"}
	agents := make([]*simAgent, terminals)
	var running sync.WaitGroup
	for i, tm := range terms {
		rot := append(slices.Clone(urls[i%3:]), urls[:i%3]...) // spread over the nodes, failing over to the others
		var planted []latchkey.MemberKey
		if i%10 == 3 {
			planted = append(planted, intruder)
		}
		agents[i] = newSimAgent(client.New(strings.Join(rot, ","), client.WithToken(tm.Token)), i < 2, planted...)
		running.Add(1)
		go func() { defer running.Done(); agents[i].run(ctx) }()
	}
	defer func() { cancel(); running.Wait() }()
	for i := range 5 {
		co, err := c.admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: terms[i].ID, Principal: c.annID, Minutes: 60})
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if got, err := c.admin.GetCheckout(ctx, co.ID); err == nil && got.Status == latchkey.CheckedOut {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("check-out %d never checked out", i)
			}
		}
	}

	x, err := c.admin.CreateTask(ctx, latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(fmt.Sprintf(`{"fix":true,"batch":%d,"wait":"30s"}`, batch))})
	if err != nil {
		t.Fatal(err)
	}
	var seen []int // progress observed, in order
	var killed string
	var killedAt time.Time
	var killedDone int
	var takeover time.Duration
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the reconciliation did not end; progress seen %v", seen)
		}
		got, err := c.admin.GetTask(ctx, x.ID)
		if err != nil {
			continue // the balancer found the dead node
		}
		if len(seen) == 0 || seen[len(seen)-1] != got.Progress.Done {
			seen = append(seen, got.Progress.Done)
		}
		if killed == "" && got.Status == latchkey.TaskRunning && got.Progress.Done >= 700 {
			if got.Progress.Done >= 900 {
				t.Fatalf("the task went too fast to be killed at terminal 700: %+v", got)
			}
			killed, killedAt, killedDone = got.Node, time.Now(), got.Progress.Done
			c.nodeOf(killed).kill()
			continue
		}
		if killed != "" && takeover == 0 && got.Node != killed {
			takeover = time.Since(killedAt)
		}
		if got.Status == latchkey.TaskDone || got.Status == latchkey.TaskFailed {
			if got.Status != latchkey.TaskDone || got.Progress != (latchkey.TaskProgress{Done: terminals, Total: terminals}) || got.Attempts != 2 || got.Node == killed {
				t.Fatalf("the task at its end: %+v (killed %s)", got, killed)
			}
			break
		}
	}
	t.Logf("node %s killed at terminal %d; a live node took the task over %s later; progress seen %v", killed, killedDone, takeover.Round(time.Millisecond), seen)
	if takeover > 5*time.Second {
		t.Errorf("takeover took %s, more than 5 s", takeover)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1]-batch {
			t.Fatalf("progress went back by more than one checkpoint: %v", seen)
		}
	}

	var out strings.Builder
	if _, err := c.admin.TaskResult(ctx, x.ID, &out); err != nil {
		t.Fatal(err)
	}
	var r latchkey.ReconcileResult
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%d terminals, %d answered, %d unreachable, %d drifted, %d unexpected, %d missing, %d fixes",
		r.Terminals, r.Answered, r.Unreachable, r.Drifted, r.Unexpected, r.Missing, r.Fixes)
	if sum != "1000 terminals, 1000 answered, 0 unreachable, 102 drifted, 100 unexpected, 2 missing, 102 fixes" {
		t.Fatalf("result: %s", sum)
	}
	// Each correction issued once and applied once; afterwards every
	// terminal holds exactly latchkey's grants.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		pending := 0
		for i, a := range agents {
			members, fixes := a.state()
			want, wantFixes := "[]", 0
			if i < 5 {
				want = "[{wheel ann}]"
			}
			if i%10 == 3 || i < 2 {
				wantFixes = 1
			}
			if len(fixes) > wantFixes {
				t.Fatalf("terminal %d got %d corrections: %v", i, len(fixes), fixes)
			}
			if fmt.Sprint(members) != want || len(fixes) != wantFixes {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d terminals still differ from latchkey's grants", pending)
		}
	}
	counts := map[latchkey.Action]int{}
	for after := int64(0); ; {
		recs, _, err := c.admin.ListAudit(ctx, latchkey.AuditFilter{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			if rec.Target == x.ID {
				counts[rec.Action]++
			}
			after = rec.Seq
		}
	}
	if counts[latchkey.ActionTaskDone] != 1 || counts[latchkey.ActionTaskFix] != 102 {
		t.Fatalf("audit of the task: %v (want one task.done, 102 task.fix)", counts)
	}
}
