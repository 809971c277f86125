package sqlstore_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// A seal task runs at its time on whichever node runs due jobs, and its
// result is the signed head; a report task counts sessions and
// check-outs per site and person, one checkpoint per site.
func TestTasksRunAtTheirTime(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		later := e.clock.Now().Add(time.Hour)
		seal, err := e.s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, RunAt: &later})
		if err != nil || seal.Status != latchkey.TaskScheduled {
			t.Fatalf("create: %+v, %v", seal, err)
		}
		if _, err := e.s.CreateTask(ctx, e.dora, latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a delegate schedules a task: %v", err)
		}
		e.runJobs(t)
		if got, _ := e.s.Task(ctx, admin, seal.ID); got.Status != latchkey.TaskScheduled {
			t.Fatalf("ran before its time: %+v", got)
		}
		if _, err := e.s.TaskResult(ctx, admin, seal.ID); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("the result of a task not run: %v", err)
		}
		e.clock.Advance(time.Hour)
		e.runJobs(t)
		got, err := e.s.Task(ctx, admin, seal.ID)
		if err != nil || got.Status != latchkey.TaskDone || got.Node != "node_test" || got.Attempts != 1 || got.Progress != (latchkey.TaskProgress{Done: 1, Total: 1}) {
			t.Fatalf("after its time: %+v, %v", got, err)
		}
		res, err := e.s.TaskResult(ctx, admin, seal.ID)
		var s latchkey.AuditSeal
		if err != nil || res.ContentType != "application/json" || json.Unmarshal(res.Body, &s) != nil || s.Signature == "" {
			t.Fatalf("seal result: %+v %s, %v", res, res.Body, err)
		}

		// Ann checks out twice at terminal 1 (no approval needed here).
		for range 2 {
			co, err := e.s.CreateCheckout(ctx, admin, latchkey.CheckoutCreate{GroupSet: e.set.ID, Terminal: e.terms[0], Principal: e.ann.PrincipalID, Minutes: 5})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.CheckinCheckout(ctx, admin, co.ID); err != nil {
				t.Fatal(err)
			}
		}
		day := e.clock.Now().Format(latchkey.TaskDateLayout)
		rep, err := e.s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: latchkey.TaskReport, Params: json.RawMessage(`{"from":"` + day + `","to":"` + day + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		e.runJobs(t)
		res, err = e.s.TaskResult(ctx, admin, rep.ID)
		if err != nil || res.ContentType != "text/csv" {
			t.Fatalf("report: %+v, %v", res, err)
		}
		if want := "ann,0,0,2"; !strings.Contains(string(res.Body), want) {
			t.Fatalf("report:\n%s\nwant a line ending %q", res.Body, want)
		}
		if !strings.HasPrefix(string(res.Chart), "\x89PNG") {
			t.Fatalf("the report's chart is no PNG: %q", res.Chart[:min(len(res.Chart), 16)])
		}
		if got, _ := e.s.Task(ctx, admin, rep.ID); got.Progress != (latchkey.TaskProgress{Done: 1, Total: 1}) {
			t.Fatalf("report progress: %+v", got.Progress)
		}
	})
}

// A recurring task makes its next run when it starts; runs missed while
// no node ran tasks are not made up: one run at once, then the schedule.
func TestRecurringTaskMisfire(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		first, err := e.s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, Every: "24h"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(3*24*time.Hour + time.Hour) // the cluster was down for three days
		e.runJobs(t)
		tasks, _, err := e.s.Tasks(ctx, admin, latchkey.TaskFilter{Kind: latchkey.TaskAuditSeal})
		if err != nil || len(tasks) != 2 {
			t.Fatalf("after three missed days: %d tasks (%v), want the one run and its next", len(tasks), err)
		}
		var done, next latchkey.Task
		for _, x := range tasks {
			if x.ID == first.ID {
				done = x
			} else {
				next = x
			}
		}
		if done.Status != latchkey.TaskDone || next.Status != latchkey.TaskScheduled || next.Previous != first.ID ||
			!next.RunAt.Equal(first.RunAt.Add(4*24*time.Hour)) || next.Every != "24h" {
			t.Fatalf("done %+v, next %+v", done, next)
		}
	})
}

// Tasks lists newest first when asked (the console's Cluster and tasks
// screen), paged below the cursor, with the filters as ever.
func TestTasksNewestFirst(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		later := e.clock.Now().Add(time.Hour)
		var ids []string
		for i := range 5 {
			kind := latchkey.TaskAuditSeal
			params := json.RawMessage(nil)
			if i%2 == 1 {
				kind, params = latchkey.TaskReconcile, json.RawMessage(`{"fix":false}`)
			}
			x, err := e.s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: kind, RunAt: &later, Params: params})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, x.ID)
		}
		slices.Sort(ids)
		slices.Reverse(ids)
		var got []string
		after := ""
		for range 5 {
			page, next, err := e.s.Tasks(ctx, admin, latchkey.TaskFilter{Newest: true, Page: latchkey.Page{Limit: 2, After: after}})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page {
				got = append(got, x.ID)
			}
			if after = next; next == "" {
				break
			}
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("newest first: %v, want %v", got, ids)
		}
		rec, _, err := e.s.Tasks(ctx, admin, latchkey.TaskFilter{Newest: true, Kind: latchkey.TaskReconcile})
		if err != nil || len(rec) != 2 || rec[0].ID < rec[1].ID {
			t.Fatalf("reconciliations newest first: %+v, %v", rec, err)
		}
		if _, _, err := e.s.Tasks(ctx, e.dora, latchkey.TaskFilter{Newest: true}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a delegate lists tasks: %v", err)
		}
	})
}
