package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"latchkey"
)

var _ latchkey.RequestService = (*Store)(nil)

const requestCols = "id, requester, groupset_id, terminals, minutes, reason, status, workflow_id, checkouts, created_at, approval_expires_at, decided_by, decided_at, end_reason, updated_at"

func scanRequest(row interface{ Scan(...any) error }) (latchkey.Request, error) {
	var r latchkey.Request
	var terminals, checkouts string
	var created, updated int64
	var expires, decided sql.NullInt64
	if err := row.Scan(&r.ID, &r.Requester, &r.GroupSet, &terminals, &r.Minutes, &r.Reason, &r.Status, &r.Workflow, &checkouts,
		&created, &expires, &r.DecidedBy, &decided, &r.EndReason, &updated); err != nil {
		return r, err
	}
	r.CreatedAt, r.UpdatedAt, r.ApprovalExpiresAt, r.DecidedAt = fromUS(created), fromUS(updated), optTime(expires), optTime(decided)
	if err := json.Unmarshal([]byte(terminals), &r.Terminals); err != nil {
		return r, fmt.Errorf("request %s: terminals: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(checkouts), &r.Checkouts); err != nil {
		return r, fmt.Errorf("request %s: checkouts: %w", r.ID, err)
	}
	return r, nil
}

func (t *tx) insertRequest(r latchkey.Request) error {
	_, err := t.exec("INSERT INTO requests ("+requestCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Requester, r.GroupSet, jsonStrings(r.Terminals), r.Minutes, r.Reason, string(r.Status), r.Workflow, jsonStrings(r.Checkouts),
		us(r.CreatedAt), nullUS(r.ApprovalExpiresAt), r.DecidedBy, nullUS(r.DecidedAt), r.EndReason, us(r.UpdatedAt))
	return err
}

func (t *tx) saveRequest(r latchkey.Request) error {
	_, err := t.exec("UPDATE requests SET status = ?, checkouts = ?, decided_by = ?, decided_at = ?, end_reason = ?, updated_at = ? WHERE id = ?",
		string(r.Status), jsonStrings(r.Checkouts), r.DecidedBy, nullUS(r.DecidedAt), r.EndReason, us(r.UpdatedAt), r.ID)
	return err
}

const workItemCols = "id, kind, request_id, status, assignees, requester, created_at, decision, decided_by, decided_at, comment"

func scanWorkItem(row interface{ Scan(...any) error }) (latchkey.WorkItem, error) {
	var w latchkey.WorkItem
	var assignees string
	var created int64
	var decided sql.NullInt64
	if err := row.Scan(&w.ID, &w.Kind, &w.Request, &w.Status, &assignees, &w.Requester, &created, &w.Decision, &w.DecidedBy,
		&decided, &w.Comment); err != nil {
		return w, err
	}
	w.CreatedAt, w.DecidedAt = fromUS(created), optTime(decided)
	if err := json.Unmarshal([]byte(assignees), &w.Assignees); err != nil {
		return w, fmt.Errorf("work item %s: assignees: %w", w.ID, err)
	}
	return w, nil
}

func (t *tx) insertWorkItem(w latchkey.WorkItem) error {
	_, err := t.exec("INSERT INTO workitems ("+workItemCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		w.ID, string(w.Kind), w.Request, string(w.Status), jsonStrings(w.Assignees), w.Requester, us(w.CreatedAt),
		string(w.Decision), w.DecidedBy, nullUS(w.DecidedAt), w.Comment)
	return err
}

func (t *tx) saveWorkItem(w latchkey.WorkItem) error {
	_, err := t.exec("UPDATE workitems SET status = ?, decision = ?, decided_by = ?, decided_at = ?, comment = ? WHERE id = ?",
		string(w.Status), string(w.Decision), w.DecidedBy, nullUS(w.DecidedAt), w.Comment, w.ID)
	return err
}

const workflowCols = "id, kind, request_id, status, steps, node, updated_at"

func scanWorkflow(row interface{ Scan(...any) error }) (latchkey.Workflow, error) {
	var wf latchkey.Workflow
	var steps string
	var updated int64
	if err := row.Scan(&wf.ID, &wf.Kind, &wf.Request, &wf.Status, &steps, &wf.Node, &updated); err != nil {
		return wf, err
	}
	wf.UpdatedAt = fromUS(updated)
	if err := json.Unmarshal([]byte(steps), &wf.Steps); err != nil {
		return wf, fmt.Errorf("workflow %s: steps: %w", wf.ID, err)
	}
	return wf, nil
}

func (t *tx) insertWorkflow(wf latchkey.Workflow) error {
	steps, err := json.Marshal(wf.Steps)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO workflows ("+workflowCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		wf.ID, string(wf.Kind), wf.Request, string(wf.Status), string(steps), wf.Node, us(wf.UpdatedAt))
	return err
}

func (t *tx) saveWorkflow(wf latchkey.Workflow) error {
	steps, err := json.Marshal(wf.Steps)
	if err != nil {
		return err
	}
	_, err = t.exec("UPDATE workflows SET status = ?, steps = ?, node = ?, updated_at = ? WHERE id = ?",
		string(wf.Status), string(steps), wf.Node, us(wf.UpdatedAt), wf.ID)
	return err
}

// requestState is a request with its workflow, its set and its work
// item (nil without approval), read and locked in one transaction.
type requestState struct {
	r    latchkey.Request
	wf   latchkey.Workflow
	set  latchkey.GroupSet
	item *latchkey.WorkItem
}

// lockRequest reads and locks a request and what goes with it.
func (t *tx) lockRequest(id string) (requestState, error) {
	var st requestState
	var err error
	if st.r, err = scanRequest(t.queryRow("SELECT "+requestCols+" FROM requests WHERE id = ?"+t.s.d.forUpdate(), id)); err != nil {
		return st, notFound(err, "request %s not found", id)
	}
	if st.wf, err = scanWorkflow(t.queryRow("SELECT "+workflowCols+" FROM workflows WHERE id = ?"+t.s.d.forUpdate(), st.r.Workflow)); err != nil {
		return st, err
	}
	if st.set, err = scanGroupSet(t.queryRow("SELECT "+groupSetCols+" FROM groupsets WHERE id = ?", st.r.GroupSet)); err != nil {
		return st, err
	}
	w, err := scanWorkItem(t.queryRow("SELECT "+workItemCols+" FROM workitems WHERE request_id = ?"+t.s.d.forUpdate(), id))
	switch {
	case err == nil:
		st.item = &w
	case !errors.Is(err, sql.ErrNoRows):
		return st, err
	}
	return st, nil
}

// save writes back the request, its workflow and its work item.
func (t *tx) saveRequestState(st requestState) error {
	if err := t.saveRequest(st.r); err != nil {
		return err
	}
	if err := t.saveWorkflow(st.wf); err != nil {
		return err
	}
	if st.item != nil {
		return t.saveWorkItem(*st.item)
	}
	return nil
}

// requestDetails are the audit details of a request's records: its
// requester as details.principal and the people who are to approve it,
// so that both see its events on their streams.
func requestDetails(st requestState, extra map[string]any) map[string]any {
	d := map[string]any{"principal": st.r.Requester, "groupset": st.r.GroupSet, "status": st.r.Status, "workflow": st.r.Workflow}
	if st.item != nil {
		d["assignees"] = st.item.Assignees
		d["workitem"] = st.item.ID
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// CreateRequest implements latchkey.RequestService.
func (s *Store) CreateRequest(ctx context.Context, c latchkey.Caller, in latchkey.RequestCreate) (latchkey.Request, error) {
	if err := in.Validate(); err != nil {
		return latchkey.Request{}, err
	}
	var out latchkey.Request
	err := s.write(ctx, func(t *tx) error {
		set, err := scanGroupSet(t.queryRow("SELECT "+groupSetCols+" FROM groupsets WHERE id = ?", in.GroupSet))
		if err != nil {
			return notFound(err, "group set %s not found", in.GroupSet)
		}
		sites := map[string]string{}
		for _, term := range in.Terminals {
			var site string
			if err := t.queryRow("SELECT site_id FROM terminals WHERE id = ?", term).Scan(&site); err != nil {
				return notFound(err, "terminal %s not found", term)
			}
			sites[term] = site
		}
		o, err := latchkey.NewRequest(latchkey.RequestInput{Caller: c, Create: in, Set: set, Sites: sites,
			ApprovalTimeout: t.s.opts.ApprovalTimeout}, t.now)
		if err != nil {
			return err
		}
		o.AssignIDs(latchkey.NewID)
		if err := t.insertRequest(o.Request); err != nil {
			return err
		}
		if err := t.insertWorkflow(o.Workflow); err != nil {
			return err
		}
		if o.WorkItem != nil {
			if err := t.insertWorkItem(*o.WorkItem); err != nil {
				return err
			}
		}
		// The workflow's job runs now, or (waiting for approval) at the
		// approval deadline; a decision wakes it earlier.
		run := t.now
		if o.Request.ApprovalExpiresAt != nil {
			run = *o.Request.ApprovalExpiresAt
		}
		if _, err := t.enqueueJob(latchkey.JobSpec{Kind: latchkey.JobWorkflow, Key: workflowJobKey(o.Workflow.ID),
			Args: workflowJobArgs{Workflow: o.Workflow.ID}, RunAt: run}); err != nil {
			return err
		}
		st := requestState{r: o.Request, wf: o.Workflow, set: set, item: o.WorkItem}
		t.record(c.Actor(), "", latchkey.ActionRequestCreate, o.Request.ID, requestDetails(st, map[string]any{
			"terminals": o.Request.Terminals, "minutes": o.Request.Minutes, "reason": o.Request.Reason}))
		out = o.Request
		return nil
	})
	return out, err
}

// Request implements latchkey.RequestService.
func (s *Store) Request(ctx context.Context, c latchkey.Caller, id string) (latchkey.Request, error) {
	var out latchkey.Request
	err := s.read(ctx, func(t *tx) error {
		r, err := scanRequest(t.queryRow("SELECT "+requestCols+" FROM requests WHERE id = ?", id))
		if err != nil {
			return notFound(err, "request %s not found", id)
		}
		set, err := scanGroupSet(t.queryRow("SELECT "+groupSetCols+" FROM groupsets WHERE id = ?", r.GroupSet))
		if err != nil {
			return err
		}
		if err := latchkey.CanSeeRequest(c, r, set); err != nil {
			return err
		}
		r.GroupSetName = set.Name
		if err := t.queryRow("SELECT name FROM principals WHERE id = ?", r.Requester).Scan(&r.RequesterName); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// Requests implements latchkey.RequestService: staff list every request
// (or, with Mine, their own); anyone else lists their own.
func (s *Store) Requests(ctx context.Context, c latchkey.Caller, f latchkey.RequestFilter) ([]latchkey.Request, string, error) {
	if c.PrincipalID == "" {
		return nil, "", latchkey.Errorf(latchkey.EFORBIDDEN, "requests are listed with a user token")
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", latchkey.BadField("status", "unknown request status %q", f.Status)
	}
	q, args := "SELECT "+requestCols+" FROM requests WHERE TRUE", []any{}
	if f.Mine || !c.IsStaff() {
		q += " AND requester = ?"
		args = append(args, c.PrincipalID)
	}
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, string(f.Status))
	}
	return list(ctx, s, q+" AND id > ?", f.Page, scanRequest, func(r latchkey.Request) string { return r.ID }, args...)
}

// Workflow implements latchkey.RequestService.
func (s *Store) Workflow(ctx context.Context, c latchkey.Caller, id string) (latchkey.Workflow, error) {
	var out latchkey.Workflow
	err := s.read(ctx, func(t *tx) error {
		wf, err := scanWorkflow(t.queryRow("SELECT "+workflowCols+" FROM workflows WHERE id = ?", id))
		if err != nil {
			return notFound(err, "workflow %s not found", id)
		}
		r, err := scanRequest(t.queryRow("SELECT "+requestCols+" FROM requests WHERE id = ?", wf.Request))
		if err != nil {
			return err
		}
		set, err := scanGroupSet(t.queryRow("SELECT "+groupSetCols+" FROM groupsets WHERE id = ?", r.GroupSet))
		if err != nil {
			return err
		}
		if err := latchkey.CanSeeRequest(c, r, set); err != nil {
			return notFound(err, "workflow %s not found", id)
		}
		out = wf
		return nil
	})
	return out, err
}

// CancelRequest implements latchkey.RequestService.
func (s *Store) CancelRequest(ctx context.Context, c latchkey.Caller, id string) (latchkey.Request, error) {
	var out latchkey.Request
	err := s.write(ctx, func(t *tx) error {
		if err := t.wakeWorkflowOf(id); err != nil {
			return err
		}
		st, err := t.lockRequest(id)
		if err != nil {
			return err
		}
		if err := latchkey.CanSeeRequest(c, st.r, st.set); err != nil {
			return err
		}
		if err := latchkey.CanCancelRequest(c, st.r); err != nil {
			return err
		}
		if st.r, st.wf, st.item, err = latchkey.EndRequest(st.r, st.wf, st.item, latchkey.RequestCancelled, "cancelled", t.now); err != nil {
			return err
		}
		checkedIn, err := t.compensate(st.r)
		if err != nil {
			return err
		}
		if err := t.saveRequestState(st); err != nil {
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionRequestCancel, st.r.ID, requestDetails(st, map[string]any{"checked_in": checkedIn}))
		out = st.r
		return nil
	})
	return out, err
}

// compensate checks in what an ended request provisioned and still runs.
func (t *tx) compensate(r latchkey.Request) ([]string, error) {
	checkedIn := []string{}
	for _, id := range r.Checkouts {
		x, err := scanCheckout(t.queryRow("SELECT "+checkoutCols+" FROM checkouts WHERE id = ?"+t.s.d.forUpdate(), id))
		if err != nil {
			return nil, err
		}
		if !x.CanCheckIn() {
			continue
		}
		if _, err := t.checkinOnly(x, latchkey.CheckinRequestEnded, "system"); err != nil {
			return nil, err
		}
		checkedIn = append(checkedIn, id)
	}
	return checkedIn, nil
}

// WorkItems implements latchkey.RequestService: admins see every item;
// anyone else the items they may decide.
func (s *Store) WorkItems(ctx context.Context, c latchkey.Caller, status latchkey.WorkItemStatus, p latchkey.Page) ([]latchkey.WorkItem, string, error) {
	if c.PrincipalID == "" {
		return nil, "", latchkey.Errorf(latchkey.EFORBIDDEN, "work items are listed with a user token")
	}
	if status != "" && !status.Valid() {
		return nil, "", latchkey.BadField("status", "unknown work item status %q: open, done or cancelled", status)
	}
	q, args := "SELECT "+workItemCols+" FROM workitems WHERE TRUE", []any{}
	if status != "" {
		q += " AND status = ?"
		args = append(args, string(status))
	}
	if c.Role != latchkey.RoleAdmin {
		// Principal IDs hold no quote or wildcard (latchkey.ValidName).
		q += " AND (assignees LIKE ?"
		args = append(args, `%"`+c.PrincipalID+`"%`)
		if c.IsStaff() {
			q += " OR (assignees = '[]' AND requester <> ?)"
			args = append(args, c.PrincipalID)
		}
		q += ")"
	}
	return list(ctx, s, q+" AND id > ?", p, scanWorkItem, func(w latchkey.WorkItem) string { return w.ID }, args...)
}

// DecideWorkItem implements latchkey.RequestService.
func (s *Store) DecideWorkItem(ctx context.Context, c latchkey.Caller, id string, d latchkey.WorkItemDecide) (latchkey.WorkItem, error) {
	if err := d.Validate(); err != nil {
		return latchkey.WorkItem{}, err
	}
	var out latchkey.WorkItem
	err := s.write(ctx, func(t *tx) error {
		var request string
		if err := t.queryRow("SELECT request_id FROM workitems WHERE id = ?", id).Scan(&request); err != nil {
			return notFound(err, "work item %s not found", id)
		}
		if err := t.wakeWorkflowOf(request); err != nil { // the job row first: the workflow's own order
			return err
		}
		st, err := t.lockRequest(request)
		if err != nil {
			return err
		}
		if st.item == nil || st.item.ID != id {
			return latchkey.Errorf(latchkey.ENOTFOUND, "work item %s not found", id)
		}
		// The requester knows of the item and is told it is not theirs to
		// decide (forbidden); to anyone else not assigned it does not exist.
		if c.PrincipalID != st.item.Requester {
			if err := latchkey.CanSeeWorkItem(c, *st.item); err != nil {
				return err
			}
		}
		item, changed, err := latchkey.DecideWorkItem(*st.item, c, d, t.now)
		if err != nil || !changed {
			out = item
			return err
		}
		st.item = &item
		if st.r, st.wf, err = latchkey.ApplyDecision(st.r, st.wf, item, "", t.now); err != nil {
			return err
		}
		if err := t.saveRequestState(st); err != nil {
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionRequestDecide, st.r.ID, requestDetails(st, map[string]any{
			"decision": item.Decision, "comment": item.Comment}))
		out = item
		return nil
	})
	return out, err
}
