package http_test

import (
	"context"
	"testing"

	"latchkey"
)

// The stub's job methods: each records its call and answers a job of the
// asked ID.

func (s *stub) Jobs(_ context.Context, c latchkey.Caller, f latchkey.JobFilter) ([]latchkey.Job, string, error) {
	if err := s.record("Jobs", c, f); err != nil {
		return nil, "", err
	}
	return []latchkey.Job{{ID: "job_1", Kind: "noop", State: latchkey.JobFailed}}, "job_1", nil
}

func (s *stub) Job(_ context.Context, c latchkey.Caller, id string) (latchkey.Job, error) {
	return latchkey.Job{ID: id, State: latchkey.JobAvailable}, s.record("Job", c, id)
}

func (s *stub) RetryJob(_ context.Context, c latchkey.Caller, id string) (latchkey.Job, error) {
	return latchkey.Job{ID: id, State: latchkey.JobAvailable}, s.record("RetryJob", c, id)
}

func (s *stub) CancelJob(_ context.Context, c latchkey.Caller, id string) (latchkey.Job, error) {
	return latchkey.Job{ID: id, State: latchkey.JobCancelled}, s.record("CancelJob", c, id)
}

// TestJobListQuery: the filter and page of GET /v1/jobs reach the store as
// given; a bad one is refused with the field it names, before the store.
func TestJobListQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.do(req{method: "GET", path: "/v1/jobs?state=failed&kind=checkout.expire&limit=5&after=job_0", token: adminToken})
	if w.Code != 200 {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	got := decodeJSON[struct {
		Items []latchkey.Job `json:"items"`
		Next  string         `json:"next"`
	}](t, w)
	if len(got.Items) != 1 || got.Items[0].ID != "job_1" || got.Next != "job_1" {
		t.Errorf("list body %s", w.Body)
	}
	want := latchkey.JobFilter{State: latchkey.JobFailed, Kind: latchkey.JobCheckoutExpire, Page: latchkey.Page{Limit: 5, After: "job_0"}}
	if calls := e.st.recorded("Jobs"); len(calls) != 1 || calls[0].args[0] != want {
		t.Errorf("store calls %+v, want the filter %+v", calls, want)
	}

	for _, c := range []struct{ query, field string }{
		{"state=bogus", "state"},
		{"state=FAILED", "state"},
		{"kind=a%00b", "kind"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
	} {
		e := newEnv(t)
		w := e.do(req{method: "GET", path: "/v1/jobs?" + c.query, token: adminToken})
		if w.Code != 400 {
			t.Errorf("?%s: status %d body %s, want 400", c.query, w.Code, w.Body)
			continue
		}
		if er := errorOf(t, w); er.Code != "bad_request" || er.Details["field"] != c.field {
			t.Errorf("?%s: %+v, want bad_request field %s", c.query, er, c.field)
		}
		if calls := e.st.recorded(""); len(calls) != 0 {
			t.Errorf("?%s reached the store: %+v", c.query, calls)
		}
	}
}

// TestJobActions: retry and cancel take no body (or {}), answer 200 with
// the job, and map the store's refusals to their statuses.
func TestJobActions(t *testing.T) {
	t.Parallel()
	for _, act := range []struct{ path, method string }{{"retry", "RetryJob"}, {"cancel", "CancelJob"}} {
		for _, body := range []string{"", "{}"} {
			e := newEnv(t)
			w := e.do(req{method: "POST", path: "/v1/jobs/job_7/" + act.path, token: adminToken, body: body})
			if w.Code != 200 {
				t.Fatalf("%s with body %q: status %d body %s", act.path, body, w.Code, w.Body)
			}
			if j := decodeJSON[latchkey.Job](t, w); j.ID != "job_7" {
				t.Errorf("%s answered %s", act.path, w.Body)
			}
			if calls := e.st.recorded(act.method); len(calls) != 1 || calls[0].args[0] != "job_7" {
				t.Errorf("%s: store calls %+v", act.path, calls)
			}
		}

		e := newEnv(t)
		w := e.do(req{method: "POST", path: "/v1/jobs/job_7/" + act.path, token: adminToken, body: `{"force":true}`})
		if w.Code != 400 || errorOf(t, w).Code != "bad_request" {
			t.Errorf("%s with an unknown field: status %d body %s", act.path, w.Code, w.Body)
		}
		if calls := e.st.recorded(""); len(calls) != 0 {
			t.Errorf("%s with a bad body reached the store: %+v", act.path, calls)
		}

		for _, c := range []struct {
			err    error
			status int
			code   string
		}{
			{latchkey.Errorf(latchkey.ECONFLICT, "job job_7 is running").With("state", "running"), 409, "conflict"},
			{latchkey.Errorf(latchkey.ENOTFOUND, "job job_7 not found"), 404, "not_found"},
		} {
			e := newEnv(t)
			e.st.err = c.err
			w := e.do(req{method: "POST", path: "/v1/jobs/job_7/" + act.path, token: adminToken})
			if w.Code != c.status || errorOf(t, w).Code != c.code {
				t.Errorf("%s when the store says %v: status %d body %s", act.path, c.err, w.Code, w.Body)
			}
		}
	}
}
