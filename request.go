package latchkey

import (
	"context"
	"slices"
	"time"
)

// An access Request asks for a group set on one or more terminals for a
// while, for a reason (API.md "Workflows, approvals, scheduled tasks").
// On a set with approval it waits for an approver's decision; then its
// workflow provisions a check-out to each terminal, one step each, and
// notifies the requester. Any node runs any step; a node that dies hands
// its step to another, which resumes at the first step not done.
type Request struct {
	ID        string        `json:"id"`
	Requester string        `json:"requester"`
	GroupSet  string        `json:"groupset"`
	Terminals []string      `json:"terminals"`
	Minutes   int           `json:"minutes"`
	Reason    string        `json:"reason"`
	Status    RequestStatus `json:"status"`
	Workflow  string        `json:"workflow"`
	// Checkouts are the check-outs provisioned so far, in terminal order.
	Checkouts []string  `json:"checkouts"`
	CreatedAt time.Time `json:"created_at"`
	// ApprovalExpiresAt is when a request still waiting for approval is
	// cancelled (EndReason "expired").
	ApprovalExpiresAt *time.Time `json:"approval_expires_at,omitempty"`
	DecidedBy         string     `json:"decided_by,omitempty"`
	DecidedAt         *time.Time `json:"decided_at,omitempty"`
	// EndReason says why a request ended other than done: denied,
	// cancelled, expired, or the failed step's error.
	EndReason string    `json:"end_reason,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// RequesterName and GroupSetName name the requester and the set for
	// whoever may see the request (an approver who may not read people
	// still learns who asks), on reading one request.
	RequesterName string `json:"requester_name,omitempty"`
	GroupSetName  string `json:"groupset_name,omitempty"`
}

// RequestStatus is where a request is.
type RequestStatus string

// Request statuses: waiting_approval → provisioning → active (every
// terminal checked out) → done (all checked in or expired); or denied,
// cancelled, failed. A set without approval starts at provisioning.
const (
	RequestWaitingApproval RequestStatus = "waiting_approval"
	RequestProvisioning    RequestStatus = "provisioning"
	RequestActive          RequestStatus = "active"
	RequestDone            RequestStatus = "done"
	RequestDenied          RequestStatus = "denied"
	RequestCancelled       RequestStatus = "cancelled"
	RequestFailed          RequestStatus = "failed"
)

// RequestStatuses lists every request status.
var RequestStatuses = []RequestStatus{RequestWaitingApproval, RequestProvisioning, RequestActive, RequestDone,
	RequestDenied, RequestCancelled, RequestFailed}

// Valid says whether s is a request status.
func (s RequestStatus) Valid() bool { return slices.Contains(RequestStatuses, s) }

// Ended says whether a request in status s is over.
func (s RequestStatus) Ended() bool {
	return s == RequestDone || s == RequestDenied || s == RequestCancelled || s == RequestFailed
}

// Request bounds and defaults.
const (
	MaxRequestTerminals = 32
	MaxRequestReason    = 500
	// DefaultApprovalTimeout is how long a request waits for approval
	// before it expires.
	DefaultApprovalTimeout = 24 * time.Hour
)

// RequestCreate is the body of POST /v1/requests.
type RequestCreate struct {
	GroupSet  string   `json:"groupset"`
	Terminals []string `json:"terminals"`
	Minutes   int      `json:"minutes"`
	Reason    string   `json:"reason"`
}

// Validate checks the request's own fields (the set, the terminals and
// the caller are checked against the store).
func (r RequestCreate) Validate() error {
	if err := ValidName("groupset", r.GroupSet); err != nil {
		return err
	}
	if len(r.Terminals) == 0 || len(r.Terminals) > MaxRequestTerminals {
		return BadField("terminals", "terminals must list 1 to %d terminal ids", MaxRequestTerminals)
	}
	for i, t := range r.Terminals {
		if err := ValidName("terminals", t); err != nil {
			return err
		}
		if slices.Contains(r.Terminals[:i], t) {
			return BadField("terminals", "terminal %s is listed twice", t)
		}
	}
	if r.Minutes < 0 || r.Minutes > MaxGroupSetMinutes {
		return BadField("minutes", "minutes must be 1 to %d (0: the group set's maximum)", MaxGroupSetMinutes)
	}
	if len(r.Reason) > MaxRequestReason {
		return BadField("reason", "reason must be at most %d bytes", MaxRequestReason)
	}
	return nil
}

// RequestFilter selects requests in a list.
type RequestFilter struct {
	Status RequestStatus
	// Mine lists only the caller's own requests.
	Mine bool
	Page
}

// RequestService runs access requests and their work items.
type RequestService interface {
	// CreateRequest makes a request (EFORBIDDEN: not eligible for the set
	// or the terminal's site; ENOTFOUND: an unknown set or terminal).
	CreateRequest(ctx context.Context, c Caller, r RequestCreate) (Request, error)
	// Request reads one (its requester, its approvers, staff).
	Request(ctx context.Context, c Caller, id string) (Request, error)
	Requests(ctx context.Context, c Caller, f RequestFilter) ([]Request, string, error)
	// CancelRequest cancels a request that has not ended (its requester
	// or staff); what was provisioned is checked in.
	CancelRequest(ctx context.Context, c Caller, id string) (Request, error)
	// WorkItems lists the caller's work items (admins: all).
	WorkItems(ctx context.Context, c Caller, status WorkItemStatus, p Page) ([]WorkItem, string, error)
	// DecideWorkItem approves or denies (EFORBIDDEN: the requester, or not
	// an assignee; ECONFLICT: decided already, unless the same caller
	// repeats the same decision).
	DecideWorkItem(ctx context.Context, c Caller, id string, d WorkItemDecide) (WorkItem, error)
	// Workflow reads a request's workflow (as its request).
	Workflow(ctx context.Context, c Caller, id string) (Workflow, error)
}
