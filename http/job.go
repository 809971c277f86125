package http

import (
	"context"
	nethttp "net/http"

	"latchkey"
)

// listJobs is GET /v1/jobs?state=&kind= (admins): the background jobs,
// by ID.
func (s *Server) listJobs(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	q := r.URL.Query()
	f := latchkey.JobFilter{State: latchkey.JobState(q.Get("state")), Kind: latchkey.JobKind(q.Get("kind"))}
	if f.State != "" && !f.State.Valid() {
		return 0, nil, latchkey.BadField("state", "unknown job state %q: available, running, done, failed or cancelled", f.State)
	}
	if f.Kind != "" {
		if err := latchkey.ValidName("kind", string(f.Kind)); err != nil {
			return 0, nil, err
		}
	}
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.Job, string, error) {
		f.Page = p
		return s.store.Jobs(ctx, c, f)
	})
}

func (s *Server) getJob(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	j, err := s.store.Job(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, j, nil
}

// retryJob is POST /v1/jobs/{id}/retry: a failed or cancelled job runs
// again, its attempts counted afresh.
func (s *Server) retryJob(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	return s.jobAction(r, c, s.store.RetryJob)
}

// cancelJob is POST /v1/jobs/{id}/cancel.
func (s *Server) cancelJob(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	return s.jobAction(r, c, s.store.CancelJob)
}

func (s *Server) jobAction(r *nethttp.Request, c latchkey.Caller, act func(context.Context, latchkey.Caller, string) (latchkey.Job, error)) (int, any, error) {
	if _, err := decode[emptyBody](r, s.maxBody); err != nil {
		return 0, nil, err
	}
	j, err := act(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, j, nil
}
