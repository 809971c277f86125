package latchkey_test

import (
	"strings"
	"testing"
	"time"

	"latchkey"
)

var (
	wt0      = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	wAnn     = latchkey.Caller{PrincipalID: "prn_ann", Role: latchkey.RoleUser}
	wBob     = latchkey.Caller{PrincipalID: "prn_bob", Role: latchkey.RoleUser}
	wDora    = latchkey.Caller{PrincipalID: "prn_dora", Role: latchkey.RoleDelegate}
	wBoss    = latchkey.Caller{PrincipalID: "prn_boss", Role: latchkey.RoleAdmin}
	termCall = latchkey.Caller{TerminalID: "term_1", Role: latchkey.RoleTerminal}
	tools    = latchkey.GroupSet{ID: "gs_1", Name: "tools", Groups: []string{"wheel"}, MaxMinutes: 60, Eligible: []string{"prn_ann"}}
	sites    = map[string]string{"term_1": "site_a", "term_2": "site_a", "term_3": "site_b"}
)

func withApproval(approvers ...string) latchkey.GroupSet {
	s := tools
	s.Approval, s.Approvers = true, approvers
	return s
}

func newReq(t *testing.T, set latchkey.GroupSet, terminals ...string) latchkey.RequestOutcome {
	t.Helper()
	o, err := latchkey.NewRequest(latchkey.RequestInput{Caller: wAnn, Set: set, Sites: sites,
		Create: latchkey.RequestCreate{GroupSet: set.ID, Terminals: terminals, Minutes: 30, Reason: "patching"}}, wt0)
	if err != nil {
		t.Fatal(err)
	}
	o.AssignIDs(func(p string) string { return p + "_1" })
	return o
}

func stepNames(wf latchkey.Workflow) string {
	var out []string
	for _, s := range wf.Steps {
		out = append(out, s.Name+"="+string(s.Status))
	}
	return strings.Join(out, " ")
}

func TestNewRequest(t *testing.T) {
	limited := tools
	limited.Sites = []string{"site_a"}
	for _, c := range []struct {
		name       string
		caller     latchkey.Caller
		set        latchkey.GroupSet
		terminals  []string
		minutes    int
		code       string
		status     latchkey.RequestStatus
		steps      string
		assignees  []string
		noWorkItem bool
	}{
		{name: "no approval: provisioning at once", caller: wAnn, set: tools, terminals: []string{"term_1", "term_2"}, minutes: 30,
			status: latchkey.RequestProvisioning, noWorkItem: true,
			steps: "approve=skipped provision:term_1=pending provision:term_2=pending notify=pending"},
		{name: "approval by any staff", caller: wAnn, set: withApproval(), terminals: []string{"term_1"}, minutes: 30,
			status: latchkey.RequestWaitingApproval, assignees: []string{},
			steps: "approve=running provision:term_1=pending notify=pending"},
		{name: "named approvers, the requester left out", caller: wAnn, set: withApproval("prn_bob", "prn_ann"), terminals: []string{"term_1"},
			status: latchkey.RequestWaitingApproval, assignees: []string{"prn_bob"},
			steps: "approve=running provision:term_1=pending notify=pending"},
		{name: "the requester the only approver", caller: wAnn, set: withApproval("prn_ann"), terminals: []string{"term_1"}, code: latchkey.EFORBIDDEN},
		{name: "not eligible", caller: wBob, set: tools, terminals: []string{"term_1"}, code: latchkey.EFORBIDDEN},
		{name: "staff always eligible", caller: wDora, set: tools, terminals: []string{"term_1"}, status: latchkey.RequestProvisioning, noWorkItem: true,
			steps: "approve=skipped provision:term_1=pending notify=pending"},
		{name: "a terminal of a site the set excludes", caller: wAnn, set: limited, terminals: []string{"term_1", "term_3"}, code: latchkey.EFORBIDDEN},
		{name: "a terminal token", caller: termCall, set: tools, terminals: []string{"term_1"}, code: latchkey.EFORBIDDEN},
		{name: "over the set's maximum", caller: wAnn, set: tools, terminals: []string{"term_1"}, minutes: 61, code: latchkey.EBADREQUEST},
		{name: "no terminals", caller: wAnn, set: tools, code: latchkey.EBADREQUEST},
		{name: "a terminal twice", caller: wAnn, set: tools, terminals: []string{"term_1", "term_1"}, code: latchkey.EBADREQUEST},
		{name: "33 terminals", caller: wAnn, set: tools, terminals: strings.Fields(strings.Repeat("t ", 33)), code: latchkey.EBADREQUEST},
	} {
		o, err := latchkey.NewRequest(latchkey.RequestInput{Caller: c.caller, Set: c.set, Sites: sites,
			Create: latchkey.RequestCreate{GroupSet: c.set.ID, Terminals: c.terminals, Minutes: c.minutes, Reason: "r"}}, wt0)
		if c.code != "" {
			if latchkey.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		r := o.Request
		if r.Status != c.status || r.Requester != c.caller.PrincipalID || len(r.Checkouts) != 0 {
			t.Errorf("%s: request %+v", c.name, r)
		}
		if got := stepNames(o.Workflow); got != c.steps {
			t.Errorf("%s: steps %s, want %s", c.name, got, c.steps)
		}
		if c.noWorkItem != (o.WorkItem == nil) {
			t.Errorf("%s: work item %+v", c.name, o.WorkItem)
		}
		if o.WorkItem != nil && (strings.Join(o.WorkItem.Assignees, ",") != strings.Join(c.assignees, ",") || o.WorkItem.Status != latchkey.WorkItemOpen) {
			t.Errorf("%s: work item %+v, want assignees %v", c.name, o.WorkItem, c.assignees)
		}
		if want := c.minutes; want == 0 && r.Minutes != c.set.MaxMinutes || want != 0 && r.Minutes != want {
			t.Errorf("%s: minutes %d", c.name, r.Minutes)
		}
		if (r.Status == latchkey.RequestWaitingApproval) != (r.ApprovalExpiresAt != nil) ||
			r.ApprovalExpiresAt != nil && !r.ApprovalExpiresAt.Equal(wt0.Add(latchkey.DefaultApprovalTimeout)) {
			t.Errorf("%s: approval deadline %v", c.name, r.ApprovalExpiresAt)
		}
	}
}

func TestApplyDecision(t *testing.T) {
	o := newReq(t, withApproval(), "term_1", "term_2")
	approve, _, err := latchkey.DecideWorkItem(*o.WorkItem, wDora, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove}, wt0)
	if err != nil {
		t.Fatal(err)
	}
	r, wf, err := latchkey.ApplyDecision(o.Request, o.Workflow, approve, "node_a", wt0)
	if err != nil || r.Status != latchkey.RequestProvisioning || r.DecidedBy != "prn_dora" || wf.Status != latchkey.WorkflowRunning {
		t.Fatalf("approve: %+v %+v %v", r, wf, err)
	}
	if got := stepNames(wf); got != "approve=done provision:term_1=pending provision:term_2=pending notify=pending" {
		t.Errorf("steps after approval: %s", got)
	}
	if i, ok := wf.NextStep(); !ok || wf.Steps[i].Name != "provision:term_1" {
		t.Errorf("next step: %d %v", i, ok)
	}
	if stepNames(o.Workflow) != "approve=running provision:term_1=pending provision:term_2=pending notify=pending" {
		t.Error("ApplyDecision changed its input's steps")
	}
	if _, _, err := latchkey.ApplyDecision(r, wf, approve, "node_a", wt0); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Errorf("a second decision: %v", err)
	}
	deny, _, _ := latchkey.DecideWorkItem(*o.WorkItem, wDora, latchkey.WorkItemDecide{Decision: latchkey.DecisionDeny}, wt0)
	r, wf, err = latchkey.ApplyDecision(o.Request, o.Workflow, deny, "node_a", wt0)
	if err != nil || r.Status != latchkey.RequestDenied || wf.Status != latchkey.WorkflowCancelled {
		t.Fatalf("deny: %+v %+v %v", r, wf, err)
	}
	if got := stepNames(wf); got != "approve=failed provision:term_1=skipped provision:term_2=skipped notify=skipped" {
		t.Errorf("steps after a denial: %s", got)
	}
}

func TestDecideWorkItem(t *testing.T) {
	open := latchkey.WorkItem{ID: "wi_1", Kind: latchkey.WorkItemApproval, Status: latchkey.WorkItemOpen, Assignees: []string{}, Requester: "prn_ann"}
	named := open
	named.Assignees = []string{"prn_bob"}
	decided := open
	decided.Status, decided.Decision, decided.DecidedBy = latchkey.WorkItemDone, latchkey.DecisionApprove, "prn_dora"
	cancelled := open
	cancelled.Status = latchkey.WorkItemCancelled
	approve := latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove}
	deny := latchkey.WorkItemDecide{Decision: latchkey.DecisionDeny, Comment: "no"}
	for _, c := range []struct {
		name    string
		item    latchkey.WorkItem
		caller  latchkey.Caller
		d       latchkey.WorkItemDecide
		code    string
		changed bool
	}{
		{name: "staff approve an item for any staff", item: open, caller: wDora, d: approve, changed: true},
		{name: "a user may not decide an item for staff", item: open, caller: wBob, d: approve, code: latchkey.EFORBIDDEN},
		{name: "the requester may not decide", item: open, caller: wAnn, d: approve, code: latchkey.EFORBIDDEN},
		{name: "a named approver decides", item: named, caller: wBob, d: deny, changed: true},
		{name: "staff not named may not decide a named item", item: named, caller: wDora, d: approve, code: latchkey.EFORBIDDEN},
		{name: "the same decision again by the same person: no change", item: decided, caller: wDora, d: approve},
		{name: "the other decision by the same person", item: decided, caller: wDora, d: deny, code: latchkey.ECONFLICT},
		{name: "the same decision by another person", item: decided, caller: wBoss, d: approve, code: latchkey.ECONFLICT},
		{name: "an item whose request ended", item: cancelled, caller: wDora, d: approve, code: latchkey.ECONFLICT},
		{name: "not a decision", item: open, caller: wDora, d: latchkey.WorkItemDecide{Decision: "maybe"}, code: latchkey.EBADREQUEST},
		{name: "a terminal", item: open, caller: termCall, d: approve, code: latchkey.EFORBIDDEN},
	} {
		got, changed, err := latchkey.DecideWorkItem(c.item, c.caller, c.d, wt0)
		if latchkey.ErrorCode(err) != c.code && !(c.code == "" && err == nil) {
			t.Errorf("%s: %v, want %q", c.name, err, c.code)
			continue
		}
		if changed != c.changed {
			t.Errorf("%s: changed %v", c.name, changed)
		}
		if changed && (got.Status != latchkey.WorkItemDone || got.Decision != c.d.Decision || got.DecidedBy != c.caller.PrincipalID || got.Comment != c.d.Comment) {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
}

// A step taken over counts an attempt; the workflow is done after its
// last step, and a failure skips what is left.
func TestWorkflowSteps(t *testing.T) {
	o := newReq(t, tools, "term_1", "term_2")
	wf := o.Workflow
	i, _ := wf.NextStep()
	wf = wf.StartStep(i, "node_a", wt0)
	wf = wf.StartStep(i, "node_a", wt0) // the same node again: the same attempt
	wf = wf.StartStep(i, "node_b", wt0) // taken over
	if s := wf.Steps[i]; s.Name != "provision:term_1" || s.Attempts != 2 || s.Node != "node_b" || wf.Node != "node_b" {
		t.Fatalf("step after a takeover: %+v", s)
	}
	wf = wf.FinishStep(i, wt0)
	i, _ = wf.NextStep()
	wf = wf.StartStep(i, "node_b", wt0).FinishStep(i, wt0)
	i, _ = wf.NextStep()
	if wf.Steps[i].Name != "notify" || wf.Status != latchkey.WorkflowRunning {
		t.Fatalf("before notify: %s %s", stepNames(wf), wf.Status)
	}
	done := wf.FinishStep(i, wt0)
	if done.Status != latchkey.WorkflowDone {
		t.Fatalf("after the last step: %s", done.Status)
	}
	if _, left := done.NextStep(); left {
		t.Fatal("a step left after done")
	}
	failed := o.Workflow.StartStep(1, "node_a", wt0).FailStep(1, "agent said no", wt0)
	if failed.Status != latchkey.WorkflowFailed || stepNames(failed) != "approve=skipped provision:term_1=failed provision:term_2=skipped notify=skipped" || failed.Steps[1].Error != "agent said no" {
		t.Fatalf("failure: %s %s %+v", failed.Status, stepNames(failed), failed.Steps[1])
	}
}

func TestEndRequest(t *testing.T) {
	o := newReq(t, withApproval(), "term_1")
	for _, c := range []struct {
		status  latchkey.RequestStatus
		reason  string
		wfState latchkey.WorkflowStatus
	}{
		{status: latchkey.RequestCancelled, reason: "cancelled", wfState: latchkey.WorkflowCancelled},
		{status: latchkey.RequestCancelled, reason: "expired", wfState: latchkey.WorkflowCancelled},
		{status: latchkey.RequestFailed, reason: "provision:term_1: agent said no", wfState: latchkey.WorkflowFailed},
	} {
		r, wf, item, err := latchkey.EndRequest(o.Request, o.Workflow, o.WorkItem, c.status, c.reason, wt0)
		if err != nil || r.Status != c.status || r.EndReason != c.reason || wf.Status != c.wfState || item.Status != latchkey.WorkItemCancelled {
			t.Errorf("%s/%s: %+v %s %+v %v", c.status, c.reason, r, wf.Status, item, err)
		}
		if o.WorkItem.Status != latchkey.WorkItemOpen {
			t.Fatal("EndRequest changed its input's work item")
		}
		if _, _, _, err := latchkey.EndRequest(r, wf, item, latchkey.RequestCancelled, "again", wt0); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Errorf("ending an ended request: %v", err)
		}
	}
	if o.Request.ApprovalExpired(wt0.Add(latchkey.DefaultApprovalTimeout - time.Second)) {
		t.Error("expired before its time")
	}
	if !o.Request.ApprovalExpired(wt0.Add(latchkey.DefaultApprovalTimeout)) {
		t.Error("not expired at its time")
	}
}

func TestProvisionProgressAndCheckin(t *testing.T) {
	for _, c := range []struct {
		status latchkey.CheckoutStatus
		done   bool
		failed bool
	}{
		{status: latchkey.CheckingOut},
		{status: latchkey.CheckedOut, done: true},
		{status: latchkey.CheckoutFailed, failed: true},
		{status: latchkey.CheckedIn, failed: true},
	} {
		done, failed := latchkey.ProvisionProgress(c.status)
		if done != c.done || (failed != "") != c.failed {
			t.Errorf("%s: done %v, failed %q", c.status, done, failed)
		}
	}
	r := latchkey.Request{Status: latchkey.RequestActive}
	if _, ok := latchkey.RequestOnCheckin(r, 1, wt0); ok {
		t.Error("done with a check-out still running")
	}
	if x, ok := latchkey.RequestOnCheckin(r, 0, wt0); !ok || x.Status != latchkey.RequestDone {
		t.Errorf("after the last check-in: %+v", x)
	}
	r.Status = latchkey.RequestProvisioning
	if _, ok := latchkey.RequestOnCheckin(r, 0, wt0); ok {
		t.Error("a provisioning request done by a check-in")
	}
}
