package main

import (
	"strings"

	"latchkey"
)

var workItemSynopsis = []string{
	"workitem list [--status open|done|cancelled] [--limit N] [--after CURSOR]",
	"workitem approve ID [--comment TEXT]",
	"workitem deny ID [--comment TEXT]",
}

func runWorkItem(e *env, args []string) int {
	return e.dispatch("workitem", workItemSynopsis, map[string]func(*env, []string) int{
		"list": workItemList,
		"approve": func(e *env, args []string) int {
			return workItemDecide(e, "workitem approve", latchkey.DecisionApprove, args)
		},
		"deny": func(e *env, args []string) int {
			return workItemDecide(e, "workitem deny", latchkey.DecisionDeny, args)
		},
	}, args)
}

// workItemList shows the caller's inbox: the approvals waiting for them
// (admins: everyone's).
func workItemList(e *env, args []string) int {
	c := e.newCmd("workitem list", synopsisOf(workItemSynopsis, "workitem list"), true)
	page := c.page()
	status := c.fs.String("status", "open", "open, done or cancelled (empty: all)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := cl.ListWorkItems(c.ctx, latchkey.WorkItemStatus(*status), *page)
	if err != nil {
		return c.fail(err)
	}
	return printList(c, items, next, "ID\tKIND\tREQUEST\tSTATUS\tREQUESTER\tASSIGNEES\tDECISION\tCREATED", func(w latchkey.WorkItem) []string {
		assignees := "any admin or delegate"
		if len(w.Assignees) > 0 {
			assignees = strings.Join(w.Assignees, ",")
		}
		return []string{w.ID, string(w.Kind), w.Request, string(w.Status), w.Requester, assignees, orDash(string(w.Decision)), timeText(w.CreatedAt)}
	})
}

func workItemDecide(e *env, name string, d latchkey.WorkItemDecision, args []string) int {
	c := e.newCmd(name, synopsisOf(workItemSynopsis, name), true)
	comment := c.fs.String("comment", "", "a note for the requester")
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	w, err := cl.DecideWorkItem(c.ctx, pos[0], latchkey.WorkItemDecide{Decision: d, Comment: *comment})
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(w)
	}
	fields(c.stdout, "work item", w.ID, "request", w.Request, "status", string(w.Status), "decision", string(w.Decision),
		"decided by", w.DecidedBy, "comment", orDash(w.Comment))
	return 0
}
