package latchkey_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"latchkey"
)

func TestTaskFormRequest(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		form   latchkey.TaskForm
		want   string // the request as JSON; "" when refused
		field  string // the refused field
		inMsg  string // part of the message in words
		params string
	}{
		{name: "a report now", form: latchkey.TaskForm{Kind: "report", From: "2026-12-01", To: " 2026-12-03 ", When: "now"},
			want: `{"kind":"report","params":{"from":"2026-12-01","to":"2026-12-03"}}`},
		{name: "a report at a time, every day", form: latchkey.TaskForm{Kind: "report", From: "2026-12-01", To: "2026-12-01", When: "at", At: "2026-12-04T09:30", EveryHours: "24"},
			want: `{"kind":"report","run_at":"2026-12-04T09:30:00Z","every":"24h","params":{"from":"2026-12-01","to":"2026-12-01"}}`},
		{name: "a time with seconds", form: latchkey.TaskForm{Kind: "reconcile", When: "at", At: "2026-12-04T09:30:00"},
			want: `{"kind":"reconcile","run_at":"` + at.Format(time.RFC3339) + `","params":{"fix":false}}`},
		{name: "a reconciliation that fixes, batches of 50", form: latchkey.TaskForm{Kind: "reconcile", Fix: true, Batch: "50"},
			want: `{"kind":"reconcile","params":{"fix":true,"batch":50}}`},
		{name: "no kind", form: latchkey.TaskForm{}, field: "kind", inMsg: "a report or a reconciliation"},
		{name: "a seal is not the form's", form: latchkey.TaskForm{Kind: "audit_seal"}, field: "kind", inMsg: "a report or a reconciliation"},
		{name: "a report without dates", form: latchkey.TaskForm{Kind: "report"}, field: "from", inMsg: "first day"},
		{name: "a report with a bad last day", form: latchkey.TaskForm{Kind: "report", From: "2026-12-01", To: "tomorrow"}, field: "to", inMsg: "last day as a date"},
		{name: "a report backwards", form: latchkey.TaskForm{Kind: "report", From: "2026-12-03", To: "2026-12-01"}, field: "to", inMsg: "the last day must not be before the first"},
		{name: "a report too long", form: latchkey.TaskForm{Kind: "report", From: "2024-01-01", To: "2026-12-01"}, field: "to", inMsg: "a report may cover at most 366 days"},
		{name: "a batch that is not a number", form: latchkey.TaskForm{Kind: "reconcile", Batch: "many"}, field: "batch", inMsg: "whole number"},
		{name: "a batch of 0", form: latchkey.TaskForm{Kind: "reconcile", Batch: "0"}, field: "batch", inMsg: "from 1 to 1000"},
		{name: "a batch too big", form: latchkey.TaskForm{Kind: "reconcile", Batch: "5000"}, field: "batch", inMsg: "1 to 1000"},
		{name: "at without a time", form: latchkey.TaskForm{Kind: "reconcile", When: "at"}, field: "at", inMsg: "or choose Now"},
		{name: "at a time that is not one", form: latchkey.TaskForm{Kind: "reconcile", When: "at", At: "noon"}, field: "at", inMsg: "date and a time"},
		{name: "an unknown when", form: latchkey.TaskForm{Kind: "reconcile", When: "soon"}, field: "at", inMsg: "now or at a time"},
		{name: "every 0 hours", form: latchkey.TaskForm{Kind: "reconcile", EveryHours: "0"}, field: "every_hours", inMsg: "1 to 8784 hours"},
		{name: "every half an hour", form: latchkey.TaskForm{Kind: "reconcile", EveryHours: "0.5"}, field: "every_hours", inMsg: "whole number"},
		{name: "every 8785 hours", form: latchkey.TaskForm{Kind: "reconcile", EveryHours: "8785"}, field: "every_hours", inMsg: "run once"},
	} {
		r, err := c.form.Request()
		if c.want != "" {
			b, _ := json.Marshal(r)
			if err != nil || string(b) != c.want {
				t.Errorf("%s: %s, %v; want %s", c.name, b, err, c.want)
			}
			continue
		}
		field, msg, ok := latchkey.TaskFormError(err)
		if !ok || field != c.field || !strings.Contains(msg, c.inMsg) {
			t.Errorf("%s: %q %q %v (%v); want field %q saying %q", c.name, field, msg, ok, err, c.field, c.inMsg)
		}
	}
}

func TestTaskFormErrorOfTheStore(t *testing.T) {
	field, msg, ok := latchkey.TaskFormError(latchkey.BadField("run_at", "run_at must be from now to a year ahead"))
	if !ok || field != "at" || msg != "the time to run it must be from now to a year ahead (UTC)" {
		t.Fatalf("run_at: %q %q %v", field, msg, ok)
	}
	if _, _, ok := latchkey.TaskFormError(latchkey.Errorf(latchkey.EFORBIDDEN, "tasks are scheduled and read by an admin")); ok {
		t.Fatal("a refusal of the caller is not a form's error")
	}
}

func TestTaskPoll(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	task := func(st latchkey.TaskStatus, runIn time.Duration) latchkey.Task {
		return latchkey.Task{Status: st, RunAt: now.Add(runIn)}
	}
	for _, c := range []struct {
		name  string
		tasks []latchkey.Task
		idle  time.Duration
		want  time.Duration
	}{
		{name: "nothing: idle", idle: 5 * time.Second, want: 5 * time.Second},
		{name: "nothing on a task's page: stop", idle: 0, want: 0},
		{name: "ended tasks: idle", tasks: []latchkey.Task{task(latchkey.TaskDone, 0), task(latchkey.TaskFailed, 0)}, want: 0},
		{name: "one running: every second", tasks: []latchkey.Task{task(latchkey.TaskDone, 0), task(latchkey.TaskRunning, 0)}, want: time.Second},
		{name: "one due: every second", tasks: []latchkey.Task{task(latchkey.TaskScheduled, -time.Minute)}, want: time.Second},
		{name: "one due in 3 s", tasks: []latchkey.Task{task(latchkey.TaskScheduled, 3*time.Second)}, want: 3 * time.Second},
		{name: "one due in a week: every 5 s", tasks: []latchkey.Task{task(latchkey.TaskScheduled, 7*24*time.Hour)}, idle: 0, want: 5 * time.Second},
		{name: "the earliest counts", tasks: []latchkey.Task{task(latchkey.TaskScheduled, time.Hour), task(latchkey.TaskScheduled, 2*time.Second)}, want: 2 * time.Second},
	} {
		if got := latchkey.TaskPoll(c.tasks, now, c.idle); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestTaskWords(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		task            latchkey.Task
		words, progress string
	}{
		{latchkey.Task{Status: latchkey.TaskScheduled, RunAt: now.Add(time.Hour)}, "Scheduled for 2026-12-04 10:00 UTC.", "not started"},
		{latchkey.Task{Status: latchkey.TaskScheduled, RunAt: now}, "Due: waiting for a node to start it.", "not started"},
		{latchkey.Task{Status: latchkey.TaskRunning, Node: "node_a", Attempts: 1}, "Running on node_a.", "starting"},
		{latchkey.Task{Status: latchkey.TaskRunning, Node: "node_b", Attempts: 2, Progress: latchkey.TaskProgress{Done: 1, Total: 4}},
			"Running on node_b (attempt 2: taken over from a node that stopped).", "1 of 4 (25%)"},
		{latchkey.Task{Status: latchkey.TaskDone, Progress: latchkey.TaskProgress{Done: 3, Total: 3}}, "Done.", "3 of 3 (100%)"},
		{latchkey.Task{Status: latchkey.TaskDone}, "Done.", "nothing to do"},
		{latchkey.Task{Status: latchkey.TaskFailed, Error: "store unreachable"}, "Failed: store unreachable.", "nothing to do"},
	} {
		if w, p := latchkey.TaskWords(c.task, now), latchkey.TaskProgressWords(c.task); w != c.words || p != c.progress {
			t.Errorf("%+v: %q, %q; want %q, %q", c.task, w, p, c.words, c.progress)
		}
	}
}

// The nodes' tasks from the running ones, read first, and a page of
// tasks read after: the page's word wins for the tasks it holds (one that
// started or ended in between), so that the page says one thing of each;
// the running tasks off the page are as the first read says.
func TestNodeTasksTakesThePagesWord(t *testing.T) {
	run := func(id, node string) latchkey.Task {
		return latchkey.Task{ID: id, Status: latchkey.TaskRunning, Node: node}
	}
	for _, c := range []struct {
		name           string
		running, shown []latchkey.Task
		want           string
	}{
		{name: "nothing runs", want: ""},
		{name: "running, off the page", running: []latchkey.Task{run("t1", "a")}, want: "a:t1"},
		{name: "running in both reads", running: []latchkey.Task{run("t1", "a")}, shown: []latchkey.Task{run("t1", "a")}, want: "a:t1"},
		{name: "started between the reads: the page says running", shown: []latchkey.Task{run("t1", "a"), {ID: "t2", Status: latchkey.TaskScheduled}},
			want: "a:t1"},
		{name: "ended between the reads: the page says done", running: []latchkey.Task{run("t1", "a"), run("t2", "b")},
			shown: []latchkey.Task{{ID: "t1", Status: latchkey.TaskDone, Node: "a"}}, want: "b:t2"},
		{name: "taken over by another node between the reads", running: []latchkey.Task{run("t1", "a")}, shown: []latchkey.Task{run("t1", "b")},
			want: "b:t1"},
		{name: "a running task without a node", shown: []latchkey.Task{{ID: "t1", Status: latchkey.TaskRunning}}, want: ""},
	} {
		got := latchkey.NodeTasks(c.running, c.shown)
		var says []string
		for _, node := range []string{"a", "b"} {
			if ids := got[node]; len(ids) > 0 {
				says = append(says, node+":"+strings.Join(ids, ","))
			}
		}
		if s := strings.Join(says, " "); s != c.want || len(got) != len(says) {
			t.Errorf("%s: %v, want %q", c.name, got, c.want)
		}
	}
}

func TestTaskTitleAndNodeTasks(t *testing.T) {
	for _, c := range []struct {
		task latchkey.Task
		want string
	}{
		{latchkey.Task{Kind: latchkey.TaskReport, Params: json.RawMessage(`{"from":"2026-12-01","to":"2026-12-03"}`)}, "Report from 2026-12-01 to 2026-12-03"},
		{latchkey.Task{Kind: latchkey.TaskReport, Params: json.RawMessage(`{"from":"2026-12-01","to":"2026-12-01"}`)}, "Report of 2026-12-01"},
		{latchkey.Task{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"fix":true}`)}, "Reconciliation, correcting drift"},
		{latchkey.Task{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{}`)}, "Reconciliation, reporting drift only"},
		{latchkey.Task{Kind: latchkey.TaskAuditSeal}, "Audit seal"},
	} {
		if got := latchkey.TaskTitle(c.task); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.task.Kind, c.task.Params, got, c.want)
		}
	}
	got := latchkey.NodeTasks([]latchkey.Task{{ID: "t1", Status: latchkey.TaskRunning, Node: "a"}, {ID: "t2", Status: latchkey.TaskDone, Node: "a"},
		{ID: "t3", Status: latchkey.TaskRunning, Node: "a"}, {ID: "t4", Status: latchkey.TaskRunning, Node: "b"}}, nil)
	if len(got) != 2 || strings.Join(got["a"], ",") != "t1,t3" || strings.Join(got["b"], ",") != "t4" {
		t.Fatalf("node tasks: %v", got)
	}
	alt := latchkey.ReportChartAlt(latchkey.Task{Kind: latchkey.TaskReport, Params: json.RawMessage(`{"from":"2026-12-01","to":"2026-12-03"}`)})
	if !strings.Contains(alt, "sessions started in each hour of the day") || !strings.Contains(alt, "2026-12-01 to 2026-12-03") {
		t.Fatalf("alt: %q", alt)
	}
}
