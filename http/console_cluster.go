package http

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"latchkey"
)

// Cluster and tasks (issue 13, screen 8), for admins: the nodes and
// whether each is alive, the tasks newest first with their progress, a
// form to schedule a report or a reconciliation, and a task's page with
// its result (a report's CSV and chart, a reconciliation's drift). Tasks
// publish no events on the stream while they progress (checkpoints are
// not audited) and heartbeats are not events either, so the page's live
// part is asked for again (cluster.js): every second while a task runs or
// is due (latchkey.TaskPoll), every 5 s otherwise on /cluster (the nodes),
// and not at all on the page of a task that has ended.

// clusterTasksPage is how many tasks /cluster lists at once.
const clusterTasksPage = 25

// clusterPage is /cluster's own values (consoleView.Page).
type clusterPage struct {
	Nodes []nodeRow
	Tasks []taskRow
	After string // this page's cursor ("" the newest)
	Next  string // the older tasks' cursor ("" none)
	Poll  int    // ms until the live part is asked for again; 0: never
	// Form is what the schedule form shows: a fresh one, or what was
	// typed in a refused one, with the refused field and why.
	Form       latchkey.TaskForm
	FieldError string
	Field      string
}

// nodeRow is a node and the tasks it runs now.
type nodeRow struct {
	latchkey.Node
	Running []string
}

// taskRow is a task as the pages show it.
type taskRow struct {
	latchkey.Task
	Title, Words, ProgressWords string
	Value, Max                  int // the <progress> element's (Max 0: indeterminate)
	Live                        bool
}

func taskRowOf(t latchkey.Task, now time.Time) taskRow {
	r := taskRow{Task: t, Title: latchkey.TaskTitle(t), Words: latchkey.TaskWords(t, now), ProgressWords: latchkey.TaskProgressWords(t),
		Live: latchkey.TaskLive(t)}
	switch {
	case t.Progress.Total > 0:
		r.Value, r.Max = t.Progress.Done, t.Progress.Total
	case t.Status == latchkey.TaskDone || t.Status == latchkey.TaskFailed:
		r.Value, r.Max = 1, 1 // nothing to do: full
	}
	return r
}

// LiveSrc is the address of /cluster's live part for this page.
func (p clusterPage) LiveSrc() string {
	if p.After == "" {
		return "/cluster/live"
	}
	return "/cluster/live?after=" + url.QueryEscape(p.After)
}

// clusterRoutes registers Cluster and tasks.
func (s *Server) clusterRoutes() {
	s.handle("GET /cluster", s.consolePage(s.consoleCluster))
	s.handle("POST /cluster", s.consolePage(s.consoleSchedule))
	s.handle("GET /cluster/live", s.consolePage(s.consoleClusterLive))
	s.handle("GET /tasks/{id}", s.consolePage(s.consoleTask))
	s.handle("GET /tasks/{id}/live", s.consolePage(s.consoleTaskLive))
	s.handle("GET /tasks/{id}/result", s.consolePage(s.consoleTaskResult))
	s.handle("GET /tasks/{id}/chart", s.consolePage(s.consoleTaskChart))
}

// clusterState reads the nodes and a page of tasks (newest first, below
// after), through the store's admin-only calls. The running tasks (the
// nodes' table) are read before the page of tasks, and NodeTasks takes
// the page's word on the tasks it holds, so that a task that starts or
// ends between the two reads is said to run in both its rows or in
// neither.
func (s *Server) clusterState(r *nethttp.Request, ss consoleSession, after string) (clusterPage, error) {
	p := clusterPage{After: after}
	nodes, err := s.store.Nodes(r.Context(), ss.caller)
	if err != nil {
		return p, err
	}
	running, _, err := s.store.Tasks(r.Context(), ss.caller, latchkey.TaskFilter{Status: latchkey.TaskRunning, Page: latchkey.Page{Limit: latchkey.MaxPageLimit}})
	if err != nil {
		return p, err
	}
	tasks, next, err := s.store.Tasks(r.Context(), ss.caller, latchkey.TaskFilter{Newest: true, Page: latchkey.Page{Limit: clusterTasksPage, After: after}})
	if err != nil {
		return p, err
	}
	byNode := latchkey.NodeTasks(running, tasks)
	for _, n := range nodes {
		p.Nodes = append(p.Nodes, nodeRow{Node: n, Running: byNode[n.ID]})
	}
	now := s.store.Now().UTC()
	for _, t := range tasks {
		p.Tasks = append(p.Tasks, taskRowOf(t, now))
	}
	p.Next = next
	p.Poll = int(latchkey.TaskPoll(append(tasks, running...), now, latchkey.TaskPollSlow) / time.Millisecond)
	return p, nil
}

// clusterError is a page's refusal: the store's words, and for a caller
// who is not an admin, whose screen this is.
func clusterError(err error) (int, string) {
	status, msg := consoleError(err)
	if status == nethttp.StatusForbidden {
		msg = "Cluster and tasks is for admins only. " + msg
	}
	return status, msg
}

// consoleCluster is /cluster.
func (s *Server) consoleCluster(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	today := s.store.Now().UTC().Format(latchkey.TaskDateLayout)
	v := consoleView{Session: &ss}
	if r.URL.Query().Get("sent") == "again" {
		v.Notice = "That form was sent before and applied once: its task is in the list below."
	}
	s.clusterPageWith(w, r, v, ss, latchkey.TaskForm{Kind: string(latchkey.TaskReport), From: today, To: today, When: "now"}, "", "")
}

// clusterPageWith renders /cluster with form in the schedule form and,
// for a refused one, the field and why.
func (s *Server) clusterPageWith(w nethttp.ResponseWriter, r *nethttp.Request, v consoleView, ss consoleSession, form latchkey.TaskForm, field, why string) {
	p, err := s.clusterState(r, ss, r.URL.Query().Get("after"))
	if err != nil {
		status, msg := clusterError(err)
		v.Error = msg
		s.render(w, r, status, "error.html", v)
		return
	}
	p.Form, p.Field, p.FieldError = form, field, why
	v.Page = p
	status := nethttp.StatusOK
	if why != "" {
		status = nethttp.StatusBadRequest
	}
	s.render(w, r, status, "cluster.html", v)
}

// consoleClusterLive is /cluster's live part, as HTML (cluster.js puts it
// in place of the page's).
func (s *Server) consoleClusterLive(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	p, err := s.clusterState(r, ss, r.URL.Query().Get("after"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.clusterFragment(w, r, "cluster-live", consoleView{Session: &ss, Page: p})
}

// consoleSchedule schedules the form's task (a keyed form: applied once)
// and shows its page; a refused form is shown again as typed, with why.
func (s *Server) consoleSchedule(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	form := latchkey.TaskForm{Kind: r.PostFormValue("kind"), From: r.PostFormValue("from"), To: r.PostFormValue("to"),
		Fix: r.PostFormValue("fix") == "yes", Batch: r.PostFormValue("batch"), When: r.PostFormValue("when"), At: r.PostFormValue("at"),
		EveryHours: r.PostFormValue("every_hours")}
	if err := latchkey.CanManageTasks(ss.caller); err != nil { // said before what was typed is judged
		status, msg := clusterError(err)
		s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
		return
	}
	req, err := form.Request()
	var x latchkey.Task
	if err == nil {
		x, err = s.store.CreateTask(ss.changeCtx(r), ss.caller, req)
	}
	if err != nil {
		field, msg, ok := latchkey.TaskFormError(err)
		if !ok {
			status, msg := clusterError(err)
			s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
			return
		}
		s.clusterPageWith(w, r, consoleView{Session: &ss}, ss, form, field, sentence(msg))
		return
	}
	nethttp.Redirect(w, r, "/tasks/"+x.ID, nethttp.StatusSeeOther)
}

// taskPage is a task's page's own values (consoleView.Page).
type taskPage struct {
	Task      taskRow
	CreatedBy string // the name of who scheduled it (its ID when unknown)
	Poll      int    // ms; 0 once it has ended
	// When done: a report's first rows and alternative text of its chart,
	// a reconciliation's result, a seal's JSON.
	ReportHead []string
	ReportRows [][]string
	ReportMore int // rows not shown
	ChartAlt   string
	Reconcile  *latchkey.ReconcileResult
	DriftMore  int
	Seal       string
	ResultErr  string
}

// Download names the result's file.
func (p taskPage) Download() string {
	if p.Task.Kind == latchkey.TaskReport {
		return p.Task.ID + ".csv"
	}
	return p.Task.ID + ".json"
}

// Limits of what a task's page shows of its result (the download has
// all of it).
const (
	taskPageRows  = 100
	taskPageDrift = 200
)

// taskState reads a task and, when it is done, its result.
func (s *Server) taskState(r *nethttp.Request, ss consoleSession) (taskPage, map[string]string, error) {
	x, err := s.store.Task(r.Context(), ss.caller, r.PathValue("id"))
	if err != nil {
		return taskPage{}, nil, err
	}
	now := s.store.Now().UTC()
	p := taskPage{Task: taskRowOf(x, now), Poll: int(latchkey.TaskPoll([]latchkey.Task{x}, now, 0) / time.Millisecond), CreatedBy: x.CreatedBy}
	if who, err := s.store.GetPrincipal(r.Context(), ss.caller, x.CreatedBy); err == nil {
		p.CreatedBy = who.Name
	}
	var names map[string]string
	if x.Status != latchkey.TaskDone {
		return p, names, nil
	}
	res, err := s.store.TaskResult(r.Context(), ss.caller, x.ID)
	if err != nil {
		return p, names, err
	}
	switch x.Kind {
	case latchkey.TaskReport:
		rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
		if err != nil || len(rows) == 0 {
			p.ResultErr = "The report's CSV could not be read; download it to see it."
			break
		}
		p.ReportHead, p.ReportRows = reportTable(rows)
		if len(p.ReportRows) > taskPageRows {
			p.ReportMore = len(p.ReportRows) - taskPageRows
			p.ReportRows = p.ReportRows[:taskPageRows]
		}
		if len(res.Chart) > 0 {
			p.ChartAlt = latchkey.ReportChartAlt(x)
		}
	case latchkey.TaskReconcile:
		var rr latchkey.ReconcileResult
		if err := json.Unmarshal(res.Body, &rr); err != nil {
			p.ResultErr = "The reconciliation's result could not be read; download it to see it."
			break
		}
		if len(rr.Drift) > taskPageDrift {
			p.DriftMore = len(rr.Drift) - taskPageDrift
			rr.Drift = rr.Drift[:taskPageDrift]
		}
		p.Reconcile = &rr
		ids := make([]string, len(rr.Drift))
		for i, d := range rr.Drift {
			ids[i] = d.Terminal
		}
		if names, err = s.store.TerminalNames(r.Context(), ss.caller, ids); err != nil {
			names = nil // the page shows the IDs
		}
	default:
		var b bytes.Buffer
		if json.Indent(&b, res.Body, "", "  ") != nil {
			b.Reset()
			b.Write(res.Body)
		}
		p.Seal = b.String()
	}
	return p, names, nil
}

// consoleTask is a task's page.
func (s *Server) consoleTask(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	p, names, err := s.taskState(r, ss)
	if err != nil {
		status, msg := clusterError(err)
		s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
		return
	}
	s.render(w, r, nethttp.StatusOK, "task.html", consoleView{Session: &ss, Page: p, TerminalNames: names})
}

// consoleTaskLive is a task's page's live part, as HTML.
func (s *Server) consoleTaskLive(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	p, names, err := s.taskState(r, ss)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.clusterFragment(w, r, "task-live", consoleView{Session: &ss, Page: p, TerminalNames: names})
}

// consoleTaskResult downloads a done task's result: a report's CSV, a
// reconciliation's or a seal's JSON, as an attachment.
func (s *Server) consoleTaskResult(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	x, err := s.store.Task(r.Context(), ss.caller, r.PathValue("id"))
	var res latchkey.TaskResult
	if err == nil {
		res, err = s.store.TaskResult(r.Context(), ss.caller, x.ID)
	}
	if err != nil {
		status, msg := clusterError(err)
		s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
		return
	}
	name := taskPage{Task: taskRow{Task: x}}.Download()
	ct := res.ContentType
	if x.Kind == latchkey.TaskReport {
		ct = "text/csv; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(res.Body)
}

// consoleTaskChart is a done report's chart, a PNG (the task's page shows
// it as an image from this origin, as the CSP wants).
func (s *Server) consoleTaskChart(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	res, err := s.store.TaskResult(r.Context(), ss.caller, r.PathValue("id"))
	if err == nil && len(res.Chart) == 0 {
		err = latchkey.Errorf(latchkey.ENOTFOUND, "task %s has no chart: only a report has one", r.PathValue("id"))
	}
	if err != nil {
		status, msg := clusterError(err)
		s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(res.Chart)
}

// clusterFragment writes one template of a page (its live part) as HTML.
func (s *Server) clusterFragment(w nethttp.ResponseWriter, r *nethttp.Request, name string, v consoleView) {
	var b strings.Builder
	if err := consolePages.ExecuteTemplate(&b, name, v); err != nil {
		s.internal(w, r, "render "+name, slog.Any("err", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(b.String()))
}

// reportCSVHead is the header of a report's CSV (latchkey.ReportCSV).
var reportCSVHead = []string{"site", "site_name", "principal", "name", "sessions", "minutes", "checkouts"}

// reportTable is a report's CSV as the task's page shows it: the names
// of sites and people with their counts, under headers in words (the
// CSV's own columns when it is not the CSV a report writes).
func reportTable(rows [][]string) (head []string, body [][]string) {
	if !slices.Equal(rows[0], reportCSVHead) {
		return rows[0], rows[1:]
	}
	for _, r := range rows[1:] {
		body = append(body, []string{r[1], r[3], r[4], r[5], r[6]})
	}
	return []string{"Site", "Person", "Sessions", "Minutes used", "Check-outs"}, body
}
