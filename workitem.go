package latchkey

import (
	"slices"
	"time"
)

// A WorkItem is a decision waiting in people's inboxes: today the
// approval of an access request. It lives in the store, so every node
// shows it and takes its decision, whichever node made it.
type WorkItem struct {
	ID      string         `json:"id"`
	Kind    WorkItemKind   `json:"kind"`
	Request string         `json:"request"`
	Status  WorkItemStatus `json:"status"`
	// Assignees may decide (empty: every admin and delegate).
	Assignees []string `json:"assignees"`
	// Requester may never decide their own request.
	Requester string           `json:"requester"`
	CreatedAt time.Time        `json:"created_at"`
	Decision  WorkItemDecision `json:"decision,omitempty"`
	DecidedBy string           `json:"decided_by,omitempty"`
	DecidedAt *time.Time       `json:"decided_at,omitempty"`
	Comment   string           `json:"comment,omitempty"`
}

// WorkItemKind says what a work item asks.
type WorkItemKind string

// WorkItemApproval asks to approve or deny an access request.
const WorkItemApproval WorkItemKind = "approval"

// WorkItemStatus is where a work item is.
type WorkItemStatus string

// Work item statuses: open until decided (done), or cancelled with its
// request (cancelled or expired before a decision).
const (
	WorkItemOpen      WorkItemStatus = "open"
	WorkItemDone      WorkItemStatus = "done"
	WorkItemCancelled WorkItemStatus = "cancelled"
)

// Valid says whether s is a work item status.
func (s WorkItemStatus) Valid() bool {
	return s == WorkItemOpen || s == WorkItemDone || s == WorkItemCancelled
}

// WorkItemDecision is an approver's answer.
type WorkItemDecision string

// The decisions.
const (
	DecisionApprove WorkItemDecision = "approve"
	DecisionDeny    WorkItemDecision = "deny"
)

// MaxWorkItemComment bounds a decision's comment.
const MaxWorkItemComment = 500

// WorkItemDecide is the body of POST /v1/workitems/{id}/decide.
type WorkItemDecide struct {
	Decision WorkItemDecision `json:"decision"`
	Comment  string           `json:"comment"`
}

// Validate checks a decision.
func (d WorkItemDecide) Validate() error {
	if d.Decision != DecisionApprove && d.Decision != DecisionDeny {
		return BadField("decision", "decision must be approve or deny")
	}
	if len(d.Comment) > MaxWorkItemComment {
		return BadField("comment", "comment must be at most %d bytes", MaxWorkItemComment)
	}
	return nil
}

// AssignedTo says whether c may decide the item: an assignee, or any
// admin or delegate when it has none; never its requester.
func (w WorkItem) AssignedTo(c Caller) bool {
	if c.PrincipalID == "" || c.PrincipalID == w.Requester {
		return false
	}
	if len(w.Assignees) == 0 {
		return c.IsStaff()
	}
	return slices.Contains(w.Assignees, c.PrincipalID)
}

// DecideWorkItem applies c's decision to an open item. The requester may
// not decide their own request, nor may anyone the item is not assigned
// to (forbidden). An item decided already is a conflict, except the same
// caller repeating the same decision: then changed is false and nothing
// is written (a retried submit).
func DecideWorkItem(w WorkItem, c Caller, d WorkItemDecide, now time.Time) (out WorkItem, changed bool, err error) {
	if err := d.Validate(); err != nil {
		return w, false, err
	}
	if c.PrincipalID != "" && c.PrincipalID == w.Requester {
		return w, false, Errorf(EFORBIDDEN, "you may not decide your own request")
	}
	if !w.AssignedTo(c) {
		return w, false, Errorf(EFORBIDDEN, "work item %s is not assigned to you", w.ID)
	}
	switch w.Status {
	case WorkItemOpen:
	case WorkItemDone:
		if w.DecidedBy == c.PrincipalID && w.Decision == d.Decision {
			return w, false, nil
		}
		return w, false, Errorf(ECONFLICT, "work item %s was already decided (%s by %s)", w.ID, w.Decision, w.DecidedBy).
			With("decision", string(w.Decision)).With("decided_by", w.DecidedBy)
	default:
		return w, false, Errorf(ECONFLICT, "work item %s is %s: its request ended", w.ID, w.Status).With("status", string(w.Status))
	}
	w.Status, w.Decision, w.DecidedBy, w.DecidedAt, w.Comment = WorkItemDone, d.Decision, c.PrincipalID, &now, d.Comment
	return w, true, nil
}
