package http

import (
	"context"
	"encoding/json"
	nethttp "net/http"

	"latchkey"
)

// taskBody is POST /v1/tasks.
type taskBody struct {
	Kind   string          `json:"kind"`
	RunAt  string          `json:"run_at"`
	Every  string          `json:"every"`
	Params json.RawMessage `json:"params"`

	r latchkey.TaskCreate
}

func (b *taskBody) validate() error {
	b.r = latchkey.TaskCreate{Kind: latchkey.TaskKind(b.Kind), Every: b.Every, Params: b.Params}
	if b.RunAt != "" {
		at, err := parseTime("run_at", b.RunAt)
		if err != nil {
			return err
		}
		b.r.RunAt = &at
	}
	// params are as strict as the rest of the body (no key twice, none in
	// another case), checked against the kind's parameters.
	if params := taskParams(b.r.Kind); params != nil && len(b.Params) > 0 && string(b.Params) != "null" {
		if err := strictUnmarshal(b.Params, params, "params"); err != nil {
			return err
		}
	}
	// run_at's bounds are judged by the store, against its clock.
	return b.r.ValidateShape()
}

// taskParams is a value of the parameters of kind, to decode them into
// (nil for an unknown kind, which ValidateShape refuses).
func taskParams(kind latchkey.TaskKind) any {
	switch kind {
	case latchkey.TaskReport:
		return &latchkey.ReportParams{}
	case latchkey.TaskReconcile:
		return &latchkey.ReconcileParams{}
	case latchkey.TaskAuditSeal:
		return &struct{}{}
	}
	return nil
}

// createTask is POST /v1/tasks (admins) → 201, the task.
func (s *Server) createTask(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[taskBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	x, err := s.store.CreateTask(r.Context(), c, in.r)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, x, nil
}

func (s *Server) getTask(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	x, err := s.store.Task(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, x, nil
}

// listTasks is GET /v1/tasks?status=&kind=.
func (s *Server) listTasks(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	q := r.URL.Query()
	f := latchkey.TaskFilter{Status: latchkey.TaskStatus(q.Get("status")), Kind: latchkey.TaskKind(q.Get("kind"))}
	if f.Status != "" && !f.Status.Valid() {
		return 0, nil, latchkey.BadField("status", "unknown task status %q: scheduled, running, done or failed", f.Status)
	}
	if f.Kind != "" {
		if err := latchkey.ValidName("kind", string(f.Kind)); err != nil {
			return 0, nil, err
		}
	}
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.Task, string, error) {
		f.Page = p
		return s.store.Tasks(ctx, c, f)
	})
}

// taskChart is GET /v1/tasks/{id}/chart (an extension of API.md): a
// report's PNG of sessions per hour of the day per site.
func (s *Server) taskChart(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	res, err := s.store.TaskResult(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if len(res.Chart) == 0 {
		return 0, nil, latchkey.Errorf(latchkey.ENOTFOUND, "task %s has no chart (only reports have one)", r.PathValue("id"))
	}
	return nethttp.StatusOK, rawBody{contentType: "image/png", body: res.Chart}, nil
}

// taskResult is GET /v1/tasks/{id}/result: a report's CSV, a seal's or a
// reconciliation's JSON, as it was stored.
func (s *Server) taskResult(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	res, err := s.store.TaskResult(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, rawBody{contentType: res.ContentType, body: res.Body}, nil
}
