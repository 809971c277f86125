package latchkey

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// A Task is a scheduled run of background work an admin asked for
// (API.md "Workflows, approvals, scheduled tasks"): a report, a
// reconciliation of the terminals' groups, a signed seal of the audit
// head. It runs at RunAt on any live node; a recurring task (Every) makes
// its next run, a task of its own, when it starts. A long task stores its
// progress at each checkpoint, and a node that takes it over resumes at
// the last checkpoint.
type Task struct {
	ID     string     `json:"id"`
	Kind   TaskKind   `json:"kind"`
	Status TaskStatus `json:"status"`
	RunAt  time.Time  `json:"run_at"`
	// Every is the recurrence, as a Go duration ("24h"); empty: one-off.
	Every    string          `json:"every,omitempty"`
	Params   json.RawMessage `json:"params,omitempty"`
	Node     string          `json:"node,omitempty"`
	Attempts int             `json:"attempts"`
	Progress TaskProgress    `json:"progress"`
	// Previous is the run of the same recurring task before this one.
	Previous  string     `json:"previous,omitempty"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// TaskProgress is how far a task is: Done of Total units (terminals,
// sites, ...), stored at each checkpoint.
type TaskProgress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// TaskKind says what a task does.
type TaskKind string

// The task kinds.
const (
	TaskReport    TaskKind = "report"
	TaskReconcile TaskKind = "reconcile"
	TaskAuditSeal TaskKind = "audit_seal"
)

// TaskKinds lists the kinds a task may have.
var TaskKinds = []TaskKind{TaskReport, TaskReconcile, TaskAuditSeal}

// TaskStatus is where a task is.
type TaskStatus string

// Task statuses: scheduled → running → done or failed.
const (
	TaskScheduled TaskStatus = "scheduled"
	TaskRunning   TaskStatus = "running"
	TaskDone      TaskStatus = "done"
	TaskFailed    TaskStatus = "failed"
)

// Valid says whether s is a task status.
func (s TaskStatus) Valid() bool {
	return s == TaskScheduled || s == TaskRunning || s == TaskDone || s == TaskFailed
}

// Task bounds.
const (
	MinTaskEvery   = time.Second
	MaxTaskEvery   = 366 * 24 * time.Hour
	MaxTaskAhead   = 366 * 24 * time.Hour
	MaxReportDays  = 366
	MaxTaskParams  = 4096
	TaskDateLayout = "2006-01-02"
)

// TaskCreate is the body of POST /v1/tasks.
type TaskCreate struct {
	Kind   TaskKind        `json:"kind"`
	RunAt  *time.Time      `json:"run_at,omitempty"`
	Every  string          `json:"every,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}

// ReportParams are a report's parameters: the dates it covers (from to
// to, both included, in each site's timezone).
type ReportParams struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Dates parses and checks the report's dates.
func (p ReportParams) Dates() (from, to time.Time, err error) {
	if from, err = time.Parse(TaskDateLayout, p.From); err != nil {
		return from, to, BadField("params.from", "from must be a date, YYYY-MM-DD")
	}
	if to, err = time.Parse(TaskDateLayout, p.To); err != nil {
		return from, to, BadField("params.to", "to must be a date, YYYY-MM-DD")
	}
	switch days := int(to.Sub(from).Hours()/24) + 1; {
	case days < 1:
		return from, to, BadField("params.to", "to must not be before from")
	case days > MaxReportDays:
		return from, to, BadField("params.to", "a report covers at most %d days", MaxReportDays)
	}
	return from, to, nil
}

// Validate checks a new task against now: a known kind, a time not in
// the past by more than a minute nor more than a year ahead, a
// recurrence from a second to a year, and the kind's parameters.
func (r TaskCreate) Validate(now time.Time) error {
	if err := r.ValidateShape(); err != nil {
		return err
	}
	if r.RunAt != nil && (r.RunAt.Before(now.Add(-time.Minute)) || r.RunAt.After(now.Add(MaxTaskAhead))) {
		return BadField("run_at", "run_at must be from now to a year ahead")
	}
	return nil
}

// ValidateShape checks what does not depend on the time: the kind, the
// recurrence and the kind's parameters (the HTTP layer, before the store
// judges run_at by its clock).
func (r TaskCreate) ValidateShape() error {
	if !slices.Contains(TaskKinds, r.Kind) {
		return BadField("kind", "kind must be report, reconcile or audit_seal")
	}
	if r.Every != "" {
		d, err := time.ParseDuration(r.Every)
		if err != nil || d < MinTaskEvery || d > MaxTaskEvery {
			return BadField("every", "every must be a duration from 1s to 8784h, such as \"24h\"")
		}
	}
	if len(r.Params) > MaxTaskParams {
		return BadField("params", "params must be at most %d bytes", MaxTaskParams)
	}
	params := r.Params
	if len(params) == 0 || string(params) == "null" {
		params = json.RawMessage(`{}`)
	}
	switch r.Kind {
	case TaskReport:
		var p ReportParams
		if err := strictParams(params, &p); err != nil {
			return err
		}
		_, _, err := p.Dates()
		return err
	case TaskReconcile:
		var p ReconcileParams
		if err := strictParams(params, &p); err != nil {
			return err
		}
		_, _, err := p.Settings()
		return err
	case TaskAuditSeal:
		var p struct{}
		return strictParams(params, &p)
	}
	return nil
}

// strictParams decodes a task's params, refusing unknown fields.
func strictParams(b json.RawMessage, v any) error {
	if err := decodeStrict(b, v); err != nil {
		return BadField("params", "params: %v", err)
	}
	return nil
}

// NewTask makes the task of a valid request by c (the shell assigns its
// ID): scheduled at RunAt, now when none is given.
func NewTask(r TaskCreate, c Caller, now time.Time) Task {
	run := now
	if r.RunAt != nil {
		run = r.RunAt.UTC().Truncate(time.Microsecond)
	}
	params := r.Params
	if len(params) == 0 || string(params) == "null" {
		params = json.RawMessage(`{}`)
	}
	return Task{Kind: r.Kind, Status: TaskScheduled, RunAt: run, Every: r.Every, Params: params,
		CreatedBy: c.Actor(), CreatedAt: now}
}

// NextRun is the next run of a recurring task that was due at runAt and
// starts at now: its first occurrence after now. Runs missed while no
// node could run the task are not made up (the misfire policy: one run,
// at once, and then the schedule goes on; never a burst).
func NextRun(runAt time.Time, every time.Duration, now time.Time) time.Time {
	next := runAt.Add(every)
	if !next.After(now) {
		missed := now.Sub(runAt) / every
		next = runAt.Add((missed + 1) * every)
	}
	return next
}

// StartTask marks a task running on node (a takeover counts another
// attempt), keeping its progress.
func StartTask(t Task, node string, now time.Time) (Task, error) {
	if t.Status != TaskScheduled && t.Status != TaskRunning {
		return t, Errorf(ECONFLICT, "task %s has ended (%s)", t.ID, t.Status)
	}
	t.Status, t.Node = TaskRunning, node
	t.Attempts++
	if t.StartedAt == nil {
		t.StartedAt = &now
	}
	return t, nil
}

// Checkpoint records a running task's progress; progress never goes back
// (a node that took over resumes from the stored checkpoint).
func Checkpoint(t Task, p TaskProgress) (Task, error) {
	if t.Status != TaskRunning {
		return t, Errorf(ECONFLICT, "task %s is not running (%s)", t.ID, t.Status)
	}
	if p.Done < t.Progress.Done || p.Done > p.Total || p.Total < 0 {
		return t, fmt.Errorf("task %s: progress %d/%d after %d/%d", t.ID, p.Done, p.Total, t.Progress.Done, t.Progress.Total)
	}
	t.Progress = p
	return t, nil
}

// FinishTask ends a running task: done, or failed with cause.
func FinishTask(t Task, cause string, now time.Time) Task {
	t.Status, t.EndedAt = TaskDone, &now
	if cause != "" {
		t.Status, t.Error = TaskFailed, truncateJobError(cause)
	}
	return t
}

// TaskFilter selects tasks in a list.
type TaskFilter struct {
	Status TaskStatus
	Kind   TaskKind
	// Newest lists the newest first (by ID, which begins with the time
	// the task was made); Page.After is then the ID to list below.
	Newest bool
	Page
}

// TaskResult is what a task produced: a report's CSV, a reconciliation's
// or a seal's JSON.
type TaskResult struct {
	ContentType string
	Body        []byte
	// Chart is a report's PNG: sessions per hour of the day per site.
	Chart []byte
}

// TaskService schedules and reports tasks (admins).
type TaskService interface {
	CreateTask(ctx context.Context, c Caller, r TaskCreate) (Task, error)
	Task(ctx context.Context, c Caller, id string) (Task, error)
	Tasks(ctx context.Context, c Caller, f TaskFilter) ([]Task, string, error)
	// TaskResult is the result of a done task (ECONFLICT before); its
	// Chart is set for a report.
	TaskResult(ctx context.Context, c Caller, id string) (TaskResult, error)
}

// CanManageTasks: tasks are an admin's.
func CanManageTasks(c Caller) error {
	if c.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "tasks are scheduled and read by an admin")
	}
	return nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// anything after the value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}
