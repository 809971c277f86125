package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"latchkey"
	"latchkey/chart"
)

var _ latchkey.TaskService = (*Store)(nil)

const taskCols = "id, kind, status, run_at, every, params, node, attempts, done, total, previous, created_by, created_at, started_at, ended_at, error"

func scanTask(row interface{ Scan(...any) error }) (latchkey.Task, error) {
	var x latchkey.Task
	var params string
	var runAt, created int64
	var started, ended sql.NullInt64
	if err := row.Scan(&x.ID, &x.Kind, &x.Status, &runAt, &x.Every, &params, &x.Node, &x.Attempts, &x.Progress.Done, &x.Progress.Total,
		&x.Previous, &x.CreatedBy, &created, &started, &ended, &x.Error); err != nil {
		return x, err
	}
	x.Params = json.RawMessage(params)
	x.RunAt, x.CreatedAt, x.StartedAt, x.EndedAt = fromUS(runAt), fromUS(created), optTime(started), optTime(ended)
	return x, nil
}

func (t *tx) insertTask(x latchkey.Task) error {
	_, err := t.exec("INSERT INTO tasks ("+taskCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		x.ID, string(x.Kind), string(x.Status), us(x.RunAt), x.Every, string(x.Params), x.Node, x.Attempts, x.Progress.Done, x.Progress.Total,
		x.Previous, x.CreatedBy, us(x.CreatedAt), nullUS(x.StartedAt), nullUS(x.EndedAt), x.Error)
	if err != nil {
		return err
	}
	// The task runs as a job due at its time, on whichever node claims it.
	_, err = t.enqueueJob(latchkey.JobSpec{Kind: latchkey.JobTask, Key: "task:" + x.ID, Args: taskJobArgs{Task: x.ID}, RunAt: x.RunAt})
	return err
}

func (t *tx) saveTask(x latchkey.Task) error {
	_, err := t.exec("UPDATE tasks SET status = ?, node = ?, attempts = ?, done = ?, total = ?, started_at = ?, ended_at = ?, error = ? WHERE id = ?",
		string(x.Status), x.Node, x.Attempts, x.Progress.Done, x.Progress.Total, nullUS(x.StartedAt), nullUS(x.EndedAt), x.Error, x.ID)
	return err
}

type taskJobArgs struct {
	Task string `json:"task"`
}

// CreateTask implements latchkey.TaskService (admins).
func (s *Store) CreateTask(ctx context.Context, c latchkey.Caller, r latchkey.TaskCreate) (latchkey.Task, error) {
	if err := latchkey.CanManageTasks(c); err != nil {
		return latchkey.Task{}, err
	}
	if err := r.Validate(s.now()); err != nil {
		return latchkey.Task{}, err
	}
	if _, ok := s.taskRuns()[r.Kind]; !ok {
		// Not a task scheduled to fail: refused until it can run.
		return latchkey.Task{}, latchkey.BadField("kind", "%s tasks cannot run on this server", r.Kind)
	}
	var out latchkey.Task
	err := s.write(ctx, func(t *tx) error {
		x := latchkey.NewTask(r, c, t.now)
		x.ID = latchkey.NewID("task")
		if err := t.insertTask(x); err != nil {
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionTaskCreate, x.ID, map[string]any{"kind": x.Kind, "run_at": x.RunAt, "every": x.Every})
		out = x
		return nil
	})
	return out, err
}

// Task implements latchkey.TaskService (admins).
func (s *Store) Task(ctx context.Context, c latchkey.Caller, id string) (latchkey.Task, error) {
	if err := latchkey.CanManageTasks(c); err != nil {
		return latchkey.Task{}, err
	}
	x, err := scanTask(s.queryRow(ctx, "SELECT "+taskCols+" FROM tasks WHERE id = ?", id))
	return x, notFound(err, "task %s not found", id)
}

// Tasks implements latchkey.TaskService (admins), by ID (newest first
// with f.Newest).
func (s *Store) Tasks(ctx context.Context, c latchkey.Caller, f latchkey.TaskFilter) ([]latchkey.Task, string, error) {
	if err := latchkey.CanManageTasks(c); err != nil {
		return nil, "", err
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", latchkey.BadField("status", "unknown task status %q", f.Status)
	}
	q, args := "SELECT "+taskCols+" FROM tasks WHERE TRUE", []any{}
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.Kind != "" {
		q += " AND kind = ?"
		args = append(args, string(f.Kind))
	}
	if f.Newest {
		return listNewest(ctx, s, q, f.Page, scanTask, func(x latchkey.Task) string { return x.ID }, args...)
	}
	return list(ctx, s, q+" AND id > ?", f.Page, scanTask, func(x latchkey.Task) string { return x.ID }, args...)
}

// TaskResult implements latchkey.TaskService (admins).
func (s *Store) TaskResult(ctx context.Context, c latchkey.Caller, id string) (latchkey.TaskResult, error) {
	x, err := s.Task(ctx, c, id)
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	if x.Status != latchkey.TaskDone {
		return latchkey.TaskResult{}, latchkey.Errorf(latchkey.ECONFLICT, "task %s is %s: it has no result", id, x.Status).With("status", string(x.Status))
	}
	var out latchkey.TaskResult
	var body, chart string
	if err := s.queryRow(ctx, "SELECT content_type, body, chart FROM task_results WHERE task_id = ?", id).Scan(&out.ContentType, &body, &chart); err != nil {
		return out, notFound(err, "task %s has no result", id)
	}
	out.Body = []byte(body)
	if chart != "" {
		if out.Chart, err = base64.StdEncoding.DecodeString(chart); err != nil {
			return out, fmt.Errorf("task %s: chart: %w", id, err)
		}
	}
	return out, nil
}

// fenced runs fn in a transaction that holds the job's claim (see
// holdJob) without ending it: a checkpoint of a long job.
func (s *Store) fenced(ctx context.Context, claim latchkey.Job, fn func(t *tx) error) error {
	return s.write(ctx, func(t *tx) error {
		if _, err := t.holdJob(claim); err != nil {
			return err
		}
		return fn(t)
	})
}

// lockTask reads and locks the task of a task job.
func (t *tx) lockTask(j latchkey.Job) (latchkey.Task, error) {
	var a taskJobArgs
	if err := json.Unmarshal(j.Args, &a); err != nil || a.Task == "" {
		return latchkey.Task{}, fmt.Errorf("job %s: bad arguments %q", j.ID, j.Args)
	}
	x, err := scanTask(t.queryRow("SELECT "+taskCols+" FROM tasks WHERE id = ?"+t.s.d.forUpdate(), a.Task))
	return x, notFound(err, "task %s not found", a.Task)
}

// taskRun is what a task's kind does: it writes through steps as it goes
// (each a transaction fenced by the task's job claim) and returns its
// result.
type taskRun func(ctx context.Context, x latchkey.Task, steps taskSteps) (latchkey.TaskResult, error)

// taskSteps are a running task's writes: checkpoint stores its progress,
// with the runner's own writes (with, when not nil) in the same
// transaction; fenced is a write of the runner's own.
type taskSteps struct {
	checkpoint func(p latchkey.TaskProgress, with func(t *tx) error) error
	fenced     func(fn func(t *tx) error) error
}

// runTask is the handler of JobTask: start the task (and schedule the
// next run of a recurring one), run its kind from its last checkpoint,
// then store its result and end it, each step fenced by the job's claim.
// A failed run is retried with the job's back-off; the last failure ends
// the task failed.
func (s *Store) runTask(ctx context.Context, claim latchkey.Job) error {
	var x latchkey.Task
	err := s.fenced(ctx, claim, func(t *tx) error {
		var err error
		if x, err = t.lockTask(claim); err != nil {
			return err
		}
		if x.Status == latchkey.TaskDone || x.Status == latchkey.TaskFailed {
			return nil
		}
		if x, err = latchkey.StartTask(x, claim.Node, t.now); err != nil {
			return err
		}
		if err := t.scheduleNext(x); err != nil {
			return err
		}
		return t.saveTask(x)
	})
	if err != nil {
		return err
	}
	if x.Status != latchkey.TaskRunning { // ended before: nothing to do
		return s.CompleteJob(ctx, claim)
	}
	run, ok := s.taskRuns()[x.Kind]
	if !ok {
		return s.endTask(ctx, claim, latchkey.TaskResult{}, fmt.Errorf("no runner for task kind %q", x.Kind))
	}
	checkpoint := func(p latchkey.TaskProgress, with func(t *tx) error) error {
		return s.fenced(ctx, claim, func(t *tx) error {
			cur, err := t.lockTask(claim)
			if err != nil {
				return err
			}
			if cur, err = latchkey.Checkpoint(cur, p); err != nil {
				return err
			}
			if with != nil {
				if err := with(t); err != nil {
					return err
				}
			}
			x = cur
			return t.saveTask(cur)
		})
	}
	fenced := func(fn func(t *tx) error) error { return s.fenced(ctx, claim, fn) }
	res, err := run(ctx, x, taskSteps{checkpoint: checkpoint, fenced: fenced})
	if err != nil && (latchkey.IsStaleFence(err) || claim.Attempts < claim.MaxAttempts) {
		return err // retried (or taken over) from the last checkpoint
	}
	return s.endTask(ctx, claim, res, err)
}

// endTask stores the result and ends the task (failed with cause when
// cause is not nil) and its job, in one fenced transaction.
func (s *Store) endTask(ctx context.Context, claim latchkey.Job, res latchkey.TaskResult, cause error) error {
	return s.runJobStep(ctx, claim, func(t *tx, j latchkey.Job) error {
		x, err := t.lockTask(j)
		if err != nil {
			return err
		}
		msg := ""
		if cause != nil {
			msg = cause.Error()
		}
		x = latchkey.FinishTask(x, msg, t.now)
		if err := t.saveTask(x); err != nil {
			return err
		}
		if cause != nil {
			t.record("system", "", latchkey.ActionTaskFail, x.ID, map[string]any{"kind": x.Kind, "error": x.Error, "attempts": x.Attempts})
			return nil
		}
		if _, err := t.exec("INSERT INTO task_results (task_id, content_type, body, chart) VALUES (?, ?, ?, ?)",
			x.ID, res.ContentType, string(res.Body), base64.StdEncoding.EncodeToString(res.Chart)); err != nil {
			return err
		}
		t.record("system", "", latchkey.ActionTaskDone, x.ID, map[string]any{"kind": x.Kind, "node": x.Node,
			"progress": x.Progress, "bytes": len(res.Body)})
		return nil
	})
}

// scheduleNext makes the next run of a recurring task when it starts
// (once: a takeover finds it made).
func (t *tx) scheduleNext(x latchkey.Task) error {
	if x.Every == "" {
		return nil
	}
	var n int
	if err := t.queryRow("SELECT COUNT(*) FROM tasks WHERE previous = ?", x.ID).Scan(&n); err != nil || n > 0 {
		return err
	}
	every, err := time.ParseDuration(x.Every)
	if err != nil {
		return fmt.Errorf("task %s: every %q: %w", x.ID, x.Every, err)
	}
	next := latchkey.Task{ID: latchkey.NewID("task"), Kind: x.Kind, Status: latchkey.TaskScheduled, RunAt: latchkey.NextRun(x.RunAt, every, t.now),
		Every: x.Every, Params: x.Params, Previous: x.ID, CreatedBy: x.CreatedBy, CreatedAt: t.now}
	if err := t.insertTask(next); err != nil {
		return err
	}
	t.record("system", "", latchkey.ActionTaskCreate, next.ID, map[string]any{"kind": next.Kind, "run_at": next.RunAt, "every": next.Every, "previous": x.ID})
	return nil
}

// taskRuns are the runners of the task kinds.
func (s *Store) taskRuns() map[latchkey.TaskKind]taskRun {
	return map[latchkey.TaskKind]taskRun{
		latchkey.TaskAuditSeal: s.runSealTask,
		latchkey.TaskReport:    s.runReportTask,
		latchkey.TaskReconcile: s.runReconcileTask,
	}
}

// runSealTask signs the audit head: the seal to keep elsewhere.
func (s *Store) runSealTask(ctx context.Context, _ latchkey.Task, steps taskSteps) (latchkey.TaskResult, error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	seq, hash, err := s.auditHead(ctx)
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	seal, err := latchkey.SignSeal(key, seq, hash, s.now())
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	b, err := json.Marshal(seal)
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	if err := steps.checkpoint(latchkey.TaskProgress{Done: 1, Total: 1}, nil); err != nil {
		return latchkey.TaskResult{}, err
	}
	return latchkey.TaskResult{ContentType: "application/json", Body: b}, nil
}

// runReportTask counts, per site and person, sessions, minutes used and
// check-outs over the report's dates in each site's timezone, one site
// per checkpoint.
func (s *Store) runReportTask(ctx context.Context, x latchkey.Task, steps taskSteps) (latchkey.TaskResult, error) {
	var p latchkey.ReportParams
	if err := json.Unmarshal(x.Params, &p); err != nil {
		return latchkey.TaskResult{}, err
	}
	from, to, err := p.Dates()
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	sites, err := s.reportSites(ctx)
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	names := map[string]string{}
	locs := map[string]*time.Location{}
	var sessions []latchkey.ReportSession
	var checkouts []latchkey.ReportCheckout
	for i, site := range sites {
		names[site.ID] = site.Name
		loc, err := time.LoadLocation(site.Timezone)
		if err != nil {
			loc = time.UTC
		}
		locs[site.ID] = loc
		lo, hi := latchkey.ReportRange(from, to, loc)
		ss, err := s.reportSessions(ctx, site.ID, lo, hi)
		if err != nil {
			return latchkey.TaskResult{}, err
		}
		cs, err := s.reportCheckouts(ctx, site.ID, lo, hi)
		if err != nil {
			return latchkey.TaskResult{}, err
		}
		sessions, checkouts = append(sessions, ss...), append(checkouts, cs...)
		if err := steps.checkpoint(latchkey.TaskProgress{Done: i + 1, Total: len(sites)}, nil); err != nil {
			return latchkey.TaskResult{}, err
		}
	}
	if err := s.principalNames(ctx, names); err != nil {
		return latchkey.TaskResult{}, err
	}
	rows := latchkey.ReportRows(sessions, checkouts, names, s.now())
	var series []chart.Series
	hourly := latchkey.HourlySessions(sessions, locs)
	for _, site := range sites {
		if h, ok := hourly[site.ID]; ok {
			series = append(series, chart.Series{Name: site.Name, Hours: h})
		}
	}
	png, err := chart.SessionsPerHour(fmt.Sprintf("Sessions started per hour, %s to %s", p.From, p.To), series)
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	return latchkey.TaskResult{ContentType: "text/csv", Body: latchkey.ReportCSV(rows), Chart: png}, nil
}

func (s *Store) reportSites(ctx context.Context) ([]latchkey.Site, error) {
	rows, err := s.query(ctx, "SELECT "+siteCols+" FROM sites ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []latchkey.Site
	for rows.Next() {
		x, err := scanSite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

func (s *Store) reportSessions(ctx context.Context, site string, lo, hi time.Time) ([]latchkey.ReportSession, error) {
	rows, err := s.query(ctx, "SELECT principal_id, started_at, ended_at FROM sessions WHERE site_id = ? AND started_at >= ? AND started_at < ?",
		site, us(lo), us(hi))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []latchkey.ReportSession
	for rows.Next() {
		r := latchkey.ReportSession{Site: site}
		var started int64
		var ended sql.NullInt64
		if err := rows.Scan(&r.Principal, &started, &ended); err != nil {
			return nil, err
		}
		r.StartedAt, r.EndedAt = fromUS(started), optTime(ended)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) reportCheckouts(ctx context.Context, site string, lo, hi time.Time) ([]latchkey.ReportCheckout, error) {
	rows, err := s.query(ctx, `SELECT c.principal_id FROM checkouts c JOIN terminals t ON t.id = c.terminal_id
		WHERE t.site_id = ? AND c.started_at >= ? AND c.started_at < ?`, site, us(lo), us(hi))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []latchkey.ReportCheckout
	for rows.Next() {
		r := latchkey.ReportCheckout{Site: site}
		if err := rows.Scan(&r.Principal); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// principalNames adds every principal's name to names.
func (s *Store) principalNames(ctx context.Context, names map[string]string) error {
	rows, err := s.query(ctx, "SELECT id, name FROM principals")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		names[id] = name
	}
	return rows.Err()
}
