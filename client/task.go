package client

import (
	"context"
	"fmt"
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
	return c.download(ctx, "/v1/tasks/"+seg(id)+"/result", w)
}

// TaskChart calls GET /v1/tasks/{id}/chart and writes a report's PNG to w.
func (c *Client) TaskChart(ctx context.Context, id string, w io.Writer) error {
	_, err := c.download(ctx, "/v1/tasks/"+seg(id)+"/chart", w)
	return err
}

// download GETs path and writes the body, whatever its type, to w.
func (c *Client) download(ctx context.Context, path string, w io.Writer) (string, error) {
	resp, data, err := c.failover(ctx, http.MethodGet, false, func(base string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("User-Agent", "latchkey-client/1")
		if tok := c.token.get(); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return resp, data, err
	})
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", decodeError(http.MethodGet, path, resp.StatusCode, data)
	}
	if _, err := w.Write(data); err != nil {
		return "", err
	}
	return resp.Header.Get("Content-Type"), nil
}
