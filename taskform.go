package latchkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The console's Cluster and tasks screen (issue 13, screen 8): the rules
// of its form to schedule a task, and how a task is said and followed.
// The form makes the same TaskCreate the API takes, checked by the same
// ValidateShape, and the store judges it as it judges the API's.

// TaskForm is what a person typed in the form that schedules a task, as
// typed: a report (From, To) or a reconciliation (Fix, Batch), to run now
// or At a time (UTC), once or every EveryHours hours.
type TaskForm struct {
	Kind       string
	From, To   string // a report's dates, YYYY-MM-DD
	Fix        bool   // a reconciliation corrects the drift it finds
	Batch      string // a reconciliation's terminals per batch; empty: the default
	When       string // "now" or "at"
	At         string // with When "at": YYYY-MM-DDTHH:MM (a datetime-local input), UTC
	EveryHours string // empty: once
}

// Task form field names, as the form names its inputs.
const (
	TaskFieldKind  = "kind"
	TaskFieldFrom  = "from"
	TaskFieldTo    = "to"
	TaskFieldBatch = "batch"
	TaskFieldAt    = "at"
	TaskFieldEvery = "every_hours"
)

// MaxTaskEveryHours is the longest recurrence the form takes (MaxTaskEvery).
const MaxTaskEveryHours = int(MaxTaskEvery / time.Hour)

// Request is the form's task request, or an error whose details name the
// form's field (TaskFormError says it in words).
func (f TaskForm) Request() (TaskCreate, error) {
	r := TaskCreate{Kind: TaskKind(f.Kind)}
	switch r.Kind {
	case TaskReport:
		r.Params, _ = json.Marshal(ReportParams{From: strings.TrimSpace(f.From), To: strings.TrimSpace(f.To)})
	case TaskReconcile:
		p := ReconcileParams{Fix: f.Fix}
		if b := strings.TrimSpace(f.Batch); b != "" {
			n, err := strconv.Atoi(b)
			if err != nil {
				return r, BadField(TaskFieldBatch, "the batch size must be a whole number of terminals, from 1 to %d", MaxReconcileBatch)
			}
			p.Batch = n
			if n == 0 { // 0 would mean the default: say it is out of range instead
				return r, BadField(TaskFieldBatch, "the batch size must be from 1 to %d terminals", MaxReconcileBatch)
			}
		}
		r.Params, _ = json.Marshal(p)
	default:
		return r, BadField(TaskFieldKind, "choose what to run: a report or a reconciliation")
	}
	switch f.When {
	case "", "now":
	case "at":
		at, err := parseFormTime(f.At)
		if err != nil {
			return r, BadField(TaskFieldAt, "give the time to run it as a date and a time (UTC), or choose Now")
		}
		r.RunAt = &at
	default:
		return r, BadField(TaskFieldAt, "choose when to run it: now or at a time")
	}
	if e := strings.TrimSpace(f.EveryHours); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 1 || n > MaxTaskEveryHours {
			return r, BadField(TaskFieldEvery, "repeat every 1 to %d hours (a whole number), or leave it empty to run once", MaxTaskEveryHours)
		}
		r.Every = strconv.Itoa(n) + "h"
	}
	return r, r.ValidateShape()
}

// parseFormTime reads a datetime-local value (with or without seconds)
// as UTC.
func parseFormTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

// taskFormFields maps the API's field names to the form's.
var taskFormFields = map[string]string{
	"kind": TaskFieldKind, "params.from": TaskFieldFrom, "params.to": TaskFieldTo, "params.batch": TaskFieldBatch,
	"run_at": TaskFieldAt, "every": TaskFieldEvery,
}

// TaskFormError is what the form says of a refused request: the form's
// field it is about ("" when none) and the message, in words for a
// person (the API's own message when it already is one). ok is false
// for an error that is not a refusal of what was typed.
func TaskFormError(err error) (field, msg string, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Code != EBADREQUEST {
		return "", "", false
	}
	api, _ := e.Details["field"].(string)
	field = taskFormFields[api]
	if field == "" {
		field = api
	}
	msg = e.Message
	switch api {
	case "run_at":
		msg = "the time to run it must be from now to a year ahead (UTC)"
	case "params.from":
		msg = "give the report's first day as a date (YYYY-MM-DD)"
	case "params.to":
		if strings.Contains(msg, "must be a date") {
			msg = "give the report's last day as a date (YYYY-MM-DD)"
		} else {
			msg = strings.Replace(strings.Replace(msg, "to must not be before from", "the last day must not be before the first", 1), "a report covers", "a report may cover", 1)
		}
	}
	return field, msg, true
}

// TaskLive says whether a task may still change: scheduled or running.
func TaskLive(t Task) bool { return t.Status == TaskScheduled || t.Status == TaskRunning }

// Task polling (the console follows tasks by asking, as tasks publish no
// events on the stream while they progress).
const (
	TaskPollFast = time.Second     // a task runs or is due
	TaskPollSlow = 5 * time.Second // the longest wait while a task is live
)

// TaskPoll is how long a page showing tasks waits before it asks again:
// TaskPollFast while one runs or is due (a scheduled task whose time has
// come, or comes within TaskPollFast), until the earliest scheduled run
// (from TaskPollFast to TaskPollSlow) while one waits for its time, and
// idle when none is live (0: stop asking).
func TaskPoll(tasks []Task, now time.Time, idle time.Duration) time.Duration {
	wait := time.Duration(-1)
	for _, t := range tasks {
		switch t.Status {
		case TaskRunning:
			return TaskPollFast
		case TaskScheduled:
			d := min(max(t.RunAt.Sub(now), TaskPollFast), TaskPollSlow)
			if wait < 0 || d < wait {
				wait = d
			}
		}
	}
	if wait < 0 {
		return idle
	}
	return wait
}

// TaskWords says where a task stands, for a person, at now.
func TaskWords(t Task, now time.Time) string {
	switch t.Status {
	case TaskScheduled:
		if !t.RunAt.After(now) {
			return "Due: waiting for a node to start it."
		}
		return "Scheduled for " + t.RunAt.UTC().Format("2006-01-02 15:04 UTC") + "."
	case TaskRunning:
		s := "Running on " + t.Node
		if t.Attempts > 1 {
			s += fmt.Sprintf(" (attempt %d: taken over from a node that stopped)", t.Attempts)
		}
		return s + "."
	case TaskDone:
		return "Done."
	case TaskFailed:
		return "Failed: " + sentenceOf(t.Error)
	}
	return string(t.Status) + "."
}

// TaskProgressWords is a task's progress as its label says it.
func TaskProgressWords(t Task) string {
	p := t.Progress
	switch {
	case t.Status == TaskScheduled:
		return "not started"
	case p.Total == 0 && t.Status == TaskRunning:
		return "starting"
	case p.Total == 0:
		return "nothing to do"
	}
	return fmt.Sprintf("%d of %d (%d%%)", p.Done, p.Total, p.Done*100/p.Total)
}

// sentenceOf is msg with a full stop.
func sentenceOf(msg string) string {
	if msg == "" {
		return "no reason was given."
	}
	if !strings.ContainsAny(msg[len(msg)-1:], ".!?") {
		msg += "."
	}
	return msg
}

// NodeTasks are the IDs of the tasks each node runs, by node, from two
// reads: running, the running tasks, read first, and shown, a page of
// tasks read after it, which a page shows beside. A task of shown is
// taken as shown says (a later word than running's: started since, or
// ended), so that the page says one thing of each task it shows: run by
// its node in the nodes' table if and only if its own row says running.
// The others are as running says.
func NodeTasks(running, shown []Task) map[string][]string {
	later := map[string]Task{}
	for _, t := range shown {
		later[t.ID] = t
	}
	out := map[string][]string{}
	add := func(t Task) {
		if t.Status == TaskRunning && t.Node != "" {
			out[t.Node] = append(out[t.Node], t.ID)
		}
	}
	seen := map[string]bool{}
	for _, t := range running {
		if seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		if l, ok := later[t.ID]; ok {
			t = l
		}
		add(t)
	}
	for _, t := range shown {
		if !seen[t.ID] {
			seen[t.ID] = true
			add(t)
		}
	}
	return out
}

// TaskTitle names a task for a person: a report of its dates, a
// reconciliation (correcting, or only looking), a seal.
func TaskTitle(t Task) string {
	switch t.Kind {
	case TaskReport:
		var p ReportParams
		if json.Unmarshal(t.Params, &p) == nil && p.From != "" {
			if p.From == p.To {
				return "Report of " + p.From
			}
			return "Report from " + p.From + " to " + p.To
		}
		return "Report"
	case TaskReconcile:
		var p ReconcileParams
		if json.Unmarshal(t.Params, &p) == nil && p.Fix {
			return "Reconciliation, correcting drift"
		}
		return "Reconciliation, reporting drift only"
	case TaskAuditSeal:
		return "Audit seal"
	}
	return string(t.Kind)
}

// ReportChartAlt is the alternative text of a report's chart: what the
// picture shows.
func ReportChartAlt(t Task) string {
	var p ReportParams
	_ = json.Unmarshal(t.Params, &p)
	span := p.From
	if p.To != p.From {
		span = p.From + " to " + p.To
	}
	return "Bar chart: the sessions started in each hour of the day (0 to 23, in each site's timezone), one bar per site, " + span +
		". The CSV has the numbers per person."
}
