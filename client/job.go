package client

import (
	"context"
	"net/http"

	"latchkey"
)

// Jobs calls GET /v1/jobs?state=&kind= (admins).
func (c *Client) Jobs(ctx context.Context, f latchkey.JobFilter) ([]latchkey.Job, string, error) {
	q := pageQuery(nil, f.Page)
	if f.State != "" {
		q.Set("state", string(f.State))
	}
	if f.Kind != "" {
		q.Set("kind", string(f.Kind))
	}
	var out list[latchkey.Job]
	if err := c.list(ctx, "/v1/jobs", q, &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// Job calls GET /v1/jobs/{id}.
func (c *Client) Job(ctx context.Context, id string) (*latchkey.Job, error) {
	var out latchkey.Job
	if err := c.do(ctx, http.MethodGet, "/v1/jobs/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetryJob calls POST /v1/jobs/{id}/retry (conflict unless it failed or
// was cancelled).
func (c *Client) RetryJob(ctx context.Context, id string) (*latchkey.Job, error) {
	var out latchkey.Job
	if err := c.do(ctx, http.MethodPost, "/v1/jobs/"+seg(id)+"/retry", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelJob calls POST /v1/jobs/{id}/cancel (conflict when it has ended).
func (c *Client) CancelJob(ctx context.Context, id string) (*latchkey.Job, error) {
	var out latchkey.Job
	if err := c.do(ctx, http.MethodPost, "/v1/jobs/"+seg(id)+"/cancel", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
