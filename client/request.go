package client

import (
	"context"
	"net/http"
	"strconv"

	"latchkey"
)

// CreateRequest calls POST /v1/requests: an access request for the group
// set on the terminals, waiting for approval or provisioning at once.
// Errors: bad_request, forbidden (not eligible, or a terminal of a site
// the set excludes), not_found.
func (c *Client) CreateRequest(ctx context.Context, r latchkey.RequestCreate) (*latchkey.Request, error) {
	var out latchkey.Request
	if err := c.do(ctx, http.MethodPost, "/v1/requests", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRequest calls GET /v1/requests/{id}.
func (c *Client) GetRequest(ctx context.Context, id string) (*latchkey.Request, error) {
	var out latchkey.Request
	if err := c.do(ctx, http.MethodGet, "/v1/requests/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListRequests calls GET /v1/requests?status=&mine=.
func (c *Client) ListRequests(ctx context.Context, f latchkey.RequestFilter) ([]latchkey.Request, string, error) {
	q := pageQuery(nil, f.Page)
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.Mine {
		q.Set("mine", strconv.FormatBool(true))
	}
	var out list[latchkey.Request]
	if err := c.list(ctx, "/v1/requests", q, &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// CancelRequest calls POST /v1/requests/{id}/cancel; what the request
// provisioned is checked in.
func (c *Client) CancelRequest(ctx context.Context, id string) (*latchkey.Request, error) {
	var out latchkey.Request
	if err := c.do(ctx, http.MethodPost, "/v1/requests/"+seg(id)+"/cancel", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWorkItems calls GET /v1/workitems?status=: the caller's inbox.
func (c *Client) ListWorkItems(ctx context.Context, status latchkey.WorkItemStatus, page latchkey.Page) ([]latchkey.WorkItem, string, error) {
	q := pageQuery(nil, page)
	if status != "" {
		q.Set("status", string(status))
	}
	var out list[latchkey.WorkItem]
	if err := c.list(ctx, "/v1/workitems", q, &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// DecideWorkItem calls POST /v1/workitems/{id}/decide. Errors: forbidden
// (one's own request), not_found, conflict (decided already).
func (c *Client) DecideWorkItem(ctx context.Context, id string, d latchkey.WorkItemDecide) (*latchkey.WorkItem, error) {
	var out latchkey.WorkItem
	if err := c.do(ctx, http.MethodPost, "/v1/workitems/"+seg(id)+"/decide", nil, d, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWorkflow calls GET /v1/workflows/{id}.
func (c *Client) GetWorkflow(ctx context.Context, id string) (*latchkey.Workflow, error) {
	var out latchkey.Workflow
	if err := c.do(ctx, http.MethodGet, "/v1/workflows/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
