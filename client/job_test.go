package client_test

import (
	"context"
	"errors"
	"testing"

	"latchkey"
	"latchkey/client"
)

const jobJSON = `{"id":"job_1","kind":"checkout.expire","key":"checkout.expire:co_1","state":"failed","run_at":"2025-03-01T09:30:00Z",` +
	`"attempts":25,"max_attempts":25,"node":"node_a","fence":25,"error":"agent unreachable",` +
	`"created_at":"2025-03-01T09:00:00Z","updated_at":"2025-03-01T09:30:00Z","ended_at":"2025-03-01T09:30:00Z"}`

func TestJobCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		x    exchange
		call func(ctx context.Context, c *client.Client) (any, error)
		want string
	}{
		{
			name: "list with every filter",
			x: exchange{method: "GET", path: "/v1/jobs", query: "after=job_0&kind=checkout.expire&limit=2&state=failed", status: 200,
				resp: `{"items":[` + jobJSON + `],"next":"job_1"}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				items, next, err := c.Jobs(ctx, latchkey.JobFilter{State: latchkey.JobFailed, Kind: latchkey.JobCheckoutExpire,
					Page: latchkey.Page{Limit: 2, After: "job_0"}})
				return map[string]any{"items": items, "next": next}, err
			},
			want: `{"items":[` + jobJSON + `],"next":"job_1"}`,
		},
		{
			name: "list without a filter",
			x:    exchange{method: "GET", path: "/v1/jobs", status: 200, resp: `{"items":[],"next":""}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				items, next, err := c.Jobs(ctx, latchkey.JobFilter{})
				return map[string]any{"n": len(items), "next": next}, err
			},
			want: `{"n":0,"next":""}`,
		},
		{
			name: "one job, its ID escaped",
			x:    exchange{method: "GET", path: "/v1/jobs/job%2F1", status: 200, resp: jobJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.Job(ctx, "job/1") },
			want: jobJSON,
		},
		{
			name: "retry",
			x:    exchange{method: "POST", path: "/v1/jobs/job_1/retry", status: 200, resp: jobJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.RetryJob(ctx, "job_1") },
			want: jobJSON,
		},
		{
			name: "cancel",
			x:    exchange{method: "POST", path: "/v1/jobs/job_1/cancel", status: 200, resp: jobJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.CancelJob(ctx, "job_1") },
			want: jobJSON,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeServer(t, tt.x, "tok")
			c := client.New(srv.URL, client.WithToken("tok"), client.WithHTTPClient(srv.Client()))
			got, err := tt.call(context.Background(), c)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			assertJSON(t, "result", asJSON(t, got), tt.want)
		})
	}
}

// TestRetryJobConflict: a refused retry is the API's error, its details
// (the job's state) kept.
func TestRetryJobConflict(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t, exchange{method: "POST", path: "/v1/jobs/job_1/retry", status: 409,
		resp: `{"error":{"code":"conflict","message":"job job_1 is running","details":{"state":"running"}}}`}, "tok")
	j, err := client.New(srv.URL, client.WithToken("tok")).RetryJob(context.Background(), "job_1")
	var le *latchkey.Error
	if j != nil || !errors.As(err, &le) || le.Code != latchkey.ECONFLICT || le.Details["state"] != "running" {
		t.Fatalf("retry of a running job: %+v, %#v", j, err)
	}
}
