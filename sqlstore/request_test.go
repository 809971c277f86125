package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// reqEnv is a store with a site of three terminals, a requester (ann,
// eligible), a named approver (bob, a user), a delegate (dora), and a
// group set needing bob's approval.
type reqEnv struct {
	s              *sqlstore.Store
	clock          *sqlstoretest.Clock
	ann, bob, dora latchkey.Caller
	terms          []string
	set            *latchkey.GroupSet
}

func newReqEnv(t *testing.T, b sqlstoretest.Backend, approval bool) *reqEnv {
	t.Helper()
	ctx := context.Background()
	e := &reqEnv{clock: sqlstoretest.NewClock()}
	e.s = sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(e.clock))
	site, err := e.s.CreateSite(ctx, admin, latchkey.DefaultSite("branch"))
	if err != nil {
		t.Fatal(err)
	}
	person := func(name string, role latchkey.Role) latchkey.Caller {
		p, err := e.s.CreatePrincipal(ctx, admin, latchkey.Principal{Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AddIdentity(ctx, admin, p.ID, name, pw(name)); err != nil {
			t.Fatal(err)
		}
		return latchkey.Caller{PrincipalID: p.ID, Role: role, Name: name}
	}
	e.ann, e.bob, e.dora = person("ann", latchkey.RoleUser), person("bob", latchkey.RoleUser), person("dora", latchkey.RoleDelegate)
	for i := range 3 {
		tm, err := e.s.RegisterTerminal(ctx, admin, fmt.Sprintf("ws%d", i+1), site.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.terms = append(e.terms, tm.ID)
	}
	set := latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}, Eligible: []string{e.ann.PrincipalID}}
	if approval {
		set.Approval, set.Approvers = true, []string{e.bob.PrincipalID}
	}
	if e.set, err = e.s.CreateGroupSet(ctx, admin, set); err != nil {
		t.Fatal(err)
	}
	return e
}

// runJobs runs the due jobs, as a node's runner would.
func (e *reqEnv) runJobs(t *testing.T) {
	t.Helper()
	if err := e.s.RunDueJobs(context.Background(), "node_test"); err != nil {
		t.Fatal(err)
	}
}

// reply answers a terminal's pending instruction as its agent would.
func (e *reqEnv) reply(t *testing.T, terminal string, result latchkey.ReplyResult) latchkey.Instruction {
	t.Helper()
	ctx := context.Background()
	agent := latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: terminal}
	ins, err := e.s.PollInstructions(ctx, agent, 10)
	if err != nil || len(ins) != 1 {
		t.Fatalf("terminal %s: instructions %+v, %v; want one", terminal, ins, err)
	}
	if err := e.s.ReplyInstruction(ctx, agent, ins[0].ID, latchkey.Reply{Result: result}); err != nil {
		t.Fatal(err)
	}
	return ins[0]
}

func (e *reqEnv) request(t *testing.T, id string) (latchkey.Request, latchkey.Workflow) {
	t.Helper()
	r, err := e.s.Request(context.Background(), admin, id)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := e.s.Workflow(context.Background(), admin, r.Workflow)
	if err != nil {
		t.Fatal(err)
	}
	return r, wf
}

func steps(wf latchkey.Workflow) string {
	out := ""
	for i, s := range wf.Steps {
		if i > 0 {
			out += " "
		}
		name := s.Name
		if _, ok := latchkey.ProvisionTerminal(name); ok {
			name = fmt.Sprintf("provision%d", i)
		}
		out += name + "=" + string(s.Status)
	}
	return out
}

// The whole life of an approved request: waiting in the approver's
// inbox, approved, provisioned terminal by terminal as each agent
// answers, active, then cancelled with everything checked in.
func TestRequestApprovedProvisionedCancelled(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, true)
		ctx := context.Background()
		if _, err := e.s.CreateCheckout(ctx, e.ann, latchkey.CheckoutCreate{GroupSet: e.set.ID, Terminal: e.terms[0]}); latchkey.ErrorCode(err) != latchkey.ECONFLICT ||
			latchkey.ErrorDetails(err)["reason"] != "approval_required" {
			t.Fatalf("a check-out of a set needing approval: %v", err)
		}
		r, err := e.s.CreateRequest(ctx, e.ann, latchkey.RequestCreate{GroupSet: e.set.ID, Terminals: e.terms, Minutes: 30, Reason: "patching"})
		if err != nil || r.Status != latchkey.RequestWaitingApproval {
			t.Fatalf("create: %+v, %v", r, err)
		}
		e.runJobs(t) // nothing to do but wait
		if got, wf := e.request(t, r.ID); got.Status != latchkey.RequestWaitingApproval || steps(wf) != "approve=running provision1=pending provision2=pending provision3=pending notify=pending" {
			t.Fatalf("waiting: %s %s", got.Status, steps(wf))
		}
		// bob's inbox has it; dora's (a delegate not named) does not; ann cannot decide her own.
		items, _, err := e.s.WorkItems(ctx, e.bob, latchkey.WorkItemOpen, latchkey.Page{})
		if err != nil || len(items) != 1 || items[0].Request != r.ID {
			t.Fatalf("bob's inbox: %+v, %v", items, err)
		}
		if other, _, _ := e.s.WorkItems(ctx, e.dora, "", latchkey.Page{}); len(other) != 0 {
			t.Fatalf("dora's inbox: %+v", other)
		}
		if all, _, _ := e.s.WorkItems(ctx, admin, latchkey.WorkItemOpen, latchkey.Page{}); len(all) != 1 {
			t.Fatalf("an admin sees every item: %+v", all)
		}
		item := items[0]
		if _, err := e.s.DecideWorkItem(ctx, e.ann, item.ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("the requester decides: %v", err)
		}
		if _, err := e.s.DecideWorkItem(ctx, e.dora, item.ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove}); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("a delegate not assigned decides: %v", err)
		}
		decided, err := e.s.DecideWorkItem(ctx, e.bob, item.ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove, Comment: "ok"})
		if err != nil || decided.Status != latchkey.WorkItemDone || decided.DecidedBy != e.bob.PrincipalID {
			t.Fatalf("approve: %+v, %v", decided, err)
		}
		if again, err := e.s.DecideWorkItem(ctx, e.bob, item.ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove}); err != nil || again.DecidedAt == nil || !again.DecidedAt.Equal(*decided.DecidedAt) {
			t.Fatalf("the same decision again: %+v, %v", again, err)
		}
		if _, err := e.s.DecideWorkItem(ctx, e.bob, item.ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionDeny}); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("the other decision: %v", err)
		}
		// Provisioning, one terminal at a time, each waiting for its agent.
		for i, term := range e.terms {
			e.runJobs(t)
			got, wf := e.request(t, r.ID)
			if got.Status != latchkey.RequestProvisioning || len(got.Checkouts) != i+1 || wf.Steps[i+1].Status != latchkey.StepRunning || wf.Steps[i+1].Checkout != got.Checkouts[i] {
				t.Fatalf("provisioning %s: %+v %s", term, got, steps(wf))
			}
			e.runJobs(t) // woken for nothing: no second check-out
			if again, _ := e.request(t, r.ID); len(again.Checkouts) != i+1 {
				t.Fatalf("a second run provisioned again: %v", again.Checkouts)
			}
			in := e.reply(t, term, latchkey.ReplyOK)
			if in.Kind != latchkey.InstrCheckout || in.Login != "ann" {
				t.Fatalf("instruction to %s: %+v", term, in)
			}
		}
		e.runJobs(t)
		got, wf := e.request(t, r.ID)
		if got.Status != latchkey.RequestActive || wf.Status != latchkey.WorkflowDone ||
			steps(wf) != "approve=done provision1=done provision2=done provision3=done notify=done" {
			t.Fatalf("active: %+v %s %s", got, wf.Status, steps(wf))
		}
		for _, id := range got.Checkouts {
			co, err := e.s.GetCheckout(ctx, admin, id)
			if err != nil || co.Status != latchkey.CheckedOut || co.Request != r.ID {
				t.Fatalf("check-out %s: %+v, %v", id, co, err)
			}
		}
		if _, err := e.s.CancelRequest(ctx, e.bob, r.ID); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("the approver cancels: %v", err)
		}
		c, err := e.s.CancelRequest(ctx, e.ann, r.ID)
		if err != nil || c.Status != latchkey.RequestCancelled {
			t.Fatalf("cancel: %+v, %v", c, err)
		}
		for _, id := range got.Checkouts {
			if co, _ := e.s.GetCheckout(ctx, admin, id); co.Status != latchkey.CheckedIn || co.EndReason != string(latchkey.CheckinRequestEnded) {
				t.Fatalf("after cancel, check-out %s: %+v", id, co)
			}
		}
		if _, err := e.s.CancelRequest(ctx, e.ann, r.ID); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("cancel twice: %v", err)
		}
		recs, err := e.s.ListAudit(ctx, admin, latchkey.AuditFilter{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		count := map[latchkey.Action]int{}
		for _, rec := range recs {
			count[latchkey.Action(rec.Action)]++
		}
		for a, want := range map[latchkey.Action]int{latchkey.ActionRequestCreate: 1, latchkey.ActionRequestDecide: 1,
			latchkey.ActionRequestProvision: 3, latchkey.ActionRequestActive: 1, latchkey.ActionRequestCancel: 1, latchkey.ActionCheckoutRequest: 3} {
			if count[a] != want {
				t.Errorf("%d %s records, want %d", count[a], a, want)
			}
		}
	})
}

// A set without approval provisions at once; the request is done when
// its last check-out ends.
func TestRequestWithoutApprovalDoneAtLastCheckin(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		r, err := e.s.CreateRequest(ctx, e.ann, latchkey.RequestCreate{GroupSet: e.set.ID, Terminals: e.terms[:2], Minutes: 10})
		if err != nil || r.Status != latchkey.RequestProvisioning {
			t.Fatalf("create: %+v, %v", r, err)
		}
		if items, _, _ := e.s.WorkItems(ctx, admin, "", latchkey.Page{}); len(items) != 0 {
			t.Fatalf("a work item without approval: %+v", items)
		}
		for _, term := range e.terms[:2] {
			e.runJobs(t)
			e.reply(t, term, latchkey.ReplyOK)
		}
		e.runJobs(t)
		if got, wf := e.request(t, r.ID); got.Status != latchkey.RequestActive || steps(wf) != "approve=skipped provision1=done provision2=done notify=done" {
			t.Fatalf("active: %+v %s", got, steps(wf))
		}
		e.clock.Advance(10 * time.Minute)
		e.runJobs(t) // the check-outs expire
		if got, _ := e.request(t, r.ID); got.Status != latchkey.RequestDone {
			t.Fatalf("after its check-outs expired: %s", got.Status)
		}
	})
}

// A denied request provisions nothing; one nobody decides expires; one
// whose agent fails fails and takes back what it provisioned.
func TestRequestDeniedExpiredFailed(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, true)
		ctx := context.Background()
		create := func() latchkey.Request {
			r, err := e.s.CreateRequest(ctx, e.ann, latchkey.RequestCreate{GroupSet: e.set.ID, Terminals: e.terms[:2]})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		itemOf := func(r latchkey.Request) latchkey.WorkItem {
			items, _, _ := e.s.WorkItems(ctx, e.bob, "", latchkey.Page{Limit: 100})
			for _, it := range items {
				if it.Request == r.ID {
					return it
				}
			}
			t.Fatalf("no work item for %s", r.ID)
			return latchkey.WorkItem{}
		}
		denied := create()
		if _, err := e.s.DecideWorkItem(ctx, e.bob, itemOf(denied).ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionDeny}); err != nil {
			t.Fatal(err)
		}
		e.runJobs(t)
		if got, wf := e.request(t, denied.ID); got.Status != latchkey.RequestDenied || len(got.Checkouts) != 0 || wf.Status != latchkey.WorkflowCancelled {
			t.Fatalf("denied: %+v %s", got, wf.Status)
		}

		failing := create()
		if _, err := e.s.DecideWorkItem(ctx, e.bob, itemOf(failing).ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove}); err != nil {
			t.Fatal(err)
		}
		e.runJobs(t)
		e.reply(t, e.terms[0], latchkey.ReplyOK)
		e.runJobs(t)
		e.reply(t, e.terms[1], latchkey.ReplyError)
		e.runJobs(t)
		got, wf := e.request(t, failing.ID)
		if got.Status != latchkey.RequestFailed || wf.Status != latchkey.WorkflowFailed || wf.Steps[2].Status != latchkey.StepFailed || wf.Steps[2].Error == "" {
			t.Fatalf("failed: %+v %s %+v", got, wf.Status, wf.Steps)
		}
		if co, _ := e.s.GetCheckout(ctx, admin, got.Checkouts[0]); co.Status != latchkey.CheckedIn {
			t.Fatalf("the first terminal's check-out after the failure: %s, want checked in", co.Status)
		}

		waiting := create()
		e.clock.Advance(latchkey.DefaultApprovalTimeout)
		e.runJobs(t)
		got, _ = e.request(t, waiting.ID)
		if got.Status != latchkey.RequestCancelled || got.EndReason != "expired" {
			t.Fatalf("expired: %+v", got)
		}
		if it := itemOf(waiting); it.Status != latchkey.WorkItemCancelled {
			t.Fatalf("the expired request's work item: %s", it.Status)
		}
		if _, err := e.s.DecideWorkItem(ctx, e.bob, itemOf(waiting).ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove}); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("deciding an expired request: %v", err)
		}
	})
}
