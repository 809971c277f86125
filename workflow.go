package latchkey

import (
	"slices"
	"strings"
	"time"
)

// A Workflow is the steps of an access request, kept in the store with
// each step's status, so that whichever node runs it next resumes at its
// first step not done. Its steps, in order: approve (skipped when the set
// needs no approval), provision:<terminal> for each terminal (done when
// that terminal's check-out is checked out), notify.
type Workflow struct {
	ID        string         `json:"id"`
	Kind      WorkflowKind   `json:"kind"`
	Request   string         `json:"request"`
	Status    WorkflowStatus `json:"status"`
	Steps     []WorkflowStep `json:"steps"`
	Node      string         `json:"node,omitempty"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// WorkflowStep is one step and how it went.
type WorkflowStep struct {
	Name      string     `json:"name"`
	Status    StepStatus `json:"status"`
	Attempts  int        `json:"attempts"`
	Node      string     `json:"node,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Error     string     `json:"error,omitempty"`
	// Checkout is a provision step's check-out, once made.
	Checkout string `json:"checkout,omitempty"`
}

// WorkflowKind says what a workflow does.
type WorkflowKind string

// WorkflowAccessRequest provisions an access request.
const WorkflowAccessRequest WorkflowKind = "access_request"

// WorkflowStatus is where a workflow is.
type WorkflowStatus string

// Workflow statuses: running (a step can go on), waiting (for a person's
// decision), and the ends.
const (
	WorkflowRunning   WorkflowStatus = "running"
	WorkflowWaiting   WorkflowStatus = "waiting"
	WorkflowDone      WorkflowStatus = "done"
	WorkflowFailed    WorkflowStatus = "failed"
	WorkflowCancelled WorkflowStatus = "cancelled"
)

// Ended says whether a workflow in status s is over.
func (s WorkflowStatus) Ended() bool {
	return s == WorkflowDone || s == WorkflowFailed || s == WorkflowCancelled
}

// StepStatus is where a step is.
type StepStatus string

// Step statuses.
const (
	StepPending StepStatus = "pending"
	StepRunning StepStatus = "running"
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
	StepSkipped StepStatus = "skipped"
)

// Step names.
const (
	StepApprove      = "approve"
	StepNotify       = "notify"
	stepProvisionPre = "provision:"
)

// ProvisionStep is the name of the step that provisions terminal.
func ProvisionStep(terminal string) string { return stepProvisionPre + terminal }

// ProvisionTerminal is the terminal a provision step is for (ok false:
// not a provision step).
func ProvisionTerminal(step string) (string, bool) { return strings.CutPrefix(step, stepProvisionPre) }

// RequestInput is what NewRequest decides on: the caller's request, the
// set, and the site of each terminal it names.
type RequestInput struct {
	Caller Caller
	Create RequestCreate
	Set    GroupSet
	// Sites holds the site of each terminal of Create.Terminals.
	Sites           map[string]string
	ApprovalTimeout time.Duration
}

// RequestOutcome is a new request with its workflow and, on a set with
// approval, its work item. The shell assigns their IDs (AssignIDs).
type RequestOutcome struct {
	Request  Request
	Workflow Workflow
	WorkItem *WorkItem
}

// AssignIDs names the request, its workflow and its work item.
func (o *RequestOutcome) AssignIDs(newID func(prefix string) string) {
	o.Request.ID, o.Workflow.ID = newID("req"), newID("wf")
	o.Request.Workflow, o.Workflow.Request = o.Workflow.ID, o.Request.ID
	if o.WorkItem != nil {
		o.WorkItem.ID, o.WorkItem.Request = newID("wi"), o.Request.ID
	}
}

// NewRequest decides an access request. Eligibility is that of
// check-outs: staff, or a person the set lists as eligible; every
// terminal must be of a site the set allows. A set with approval starts
// waiting for it, with an open work item for its approvers (none named:
// every admin and delegate but the requester); one without starts
// provisioning at once, its approve step skipped.
func NewRequest(in RequestInput, now time.Time) (RequestOutcome, error) {
	if err := in.Create.Validate(); err != nil {
		return RequestOutcome{}, err
	}
	if err := peopleOnly(in.Caller, "requests are made with a user token"); err != nil {
		return RequestOutcome{}, err
	}
	if !in.Caller.IsStaff() && !slices.Contains(in.Set.Eligible, in.Caller.PrincipalID) {
		return RequestOutcome{}, Errorf(EFORBIDDEN, "not eligible to check out group set %s", in.Set.Name)
	}
	for _, t := range in.Create.Terminals {
		if site := in.Sites[t]; !in.Set.AllowsSite(site) {
			return RequestOutcome{}, Errorf(EFORBIDDEN, "group set %s is not available at site %s of terminal %s", in.Set.Name, site, t).
				With("terminal", t).With("site", site)
		}
	}
	minutes := in.Create.Minutes
	if minutes == 0 {
		minutes = in.Set.MaxMinutes
	}
	if minutes > in.Set.MaxMinutes {
		return RequestOutcome{}, BadField("minutes", "minutes must be 1 to %d (the group set's maximum)", in.Set.MaxMinutes)
	}
	r := Request{Requester: in.Caller.PrincipalID, GroupSet: in.Set.ID, Terminals: slices.Clone(in.Create.Terminals),
		Minutes: minutes, Reason: in.Create.Reason, Status: RequestProvisioning, Checkouts: []string{}, CreatedAt: now, UpdatedAt: now}
	wf := Workflow{Kind: WorkflowAccessRequest, Status: WorkflowRunning, UpdatedAt: now}
	approve := WorkflowStep{Name: StepApprove, Status: StepSkipped}
	var item *WorkItem
	if in.Set.Approval {
		timeout := in.ApprovalTimeout
		if timeout <= 0 {
			timeout = DefaultApprovalTimeout
		}
		exp := now.Add(timeout)
		r.Status, r.ApprovalExpiresAt = RequestWaitingApproval, &exp
		wf.Status = WorkflowWaiting
		approve = WorkflowStep{Name: StepApprove, Status: StepRunning, StartedAt: &now}
		assignees := []string{}
		for _, a := range in.Set.Approvers {
			if a != r.Requester {
				assignees = append(assignees, a)
			}
		}
		if len(in.Set.Approvers) > 0 && len(assignees) == 0 {
			return RequestOutcome{}, Errorf(EFORBIDDEN, "group set %s names only you as its approver: you may not approve your own request", in.Set.Name)
		}
		item = &WorkItem{Kind: WorkItemApproval, Status: WorkItemOpen, Assignees: assignees, Requester: r.Requester, CreatedAt: now}
	}
	wf.Steps = append(wf.Steps, approve)
	for _, t := range r.Terminals {
		wf.Steps = append(wf.Steps, WorkflowStep{Name: ProvisionStep(t), Status: StepPending})
	}
	wf.Steps = append(wf.Steps, WorkflowStep{Name: StepNotify, Status: StepPending})
	return RequestOutcome{Request: r, Workflow: wf, WorkItem: item}, nil
}

// ApplyDecision applies an approval work item's decision (DecideWorkItem
// made it) to its request and workflow: approve starts provisioning;
// deny ends both (denied; the remaining steps skipped).
func ApplyDecision(r Request, wf Workflow, w WorkItem, node string, now time.Time) (Request, Workflow, error) {
	if r.Status != RequestWaitingApproval {
		return r, wf, Errorf(ECONFLICT, "request %s is %s, not waiting for approval", r.ID, r.Status).With("status", string(r.Status))
	}
	wf = wf.clone()
	r.DecidedBy, r.DecidedAt, r.UpdatedAt, wf.UpdatedAt = w.DecidedBy, &now, now, now
	i := wf.stepIndex(StepApprove)
	wf.Steps[i].Node, wf.Steps[i].EndedAt = node, &now
	if w.Decision == DecisionApprove {
		r.Status, wf.Status, wf.Steps[i].Status = RequestProvisioning, WorkflowRunning, StepDone
		return r, wf, nil
	}
	wf.Steps[i].Status, wf.Steps[i].Error = StepFailed, "denied by "+w.DecidedBy
	r.Status, r.EndReason = RequestDenied, "denied"
	wf = wf.end(WorkflowCancelled, now)
	return r, wf, nil
}

// EndRequest ends a request that has not ended: cancelled by its
// requester or staff (reason "cancelled"), expired waiting for approval
// ("expired"), or failed (reason: the failed step's error). Its workflow
// ends with it, its open work item is cancelled, and Compensate lists
// the check-outs it provisioned, to be checked in.
func EndRequest(r Request, wf Workflow, item *WorkItem, status RequestStatus, reason string, now time.Time) (Request, Workflow, *WorkItem, error) {
	if r.Status.Ended() {
		return r, wf, item, Errorf(ECONFLICT, "request %s has already ended (%s)", r.ID, r.Status).With("status", string(r.Status))
	}
	r.Status, r.EndReason, r.UpdatedAt = status, reason, now
	end := WorkflowCancelled
	if status == RequestFailed {
		end = WorkflowFailed
	}
	wf = wf.clone().end(end, now)
	if item != nil && item.Status == WorkItemOpen {
		x := *item
		x.Status = WorkItemCancelled
		item = &x
	}
	return r, wf, item, nil
}

// ApprovalExpired says whether a request waiting for approval has waited
// too long.
func (r Request) ApprovalExpired(now time.Time) bool {
	return r.Status == RequestWaitingApproval && r.ApprovalExpiresAt != nil && !now.Before(*r.ApprovalExpiresAt)
}

// NextStep is the index of the workflow's first step not done or
// skipped (ok false: none is left).
func (wf Workflow) NextStep() (int, bool) {
	for i, s := range wf.Steps {
		if s.Status != StepDone && s.Status != StepSkipped {
			return i, true
		}
	}
	return 0, false
}

// StartStep marks step i running on node (an attempt; a step taken over
// after its node died counts another).
func (wf Workflow) StartStep(i int, node string, now time.Time) Workflow {
	wf = wf.clone()
	s := &wf.Steps[i]
	if s.Status != StepRunning || s.Node != node {
		s.Attempts++
	}
	s.Status, s.Node, wf.Node, wf.UpdatedAt = StepRunning, node, node, now
	if s.StartedAt == nil {
		s.StartedAt = &now
	}
	return wf
}

// FinishStep marks step i done; the workflow is done after its last.
func (wf Workflow) FinishStep(i int, now time.Time) Workflow {
	wf = wf.clone()
	wf.Steps[i].Status, wf.Steps[i].EndedAt, wf.Steps[i].Error, wf.UpdatedAt = StepDone, &now, "", now
	if _, left := wf.NextStep(); !left {
		wf.Status = WorkflowDone
	}
	return wf
}

// FailStep marks step i failed with its error; the workflow fails.
func (wf Workflow) FailStep(i int, cause string, now time.Time) Workflow {
	wf = wf.clone()
	wf.Steps[i].Status, wf.Steps[i].EndedAt, wf.Steps[i].Error = StepFailed, &now, truncateJobError(cause)
	return wf.end(WorkflowFailed, now)
}

// end ends the workflow: its steps not yet done are skipped (a running
// step's failure is kept).
func (wf Workflow) end(status WorkflowStatus, now time.Time) Workflow {
	wf.Status, wf.UpdatedAt = status, now
	for i := range wf.Steps {
		if s := &wf.Steps[i]; s.Status == StepPending || s.Status == StepRunning {
			s.Status = StepSkipped
			if s.StartedAt != nil {
				s.EndedAt = &now
			}
		}
	}
	return wf
}

func (wf Workflow) stepIndex(name string) int {
	for i, s := range wf.Steps {
		if s.Name == name {
			return i
		}
	}
	return -1
}

func (wf Workflow) clone() Workflow {
	wf.Steps = slices.Clone(wf.Steps)
	return wf
}

// ProvisionProgress decides what a running provision step does next from
// its check-out's status: wait for the agent (checking_out), finish
// (checked_out), or fail (the check-out failed, or ended before the
// request was active).
func ProvisionProgress(status CheckoutStatus) (done bool, failed string) {
	switch status {
	case CheckedOut:
		return true, ""
	case CheckingOut:
		return false, ""
	case CheckoutFailed:
		return false, "the terminal's agent could not apply the check-out"
	}
	return false, "the check-out ended before the request was active"
}

// RequestOnCheckin says what becomes of an active request when one of its
// check-outs ends: done when none of them runs any more.
func RequestOnCheckin(r Request, running int, now time.Time) (Request, bool) {
	if r.Status != RequestActive || running > 0 {
		return r, false
	}
	r.Status, r.UpdatedAt = RequestDone, now
	return r, true
}
