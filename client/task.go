package client

import (
	"context"
	"io"
	"net/http"

	"latchkey"
)

// CreateTask calls POST /v1/tasks (admins): a report, reconcile or
// audit_seal task, run at r.RunAt (now when nil), recurring with r.Every.
func (c *Client) CreateTask(ctx context.Context, r latchkey.TaskCreate) (*latchkey.Task, error) {
	var out latchkey.Task
	if err := c.do(ctx, http.MethodPost, "/v1/tasks", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetTask calls GET /v1/tasks/{id}.
func (c *Client) GetTask(ctx context.Context, id string) (*latchkey.Task, error) {
	var out latchkey.Task
	if err := c.do(ctx, http.MethodGet, "/v1/tasks/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTasks calls GET /v1/tasks?status=&kind=.
func (c *Client) ListTasks(ctx context.Context, f latchkey.TaskFilter) ([]latchkey.Task, string, error) {
	q := pageQuery(nil, f.Page)
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.Kind != "" {
		q.Set("kind", string(f.Kind))
	}
	var out list[latchkey.Task]
	if err := c.list(ctx, "/v1/tasks", q, &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// TaskResult calls GET /v1/tasks/{id}/result and writes the result (a
// report's CSV, a seal's JSON) to w; it returns its content type.
// Errors: conflict while the task has not run.
func (c *Client) TaskResult(ctx context.Context, id string, w io.Writer) (string, error) {
	var raw rawAnswer
	if err := c.do(ctx, http.MethodGet, "/v1/tasks/"+seg(id)+"/result", nil, nil, &raw); err != nil {
		return "", err
	}
	_, err := w.Write(raw.body)
	return raw.contentType, err
}

// TaskChart calls GET /v1/tasks/{id}/chart and writes a report's PNG to w.
func (c *Client) TaskChart(ctx context.Context, id string, w io.Writer) error {
	var raw rawAnswer
	if err := c.do(ctx, http.MethodGet, "/v1/tasks/"+seg(id)+"/chart", nil, nil, &raw); err != nil {
		return err
	}
	_, err := w.Write(raw.body)
	return err
}
