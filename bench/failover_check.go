package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"latchkey"
)

// settle waits, at most cfg.Settle, until no request waits for approval
// or provisioning, no task is due or running and no acknowledged
// check-out is still checking out: the work the load left under way has
// ended. What has not is for the checks to report. (A check-out whose
// agent's reply was lost with a stopped node goes on when the instruction
// is delivered again, after --instruction-lock: CI run of b3a02ac, where
// the checks ran 4 s before that.)
func (s *soak) settle() error {
	until := time.Now().Add(s.cfg.Settle)
	for {
		pending, err := s.unsettled()
		if err == nil && pending == "" {
			return nil
		}
		if time.Now().After(until) {
			fmt.Fprintf(s.progress, "not settled within %s: %s%v\n", s.cfg.Settle, pending, err)
			return nil
		}
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *soak) unsettled() (string, error) {
	reqs, err := s.allRequests()
	if err != nil {
		return "", err
	}
	tasks, err := s.allTasks()
	if err != nil {
		return "", err
	}
	var out []string
	for _, r := range reqs {
		if r.Status == latchkey.RequestWaitingApproval || r.Status == latchkey.RequestProvisioning {
			out = append(out, "request "+r.ID+" "+string(r.Status))
		}
	}
	for _, x := range tasks {
		if x.Status == latchkey.TaskScheduled || x.Status == latchkey.TaskRunning {
			out = append(out, "task "+x.ID+" "+string(x.Status))
		}
	}
	checking, err := s.checkingOut()
	if err != nil {
		return "", err
	}
	out = append(out, checking...)
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more", len(out)-5))
	}
	return strings.Join(out, ", "), nil
}

// checkingOut lists the acknowledged check-outs, not checked in, that are
// still checking out.
func (s *soak) checkingOut() ([]string, error) {
	s.led.mu.Lock()
	checkouts := copyMap(s.led.checkouts)
	s.led.mu.Unlock()
	ctx, cancel := s.checkCtx()
	defer cancel()
	var out []string
	for _, id := range keys(checkouts) {
		if checkouts[id] { // checked in
			continue
		}
		x, err := s.admin.GetCheckout(ctx, id)
		if err != nil {
			return nil, err
		}
		if x.Status == latchkey.CheckingOut {
			out = append(out, "check-out "+id+" "+string(x.Status))
		}
	}
	return out, nil
}

// checkCtx is a context for the checks: they run after the load, bounded.
func (s *soak) checkCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, 2*time.Minute)
}

func (s *soak) allRequests() ([]latchkey.Request, error) {
	return allPages(s, func(ctx context.Context, p latchkey.Page) ([]latchkey.Request, string, error) {
		return s.admin.ListRequests(ctx, latchkey.RequestFilter{Page: p})
	})
}

func (s *soak) allTasks() ([]latchkey.Task, error) {
	return allPages(s, func(ctx context.Context, p latchkey.Page) ([]latchkey.Task, string, error) {
		return s.admin.ListTasks(ctx, latchkey.TaskFilter{Page: p})
	})
}

// allPages reads a list to its end, 200 at a time (at most a million).
func allPages[T any](s *soak, list func(context.Context, latchkey.Page) ([]T, string, error)) ([]T, error) {
	ctx, cancel := s.checkCtx()
	defer cancel()
	var out []T
	for after := ""; ; {
		page, next, err := list(ctx, latchkey.Page{Limit: 200, After: after})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" || len(out) > 1_000_000 {
			return out, nil
		}
		after = next
	}
}

// auditCount counts the audit records of action by target.
func (s *soak) auditCount(action latchkey.Action) (map[string]int, error) {
	ctx, cancel := s.checkCtx()
	defer cancel()
	out := map[string]int{}
	var after int64
	for range 100_000 {
		recs, next, err := s.admin.ListAudit(ctx, latchkey.AuditFilter{Action: string(action), After: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			out[r.Target]++
		}
		if next == "" {
			return out, nil
		}
		if _, err := fmt.Sscan(next, &after); err != nil {
			return nil, fmt.Errorf("audit cursor %q: %w", next, err)
		}
	}
	return out, nil
}

// check runs the checks after the settling and fills in the result.
func (s *soak) check() error {
	res := s.res
	s.faultsMu.Lock()
	res.Takeover = takeoverStats(res.Faults)
	for _, f := range res.Faults {
		if f.Signal == "SIGKILL" {
			res.Kills++
		} else {
			res.Stops++
		}
	}
	s.faultsMu.Unlock()
	s.led.mu.Lock()
	res.Acked = AckedCounts{Sessions: len(s.led.sessions), Checkouts: len(s.led.checkouts), Requests: len(s.led.requests),
		Decisions: s.led.decisions, Tasks: len(s.led.tasks), LockCycles: s.led.lockCycles}
	for _, out := range s.led.sessions {
		if out {
			res.Acked.Logouts++
		}
	}
	for _, in := range s.led.checkouts {
		if in {
			res.Acked.Checkins++
		}
	}
	for _, adopted := range s.led.requests {
		if adopted {
			res.Acked.Adopted++
		}
	}
	res.Observations, res.MaxUnlocked = s.led.observed, s.led.maxUnlock
	sessions, checkouts := copyMap(s.led.sessions), copyMap(s.led.checkouts)
	ackedReqs, ackedTasks := copyMap(s.led.requests), copyMap(s.led.tasks)
	seen := map[string][]string{}
	for k, v := range s.led.violations {
		seen[k] = append([]string{}, v...)
	}
	s.led.mu.Unlock()

	add := func(name string, problems []string, okDetail string) {
		inv := Invariant{Name: name, OK: len(problems) == 0, Detail: okDetail}
		if len(problems) > 0 {
			shown := problems
			if len(shown) > 5 {
				shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(problems)-5))
			}
			inv.Detail = strings.Join(shown, "; ")
		}
		res.Invariants = append(res.Invariants, inv)
	}

	// Every acknowledged write is there, as acknowledged.
	lost := append([]string{}, seen[violationLost]...)
	var mu sync.Mutex
	var failedCheckouts []string
	note := func(list *[]string, format string, args ...any) {
		mu.Lock()
		*list = append(*list, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	ctx, cancel := s.checkCtx()
	defer cancel()
	sessionIDs, checkoutIDs := keys(sessions), keys(checkouts)
	err := parallel(ctx, 8, len(sessionIDs)+len(checkoutIDs), func(ctx context.Context, i int) error {
		if i < len(sessionIDs) {
			id := sessionIDs[i]
			x, err := s.admin.GetSession(ctx, id)
			switch {
			case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
				note(&lost, "session %s (logon acknowledged) not found", id)
			case err != nil:
				return err
			case sessions[id] && x.Status != latchkey.SessionEnded:
				note(&lost, "session %s: logout acknowledged, now %s", id, x.Status)
			}
			return nil
		}
		id := checkoutIDs[i-len(sessionIDs)]
		x, err := s.admin.GetCheckout(ctx, id)
		switch {
		case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
			note(&lost, "check-out %s (acknowledged) not found", id)
		case err != nil:
			return err
		case checkouts[id] && x.Status != latchkey.CheckedIn:
			note(&lost, "check-out %s: check-in acknowledged, now %s", id, x.Status)
		case x.Status == latchkey.CheckoutFailed || x.Status == latchkey.CheckingOut:
			note(&failedCheckouts, "check-out %s %s %s", id, x.Status, x.EndReason)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench: read back the acknowledged writes: %w", err)
	}
	reqs, err := s.allRequests()
	if err != nil {
		return fmt.Errorf("bench: list requests: %w", err)
	}
	tasks, err := s.allTasks()
	if err != nil {
		return fmt.Errorf("bench: list tasks: %w", err)
	}
	reqByID := map[string]latchkey.Request{}
	for _, r := range reqs {
		reqByID[r.ID] = r
	}
	for id := range ackedReqs {
		if _, ok := reqByID[id]; !ok {
			lost = append(lost, fmt.Sprintf("request %s (acknowledged) not listed", id))
		}
	}
	taskByID := map[string]latchkey.Task{}
	for _, x := range tasks {
		taskByID[x.ID] = x
	}
	for id := range ackedTasks {
		if _, ok := taskByID[id]; !ok {
			lost = append(lost, fmt.Sprintf("task %s (acknowledged) not listed", id))
		}
	}
	sort.Strings(lost)
	add("no acknowledged write lost", lost, fmt.Sprintf("%d sessions (%d logouts), %d check-outs (%d check-ins), %d requests, %d tasks read back as acknowledged",
		len(sessions), res.Acked.Logouts, len(checkouts), res.Acked.Checkins, len(ackedReqs), len(ackedTasks)))
	add("edit locks read back as acknowledged", seen[violationLock], fmt.Sprintf("%d acquire/release cycles, each read back through a client starting at another node", res.Acked.LockCycles))
	sess := seen[violationSessions]
	if res.Observations == 0 {
		sess = append(sess, "no observation was made")
	}
	add("at most one unlocked session per person", sess, fmt.Sprintf("%d observations, at most %d unlocked", res.Observations, res.MaxUnlocked))

	// Every request active or done, its workflow done.
	var badReqs []string
	err = parallel(ctx, 8, len(reqs), func(ctx context.Context, i int) error {
		r := reqs[i]
		if r.Status != latchkey.RequestActive && r.Status != latchkey.RequestDone {
			note(&badReqs, "request %s %s %s", r.ID, r.Status, r.EndReason)
			return nil
		}
		wf, err := s.admin.GetWorkflow(ctx, r.Workflow)
		if err != nil {
			return err
		}
		if wf.Status != latchkey.WorkflowDone {
			note(&badReqs, "request %s %s: workflow %s %s", r.ID, r.Status, wf.ID, wf.Status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench: read the workflows: %w", err)
	}
	if len(reqs) == 0 {
		badReqs = append(badReqs, "no request was made")
	}
	add("every request active or done, its workflow done", badReqs, fmt.Sprintf("%d requests (%d made by calls whose answer was lost, found and driven on)", len(reqs), res.Acked.Adopted))
	add("no check-out failed or stuck", failedCheckouts, "")

	// Every task ran exactly once.
	done, err := s.auditCount(latchkey.ActionTaskDone)
	if err != nil {
		return fmt.Errorf("bench: audit: %w", err)
	}
	fails, err := s.auditCount(latchkey.ActionTaskFail)
	if err != nil {
		return fmt.Errorf("bench: audit: %w", err)
	}
	var badTasks []string
	for _, x := range tasks {
		if x.Status != latchkey.TaskDone || done[x.ID] != 1 || fails[x.ID] != 0 {
			badTasks = append(badTasks, fmt.Sprintf("task %s (%s) %s, %d task.done and %d task.fail records %s", x.ID, x.Kind, x.Status, done[x.ID], fails[x.ID], x.Error))
		}
	}
	if len(tasks) == 0 {
		badTasks = append(badTasks, "no task was made")
	}
	add("every task ran exactly once", badTasks, fmt.Sprintf("%d tasks, each done with one task.done record", len(tasks)))

	// Each agent applied each grant once.
	var dup []string
	for i, a := range s.agents {
		grants, d, err := grantLog(a.groups + ".log")
		if err != nil {
			dup = append(dup, fmt.Sprintf("agent %d: %v", i+1, err))
		}
		res.Acked.Grants += grants
		dup = append(dup, d...)
		if a.exited() {
			dup = append(dup, fmt.Sprintf("agent %d exited during the run", i+1))
		}
	}
	add("each agent applied each change once", dup, fmt.Sprintf("%d grants in the agents' logs, none twice for one instruction", res.Acked.Grants))

	resumes, err := s.auditCount(latchkey.ActionClusterResume)
	if err != nil {
		return fmt.Errorf("bench: audit: %w", err)
	}
	for _, n := range resumes {
		res.ClusterResumes += n
	}

	v, err := s.admin.VerifyAudit(ctx)
	switch {
	case err != nil:
		add("the audit chain verifies", []string{err.Error()}, "")
	case !v.OK:
		add("the audit chain verifies", []string{fmt.Sprintf("broken at seq %d: %s", v.FirstBadSeq, v.Reason)}, "")
	default:
		add("the audit chain verifies", nil, fmt.Sprintf("%d records", v.Records))
	}
	res.Ops = s.ops.stats()
	return nil
}

// grantLog reads an agent's file executor log ("+ group login ref" and
// "- group login ref" lines): how many grants it applied, and each
// change applied more than once for one instruction.
func grantLog(path string) (int, []string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	seen := map[string]int{}
	grants := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			continue
		}
		if fields[0] == "+" {
			grants++
		}
		if fields[3] != "expiry" {
			seen[sc.Text()]++
		}
	}
	var dup []string
	for line, n := range seen {
		if n > 1 {
			dup = append(dup, fmt.Sprintf("%q applied %d times", line, n))
		}
	}
	sort.Strings(dup)
	return grants, dup, sc.Err()
}

func copyMap(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WriteText prints the result for people.
func (r *FailoverResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "latchkey bench failover: 3 nodes, %d agents, %d persons, %s, started %s\n", r.Agents, r.Persons,
		r.Duration.Round(time.Second), r.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "load average %s before, %s after; schema %s\n", r.LoadBefore, r.LoadAfter, r.Schema)
	fmt.Fprintf(w, "serve flags: %s\n", strings.Join(r.ServeFlags, " "))
	if r.WorkDir != "" {
		fmt.Fprintf(w, "logs kept in %s\n", r.WorkDir)
	}
	fmt.Fprintf(w, "\nfaults: %d (%d SIGKILL, %d SIGSTOP); the work settled %s after the load\n", len(r.Faults), r.Kills, r.Stops, r.SettledIn.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "at\tnode\tsignal\tout\theld\tlease left (ms)\ttaken over (ms)\tother")
	for _, f := range r.Faults {
		var t []string
		for _, d := range f.Takeovers {
			t = append(t, fmt.Sprintf("%.0f", ms(d)))
		}
		var left []string
		for _, d := range f.LeaseLeft {
			left = append(left, fmt.Sprintf("%.0f", ms(d)))
		}
		var other []string
		if f.EndedBefore > 0 {
			other = append(other, fmt.Sprintf("%d ended just before the signal", f.EndedBefore))
		}
		if f.Resumed > 0 {
			other = append(other, fmt.Sprintf("%d went on on the node after SIGCONT", f.Resumed))
		}
		if f.AfterCont > 0 {
			other = append(other, fmt.Sprintf("%d taken over only after SIGCONT", f.AfterCont))
		}
		if f.EarlyClaims > 0 {
			other = append(other, fmt.Sprintf("%d claimed by another node before the lease lapsed", f.EarlyClaims))
		}
		if f.FrozenTx > 0 {
			other = append(other, fmt.Sprintf("%d database sessions idle in a transaction", f.FrozenTx))
		}
		if f.NotTakenOver > 0 {
			other = append(other, fmt.Sprintf("%d not taken over", f.NotTakenOver))
		}
		fmt.Fprintf(tw, "%.1fs\t%d\t%s\t%s\t%d %s\t%s\t%s\t%s\n", f.At.Seconds(), f.Node, f.Signal, f.Down.Round(100*time.Millisecond),
			f.Held, strings.Join(f.Kinds, ","), strings.Join(left, " "), strings.Join(t, " "), strings.Join(other, "; "))
	}
	tw.Flush()
	t := r.Takeover
	goal := "met"
	if !t.GoalMet {
		goal = "NOT MET"
	}
	fmt.Fprintf(w, "takeover of a held job (signal → another node's claim in the store): %d of %d held jobs in %d faults; p50 %.0f ms, p99 %.0f ms, max %.0f ms; goal p99 < %s: %s\n",
		t.TakenOver, t.Jobs, t.FaultsHolding, t.P50ms, t.P99ms, t.MaxMs, TakeoverGoal, goal)
	fmt.Fprintf(w, "  (besides: %d jobs ended just before the signal took effect; %d went on on the stopped node after SIGCONT; %d taken over only after SIGCONT; %d claimed by another node before the lease lapsed; %d not taken over within %s)\n",
		t.EndedBefore, t.Resumed, t.AfterCont, t.EarlyClaims, t.NotTakenOver, TrackFor)

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "call\tok\trefused\tunknown\t500s\tp50 ms\tp99 ms\tmax ms\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t\n", o.Op, o.OK, o.Refused, o.Unknown, o.Internal, o.P50ms, o.P99ms, o.MaxMs)
	}
	tw.Flush()
	fmt.Fprintln(w, "(refused: a rule's answer, such as concurrent_session; unknown: no answer to act on: every node away, a timeout, an answer lost with its node)")
	for _, o := range r.Ops {
		if o.LastUnknown != "" {
			e := o.LastUnknown
			if len(e) > 240 {
				e = e[:240] + "..."
			}
			fmt.Fprintf(w, "  last unknown %s: %s\n", o.Op, e)
		}
	}
	fmt.Fprintf(w, "cluster.resume records (outage grace given; the database was never stopped): %d\n", r.ClusterResumes)
	a := r.Acked
	fmt.Fprintf(w, "acknowledged: %d sessions (%d logouts), %d check-outs (%d check-ins), %d requests, %d approvals, %d tasks, %d lock cycles; %d grants applied by the agents\n",
		a.Sessions, a.Logouts, a.Checkouts, a.Checkins, a.Requests, a.Decisions, a.Tasks, a.LockCycles, a.Grants)

	fmt.Fprintln(w, "\ninvariants:")
	for _, inv := range r.Invariants {
		v := "ok  "
		if !inv.OK {
			v = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s", v, inv.Name)
		if inv.Detail != "" {
			fmt.Fprintf(w, ": %s", inv.Detail)
		}
		fmt.Fprintln(w)
	}
}
