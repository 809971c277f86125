package main

import (
	"context"
	"strconv"
	"strings"

	"latchkey"
	"latchkey/client"
)

var requestSynopsis = []string{
	"request create --groupset ID --terminal ID... [--minutes N] [--reason TEXT]",
	"request list [--status S] [--mine] [--limit N] [--after CURSOR]",
	"request show ID",
	"request cancel ID",
}

func runRequest(e *env, args []string) int {
	return e.dispatch("request", requestSynopsis, map[string]func(*env, []string) int{
		"create": requestCreate,
		"list":   requestList,
		"show":   requestShow,
		"cancel": requestCancel,
	}, args)
}

// requestCreate asks for a group set on workstations: it waits for an
// approver when the set needs one, then each workstation is provisioned.
func requestCreate(e *env, args []string) int {
	c := e.newCmd("request create", synopsisOf(requestSynopsis, "request create"), true)
	var r latchkey.RequestCreate
	c.fs.StringVar(&r.GroupSet, "groupset", "", "the group set's ID")
	c.fs.Func("terminal", "a workstation's terminal ID (repeatable, 1 to 32)", func(t string) error {
		r.Terminals = append(r.Terminals, t)
		return nil
	})
	c.fs.IntVar(&r.Minutes, "minutes", 0, "how long each check-out runs (default: the set's maximum)")
	c.fs.StringVar(&r.Reason, "reason", "", "why, for the approver")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("groupset"); st != 0 {
		return st
	}
	if len(r.Terminals) == 0 {
		return c.usageError("--terminal is required: at least one workstation")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	out, err := cl.CreateRequest(c.ctx, r)
	if err != nil {
		return c.fail(err)
	}
	return c.showRequest(out)
}

func requestList(e *env, args []string) int {
	c := e.newCmd("request list", synopsisOf(requestSynopsis, "request list"), true)
	page := c.page()
	status := c.fs.String("status", "", "only requests in this status (waiting_approval, provisioning, active, done, denied, cancelled, failed)")
	mine := c.fs.Bool("mine", false, "only your own requests (admins and delegates see everyone's)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := cl.ListRequests(c.ctx, latchkey.RequestFilter{Status: latchkey.RequestStatus(*status), Mine: *mine, Page: *page})
	if err != nil {
		return c.fail(err)
	}
	return printList(c, items, next, "ID\tSTATUS\tREQUESTER\tGROUPSET\tTERMINALS\tPROVISIONED\tCREATED", func(r latchkey.Request) []string {
		return []string{r.ID, string(r.Status), r.Requester, r.GroupSet, strconv.Itoa(len(r.Terminals)), strconv.Itoa(len(r.Checkouts)), timeText(r.CreatedAt)}
	})
}

func requestShow(e *env, args []string) int {
	return showCommand(e, "request show", (*client.Client).GetRequest, (*cmd).showRequestWithWorkflow, args)
}

func requestCancel(e *env, args []string) int {
	return showCommand(e, "request cancel", func(cl *client.Client, ctx context.Context, id string) (*latchkey.Request, error) {
		return cl.CancelRequest(ctx, id)
	}, (*cmd).showRequest, args)
}

func (c *cmd) showRequest(r *latchkey.Request) int {
	if c.json {
		return c.printJSON(r)
	}
	c.requestFields(r)
	return 0
}

func (c *cmd) requestFields(r *latchkey.Request) {
	decided := "-"
	if r.DecidedAt != nil {
		decided = r.DecidedBy + " at " + timeText(*r.DecidedAt)
	}
	fields(c.stdout, "request", r.ID, "status", string(r.Status), "requester", r.Requester, "groupset", r.GroupSet,
		"terminals", strings.Join(r.Terminals, " "), "minutes", strconv.Itoa(r.Minutes), "reason", orDash(r.Reason),
		"check-outs", orDash(strings.Join(r.Checkouts, " ")), "decided", decided, "end reason", orDash(r.EndReason),
		"workflow", r.Workflow, "created", timeText(r.CreatedAt))
}

// showRequestWithWorkflow shows a request and, below it, its workflow's
// steps (with --json: the request alone, as the API gives it).
func (c *cmd) showRequestWithWorkflow(r *latchkey.Request) int {
	if c.json {
		return c.printJSON(r)
	}
	c.requestFields(r)
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	wf, err := cl.GetWorkflow(c.ctx, r.Workflow)
	if err != nil {
		return c.fail(err)
	}
	rows := make([][]string, len(wf.Steps))
	for i, s := range wf.Steps {
		rows[i] = []string{s.Name, string(s.Status), strconv.Itoa(s.Attempts), orDash(s.Node), orDash(s.Checkout), orDash(s.Error)}
	}
	c.stdout.Write([]byte("\n"))
	table(c.stdout, "STEP\tSTATUS\tATTEMPTS\tNODE\tCHECK-OUT\tERROR", rows)
	return 0
}
