package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"latchkey"
)

// A workflow is run by one job (JobWorkflow, keyed by the workflow). Each
// run, in one transaction that holds the job's fence, does every step it
// can do without waiting, records each step's progress, and sleeps
// (snoozes) when a step must wait: for an approver (until the approval
// deadline), or for an agent's reply (ProvisionWait at most). A decision,
// a reply or a cancellation wakes it at once. A node that dies mid-run
// commits nothing of that run; the node that takes the job over reruns it
// from the first step not done, and a provision step that already made
// its check-out only watches it: no terminal is given a grant twice.

// ProvisionWait is how long a workflow sleeps waiting for an agent's
// reply before it looks again by itself (replies wake it earlier).
const ProvisionWait = 30 * time.Second

func workflowJobKey(workflow string) string { return string(latchkey.JobWorkflow) + ":" + workflow }

type workflowJobArgs struct {
	Workflow string `json:"workflow"`
}

// wakeWorkflowOf wakes the workflow job of request (in t), so that a
// decision, a reply or a cancellation is acted on at once, even by a run
// under way (see wakeJob). It locks the job's row before anything of the
// request's, the order the workflow's own run takes (holdJob first), so
// the two cannot deadlock over them.
func (t *tx) wakeWorkflowOf(request string) error {
	var wf string
	if err := t.queryRow("SELECT workflow_id FROM requests WHERE id = ?", request).Scan(&wf); err != nil {
		return notFound(err, "request %s not found", request)
	}
	return t.wakeJob(workflowJobKey(wf))
}

// runWorkflow is the handler of JobWorkflow. A run that fails is retried
// with the job engine's back-off; when the job has used its attempts,
// the request fails (what it provisioned is checked in) rather than
// waiting for ever.
func (s *Store) runWorkflow(ctx context.Context, claim latchkey.Job) error {
	err := s.runWorkflowOnce(ctx, claim)
	if err == nil || latchkey.IsStaleFence(err) || claim.Attempts < claim.MaxAttempts {
		return err
	}
	cause := err.Error()
	return s.finishJob(ctx, claim, func(t *tx, j latchkey.Job) error {
		st, err := t.workflowRequest(j)
		if err != nil || st.r.Status.Ended() {
			return err
		}
		if i, ok := st.wf.NextStep(); ok {
			st.wf = st.wf.FailStep(i, cause, t.now)
		}
		return t.endRequest(st, latchkey.RequestFailed, cause, latchkey.ActionRequestFail, map[string]any{"error": cause})
	}, func(j latchkey.Job, now time.Time) (latchkey.Job, error) {
		return latchkey.CompleteJob(j, j.Fence, now)
	})
}

// workflowRequest reads and locks the request of a workflow job.
func (t *tx) workflowRequest(j latchkey.Job) (requestState, error) {
	var a workflowJobArgs
	if err := json.Unmarshal(j.Args, &a); err != nil || a.Workflow == "" {
		return requestState{}, fmt.Errorf("job %s: bad arguments %q", j.ID, j.Args)
	}
	var request string
	if err := t.queryRow("SELECT request_id FROM workflows WHERE id = ?", a.Workflow).Scan(&request); err != nil {
		return requestState{}, notFound(err, "workflow %s not found", a.Workflow)
	}
	return t.lockRequest(request)
}

func (s *Store) runWorkflowOnce(ctx context.Context, claim latchkey.Job) error {
	return s.runJobStep(ctx, claim, func(t *tx, j latchkey.Job) error {
		st, err := t.workflowRequest(j)
		if err != nil {
			return err
		}
		return t.advance(st, j.Node)
	})
}

// advance runs the workflow's steps until one must wait or it ends.
func (t *tx) advance(st requestState, node string) error {
	if st.wf.Status.Ended() {
		return nil
	}
	if st.r.Status == latchkey.RequestWaitingApproval {
		if !st.r.ApprovalExpired(t.now) {
			return latchkey.Snooze(st.r.ApprovalExpiresAt.Sub(t.now))
		}
		return t.endRequest(st, latchkey.RequestCancelled, "expired", latchkey.ActionRequestExpire, nil)
	}
	for {
		i, ok := st.wf.NextStep()
		if !ok {
			return t.saveRequestState(st)
		}
		name := st.wf.Steps[i].Name
		st.wf = st.wf.StartStep(i, node, t.now)
		if term, ok := latchkey.ProvisionTerminal(name); ok {
			wait, failed, err := t.provision(&st, i, term)
			switch {
			case err != nil:
				return err
			case failed != "":
				st.wf = st.wf.FailStep(i, failed, t.now)
				return t.endRequest(st, latchkey.RequestFailed, name+": "+failed, latchkey.ActionRequestFail, map[string]any{"step": name, "error": failed})
			case wait:
				if err := t.saveRequestState(st); err != nil {
					return err
				}
				return latchkey.Snooze(ProvisionWait)
			}
			st.wf = st.wf.FinishStep(i, t.now)
			continue
		}
		if name != latchkey.StepNotify { // approve is done or skipped before provisioning starts
			return fmt.Errorf("workflow %s: step %s cannot run in status %s", st.wf.ID, name, st.r.Status)
		}
		running, err := t.runningCheckouts(st.r.ID)
		if err != nil {
			return err
		}
		st.r.Status, st.r.UpdatedAt = latchkey.RequestActive, t.now
		st.wf = st.wf.FinishStep(i, t.now)
		t.record("system", "", latchkey.ActionRequestActive, st.r.ID, requestDetails(st, map[string]any{"checkouts": st.r.Checkouts}))
		if r, done := latchkey.RequestOnCheckin(st.r, running, t.now); done { // every check-out ended already
			st.r = r
			t.record("system", "", latchkey.ActionRequestDone, st.r.ID, requestDetails(st, nil))
		}
	}
}

// provision runs step i, which provisions terminal: the first time it
// checks the set out to the terminal for the requester, recording the
// check-out on the step and the request in the same transaction; after
// that it only watches the check-out. wait says the agent has not
// answered yet; failed says why the step failed.
func (t *tx) provision(st *requestState, i int, terminal string) (wait bool, failed string, err error) {
	step := st.wf.Steps[i]
	if step.Checkout == "" {
		var requesterStaff bool
		var role string
		if err := t.queryRow("SELECT role FROM principals WHERE id = ?", st.r.Requester).Scan(&role); err != nil {
			return false, "", err
		}
		requesterStaff = latchkey.Role(role).IsStaff()
		co, err := t.createCheckout("system", requesterStaff, latchkey.CheckoutCreate{GroupSet: st.r.GroupSet, Terminal: terminal,
			Principal: st.r.Requester, Minutes: st.r.Minutes}, st.r.ID)
		switch latchkey.ErrorCode(err) {
		case "":
		case latchkey.ECONFLICT: // a group is locked there by an unanswered instruction: try again later
			return false, "", err
		case latchkey.EFORBIDDEN, latchkey.ENOTFOUND, latchkey.EBADREQUEST:
			return false, latchkey.ErrorMessage(err), nil
		default:
			return false, "", err
		}
		st.wf.Steps[i].Checkout = co.ID
		st.r.Checkouts = append(st.r.Checkouts, co.ID)
		st.r.UpdatedAt = t.now
		t.record("system", terminal, latchkey.ActionRequestProvision, st.r.ID, requestDetails(*st, map[string]any{"step": step.Name, "checkout": co.ID}))
		return true, "", nil
	}
	var status latchkey.CheckoutStatus
	if err := t.queryRow("SELECT status FROM checkouts WHERE id = ?", step.Checkout).Scan(&status); err != nil {
		return false, "", err
	}
	done, failed := latchkey.ProvisionProgress(status)
	return !done && failed == "", failed, nil
}

// endRequest ends the request (cancelled, expired or failed), checks in
// what it provisioned, and records why.
func (t *tx) endRequest(st requestState, status latchkey.RequestStatus, reason string, action latchkey.Action, extra map[string]any) error {
	var err error
	if st.r, st.wf, st.item, err = latchkey.EndRequest(st.r, st.wf, st.item, status, reason, t.now); err != nil {
		return err
	}
	checkedIn, err := t.compensate(st.r)
	if err != nil {
		return err
	}
	if err := t.saveRequestState(st); err != nil {
		return err
	}
	d := map[string]any{"checked_in": checkedIn}
	for k, v := range extra {
		d[k] = v
	}
	t.record("system", "", action, st.r.ID, requestDetails(st, d))
	return nil
}

// runningCheckouts counts the request's check-outs not yet ended.
func (t *tx) runningCheckouts(request string) (int, error) {
	var n int
	err := t.queryRow("SELECT COUNT(*) FROM checkouts WHERE request_id = ? AND status IN ('checking_out', 'checked_out')", request).Scan(&n)
	return n, err
}

// requestOnCheckout follows a check-out's change to its request: a reply
// wakes the workflow waiting for it, and the last check-in of an active
// request makes it done.
func (t *tx) requestOnCheckout(x latchkey.Checkout) error {
	if x.Request == "" {
		return nil
	}
	if err := t.wakeWorkflowOf(x.Request); err != nil {
		return err
	}
	if x.CanCheckIn() {
		return nil
	}
	r, err := scanRequest(t.queryRow("SELECT "+requestCols+" FROM requests WHERE id = ?", x.Request))
	if err != nil {
		return err
	}
	running, err := t.runningCheckouts(r.ID)
	if err != nil {
		return err
	}
	r, done := latchkey.RequestOnCheckin(r, running, t.now)
	if !done {
		return nil
	}
	if err := t.saveRequest(r); err != nil {
		return err
	}
	t.record("system", "", latchkey.ActionRequestDone, r.ID, requestDetails(requestState{r: r}, nil))
	return nil
}
