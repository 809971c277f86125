package latchkey_test

import (
	"encoding/json"
	"testing"
	"time"

	"latchkey"
)

var tt0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func TestTaskCreateValidate(t *testing.T) {
	soon, past, far := tt0.Add(time.Hour), tt0.Add(-2*time.Minute), tt0.Add(400*24*time.Hour)
	for _, c := range []struct {
		name  string
		r     latchkey.TaskCreate
		field string // "" = valid
	}{
		{name: "a seal now", r: latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal}},
		{name: "a daily report", r: latchkey.TaskCreate{Kind: latchkey.TaskReport, RunAt: &soon, Every: "24h", Params: json.RawMessage(`{"from":"2026-11-01","to":"2026-11-30"}`)}},
		{name: "a reconcile with fix", r: latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"fix":true}`)}},
		{name: "an unknown kind", r: latchkey.TaskCreate{Kind: "backup"}, field: "kind"},
		{name: "in the past", r: latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, RunAt: &past}, field: "run_at"},
		{name: "more than a year ahead", r: latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, RunAt: &far}, field: "run_at"},
		{name: "every is no duration", r: latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, Every: "daily"}, field: "every"},
		{name: "every too short", r: latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, Every: "500ms"}, field: "every"},
		{name: "a report without dates", r: latchkey.TaskCreate{Kind: latchkey.TaskReport}, field: "params.from"},
		{name: "a report backwards", r: latchkey.TaskCreate{Kind: latchkey.TaskReport, Params: json.RawMessage(`{"from":"2026-11-30","to":"2026-11-01"}`)}, field: "params.to"},
		{name: "a report over a year", r: latchkey.TaskCreate{Kind: latchkey.TaskReport, Params: json.RawMessage(`{"from":"2025-01-01","to":"2026-11-01"}`)}, field: "params.to"},
		{name: "an unknown param", r: latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"fix":true,"dry":1}`)}, field: "params"},
		{name: "a reconcile in batches of 50, 30 s wait", r: latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"batch":50,"wait":"30s"}`)}},
		{name: "a reconcile batch too large", r: latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"batch":1001}`)}, field: "params.batch"},
		{name: "a reconcile batch below one", r: latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"batch":-1}`)}, field: "params.batch"},
		{name: "a reconcile wait too short", r: latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"wait":"10ms"}`)}, field: "params.wait"},
		{name: "a reconcile wait no duration", r: latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"wait":"soon"}`)}, field: "params.wait"},
		{name: "params for a seal", r: latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, Params: json.RawMessage(`{"x":1}`)}, field: "params"},
	} {
		err := c.r.Validate(tt0)
		if got, _ := latchkey.ErrorDetails(err)["field"].(string); got != c.field || (err == nil) != (c.field == "") {
			t.Errorf("%s: %v, want field %q", c.name, err, c.field)
		}
	}
}

func TestNextRun(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		name  string
		runAt time.Time
		now   time.Time
		want  time.Time
	}{
		{name: "on time", runAt: tt0, now: tt0, want: tt0.Add(day)},
		{name: "a little late", runAt: tt0, now: tt0.Add(time.Hour), want: tt0.Add(day)},
		{name: "three days missed: one run now, then the schedule", runAt: tt0, now: tt0.Add(3*day + time.Hour), want: tt0.Add(4 * day)},
		{name: "exactly at the next", runAt: tt0, now: tt0.Add(day), want: tt0.Add(2 * day)},
	} {
		if got := latchkey.NextRun(c.runAt, day, c.now); !got.Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestTaskLife(t *testing.T) {
	task := latchkey.NewTask(latchkey.TaskCreate{Kind: latchkey.TaskReconcile}, latchkey.Caller{PrincipalID: "prn_a", Role: latchkey.RoleAdmin}, tt0)
	if task.Status != latchkey.TaskScheduled || !task.RunAt.Equal(tt0) || string(task.Params) != "{}" || task.CreatedBy != "prn_a" {
		t.Fatalf("new: %+v", task)
	}
	task, err := latchkey.StartTask(task, "node_a", tt0)
	if err != nil || task.Status != latchkey.TaskRunning || task.Attempts != 1 || task.StartedAt == nil {
		t.Fatalf("start: %+v, %v", task, err)
	}
	if task, err = latchkey.Checkpoint(task, latchkey.TaskProgress{Done: 700, Total: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := latchkey.Checkpoint(task, latchkey.TaskProgress{Done: 600, Total: 1000}); err == nil {
		t.Fatal("progress went back")
	}
	if _, err := latchkey.Checkpoint(task, latchkey.TaskProgress{Done: 1001, Total: 1000}); err == nil {
		t.Fatal("progress past its total")
	}
	taken, _ := latchkey.StartTask(task, "node_b", tt0.Add(time.Minute)) // a takeover
	if taken.Attempts != 2 || taken.Progress.Done != 700 || !taken.StartedAt.Equal(tt0) {
		t.Fatalf("takeover: %+v", taken)
	}
	done := latchkey.FinishTask(taken, "", tt0.Add(2*time.Minute))
	if done.Status != latchkey.TaskDone || done.EndedAt == nil {
		t.Fatalf("done: %+v", done)
	}
	if _, err := latchkey.StartTask(done, "node_c", tt0); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Fatalf("start of a done task: %v", err)
	}
	if failed := latchkey.FinishTask(taken, "agent gone", tt0); failed.Status != latchkey.TaskFailed || failed.Error != "agent gone" {
		t.Fatalf("failed: %+v", failed)
	}
}
