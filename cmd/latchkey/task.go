package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"latchkey"
	"latchkey/client"
)

var taskSynopsis = []string{
	"task create --kind report|reconcile|audit_seal [--run-at TIME] [--every DURATION] [--from DATE --to DATE] [--fix] [--batch N] [--wait DURATION]",
	"task list [--status S] [--kind K] [--limit N] [--after CURSOR]",
	"task show ID",
	"task result ID",
	"task chart ID --out FILE.png",
}

func runTask(e *env, args []string) int {
	return e.dispatch("task", taskSynopsis, map[string]func(*env, []string) int{
		"create": taskCreate,
		"list":   taskList,
		"show":   taskShow,
		"result": taskResult,
		"chart":  taskChart,
	}, args)
}

// taskCreate schedules a task: at --run-at (default now), every --every.
func taskCreate(e *env, args []string) int {
	c := e.newCmd("task create", synopsisOf(taskSynopsis, "task create"), true)
	kind := c.fs.String("kind", "", "report, reconcile or audit_seal")
	runAt := c.fs.String("run-at", "", "when to run it, RFC 3339 (default now)")
	every := c.fs.String("every", "", "run it again this often, e.g. 24h (default once)")
	from := c.fs.String("from", "", "report: the first day, YYYY-MM-DD")
	to := c.fs.String("to", "", "report: the last day, YYYY-MM-DD")
	fix := c.fs.Bool("fix", false, "reconcile: correct the drift it finds")
	batch := c.fs.Int("batch", 0, "reconcile: terminals asked at once and checkpointed together (default 100)")
	wait := c.fs.String("wait", "", "reconcile: how long a terminal may take to answer before it is reported unreachable (default 1m)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("kind"); st != 0 {
		return st
	}
	r := latchkey.TaskCreate{Kind: latchkey.TaskKind(*kind), Every: *every}
	if *runAt != "" {
		at, err := time.Parse(time.RFC3339, *runAt)
		if err != nil {
			return c.usageError("--run-at must be an RFC 3339 time, e.g. 2026-12-05T02:00:00Z")
		}
		r.RunAt = &at
	}
	switch r.Kind {
	case latchkey.TaskReport:
		r.Params, _ = json.Marshal(latchkey.ReportParams{From: *from, To: *to})
	case latchkey.TaskReconcile:
		r.Params, _ = json.Marshal(latchkey.ReconcileParams{Fix: *fix, Batch: *batch, Wait: *wait})
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	x, err := cl.CreateTask(c.ctx, r)
	if err != nil {
		return c.fail(err)
	}
	return c.showTask(x)
}

func taskList(e *env, args []string) int {
	c := e.newCmd("task list", synopsisOf(taskSynopsis, "task list"), true)
	page := c.page()
	status := c.fs.String("status", "", "only tasks in this status (scheduled, running, done, failed)")
	kind := c.fs.String("kind", "", "only tasks of this kind")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := cl.ListTasks(c.ctx, latchkey.TaskFilter{Status: latchkey.TaskStatus(*status), Kind: latchkey.TaskKind(*kind), Page: *page})
	if err != nil {
		return c.fail(err)
	}
	return printList(c, items, next, "ID\tKIND\tSTATUS\tRUN AT\tEVERY\tPROGRESS\tNODE", func(x latchkey.Task) []string {
		return []string{x.ID, string(x.Kind), string(x.Status), timeText(x.RunAt), orDash(x.Every),
			strconv.Itoa(x.Progress.Done) + "/" + strconv.Itoa(x.Progress.Total), orDash(x.Node)}
	})
}

func taskShow(e *env, args []string) int {
	return showCommand(e, "task show", (*client.Client).GetTask, (*cmd).showTask, args)
}

// taskResult prints a done task's result as the server keeps it (a
// report's CSV, a seal's JSON): redirect it to a file.
func taskResult(e *env, args []string) int {
	c := e.newCmd("task result", synopsisOf(taskSynopsis, "task result"), true)
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if _, err := cl.TaskResult(c.ctx, pos[0], c.stdout); err != nil {
		return c.fail(err)
	}
	return 0
}

// taskChart writes a report's chart (sessions per hour per site) to a
// PNG file.
func taskChart(e *env, args []string) int {
	c := e.newCmd("task chart", synopsisOf(taskSynopsis, "task chart"), true)
	out := c.fs.String("out", "", "the PNG file to write")
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	if st := c.required("out"); st != 0 {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var b bytes.Buffer
	if err := cl.TaskChart(c.ctx, pos[0], &b); err != nil {
		return c.fail(err)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "wrote %s (%d bytes)\n", *out, b.Len())
	return 0
}

func (c *cmd) showTask(x *latchkey.Task) int {
	if c.json {
		return c.printJSON(x)
	}
	ended := "-"
	if x.EndedAt != nil {
		ended = timeText(*x.EndedAt)
	}
	fields(c.stdout, "task", x.ID, "kind", string(x.Kind), "status", string(x.Status), "run at", timeText(x.RunAt),
		"every", orDash(x.Every), "params", string(x.Params), "progress", strconv.Itoa(x.Progress.Done)+"/"+strconv.Itoa(x.Progress.Total),
		"attempts", strconv.Itoa(x.Attempts), "node", orDash(x.Node), "ended", ended, "error", orDash(x.Error),
		"previous", orDash(x.Previous))
	return 0
}
