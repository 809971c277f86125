package main

import "testing"

const (
	failedJobJSON = `{"id":"job_1","kind":"checkout.expire","key":"checkout.expire:co_1","state":"failed","run_at":"2025-03-01T09:30:00Z",` +
		`"attempts":25,"max_attempts":25,"node":"node_a","fence":25,"error":"agent unreachable",` +
		`"created_at":"2025-03-01T09:00:00Z","updated_at":"2025-03-01T09:31:00Z","ended_at":"2025-03-01T09:31:00Z"}`
	retriedJobJSON = `{"id":"job_1","kind":"checkout.expire","key":"checkout.expire:co_1","state":"available","run_at":"2025-03-01T10:00:00Z",` +
		`"attempts":0,"max_attempts":25,"node":"node_a","fence":25,"error":"agent unreachable",` +
		`"created_at":"2025-03-01T09:00:00Z","updated_at":"2025-03-01T10:00:00Z"}`
	cancelledJobJSON = `{"id":"job_2","kind":"workflow","state":"cancelled","run_at":"2025-03-01T11:00:00Z",` +
		`"attempts":0,"max_attempts":25,"fence":0,"created_at":"2025-03-01T09:00:00Z","updated_at":"2025-03-01T10:00:00Z","ended_at":"2025-03-01T10:00:00Z"}`
)

func TestJob(t *testing.T) {
	auth := map[string]string{"LATCHKEY_TOKEN": "tok"}
	runAll(t, []cliTest{
		{
			name:   "list the failed jobs",
			args:   []string{"job", "list", "--state", "failed", "--kind", "checkout.expire", "--limit", "1"},
			env:    auth,
			calls:  []call{{method: "GET", path: "/v1/jobs", query: "kind=checkout.expire&limit=1&state=failed", auth: userAuth, status: 200, resp: `{"items":[` + failedJobJSON + `],"next":"job_1"}`}},
			code:   0,
			stdout: []string{"KIND", "STATE", "ATTEMPTS", "job_1", "checkout.expire", "failed", "25/25", "node_a", "agent unreachable"},
			stderr: []string{"--after job_1"},
		},
		{
			name:    "list --json",
			args:    []string{"job", "list", "--json", "--after", "job_0"},
			env:     auth,
			calls:   []call{{method: "GET", path: "/v1/jobs", query: "after=job_0", auth: userAuth, status: 200, resp: `{"items":[` + failedJobJSON + `],"next":""}`}},
			code:    0,
			jsonOut: `{"items":[` + failedJobJSON + `],"next":""}`,
		},
		{
			name:   "list with a state the server does not know",
			args:   []string{"job", "list", "--state", "bogus"},
			env:    auth,
			calls:  []call{{method: "GET", path: "/v1/jobs", query: "state=bogus", auth: userAuth, status: 400, resp: `{"error":{"code":"bad_request","message":"unknown job state \"bogus\"","details":{"field":"state"}}}`}},
			code:   1,
			stderr: []string{"latchkey: bad_request: unknown job state", "field"},
		},
		{
			name:   "list is for admins",
			args:   []string{"job", "list"},
			env:    auth,
			calls:  []call{{method: "GET", path: "/v1/jobs", auth: userAuth, status: 403, resp: `{"error":{"code":"forbidden","message":"admins only","details":{}}}`}},
			code:   1,
			stderr: []string{"latchkey: forbidden: admins only"},
		},
		{
			name:   "show",
			args:   []string{"job", "show", "job_1"},
			env:    auth,
			calls:  []call{{method: "GET", path: "/v1/jobs/job_1", auth: userAuth, status: 200, resp: failedJobJSON}},
			code:   0,
			stdout: []string{"job_1", "checkout.expire:co_1", "failed", "25 of 25", "node_a", "agent unreachable", "2025-03-01T09:31:00Z"},
		},
		{
			name:   "show an unknown job",
			args:   []string{"job", "show", "job_nope"},
			env:    auth,
			calls:  []call{{method: "GET", path: "/v1/jobs/job_nope", auth: userAuth, status: 404, resp: `{"error":{"code":"not_found","message":"job job_nope not found","details":{}}}`}},
			code:   1,
			stderr: []string{"latchkey: not_found: job job_nope not found"},
		},
		{
			name:   "retry",
			args:   []string{"job", "retry", "job_1"},
			env:    auth,
			calls:  []call{{method: "POST", path: "/v1/jobs/job_1/retry", auth: userAuth, status: 200, resp: retriedJobJSON}},
			code:   0,
			stdout: []string{"job_1", "available", "0 of 25"},
		},
		{
			name:    "retry --json",
			args:    []string{"job", "retry", "job_1", "--json"},
			env:     auth,
			calls:   []call{{method: "POST", path: "/v1/jobs/job_1/retry", auth: userAuth, status: 200, resp: retriedJobJSON}},
			code:    0,
			jsonOut: retriedJobJSON,
		},
		{
			name:   "retry a job that has not failed",
			args:   []string{"job", "retry", "job_2"},
			env:    auth,
			calls:  []call{{method: "POST", path: "/v1/jobs/job_2/retry", auth: userAuth, status: 409, resp: `{"error":{"code":"conflict","message":"job job_2 is available: only a failed or cancelled job can be retried","details":{"state":"available"}}}`}},
			code:   1,
			stderr: []string{"latchkey: conflict: job job_2 is available"},
		},
		{
			name:   "cancel",
			args:   []string{"job", "cancel", "job_2"},
			env:    auth,
			calls:  []call{{method: "POST", path: "/v1/jobs/job_2/cancel", auth: userAuth, status: 200, resp: cancelledJobJSON}},
			code:   0,
			stdout: []string{"job_2", "workflow", "cancelled"},
		},
		{name: "show without ID", args: []string{"job", "show"}, code: 2, stderr: []string{"missing ID"}},
		{name: "retry without ID", args: []string{"job", "retry"}, code: 2, stderr: []string{"missing ID"}},
		{name: "cancel with two IDs", args: []string{"job", "cancel", "job_1", "job_2"}, code: 2, stderr: []string{`unexpected argument "job_2"`}},
		{name: "list takes no ID", args: []string{"job", "list", "job_1"}, code: 2, stderr: []string{`unexpected argument "job_1"`}},
		{name: "help", args: []string{"help", "job"}, code: 0, stdout: []string{"latchkey job list [--state S]", "latchkey job retry ID", "latchkey job cancel ID"}},
	})
}
