package http

import (
	"context"
	nethttp "net/http"
	"strconv"

	"latchkey"
)

// requestBody is POST /v1/requests.
type requestBody struct {
	GroupSet  string   `json:"groupset"`
	Terminals []string `json:"terminals"`
	Minutes   int      `json:"minutes"`
	Reason    string   `json:"reason"`

	create latchkey.RequestCreate
}

func (b *requestBody) validate() error {
	b.create = latchkey.RequestCreate{GroupSet: b.GroupSet, Terminals: b.Terminals, Minutes: b.Minutes, Reason: b.Reason}
	return b.create.Validate()
}

// createRequest is POST /v1/requests → 202: the request, waiting for
// approval or provisioning (its workflow runs on any node).
func (s *Server) createRequest(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[requestBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.CreateRequest(r.Context(), c, in.create)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusAccepted, out, nil
}

func (s *Server) getRequest(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	out, err := s.store.Request(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, out, nil
}

// listRequests is GET /v1/requests?status=&mine=true.
func (s *Server) listRequests(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	q := r.URL.Query()
	f := latchkey.RequestFilter{Status: latchkey.RequestStatus(q.Get("status"))}
	if f.Status != "" && !f.Status.Valid() {
		return 0, nil, latchkey.BadField("status", "unknown request status %q", f.Status)
	}
	if m := q.Get("mine"); m != "" {
		mine, err := strconv.ParseBool(m)
		if err != nil {
			return 0, nil, latchkey.BadField("mine", "mine must be true or false")
		}
		f.Mine = mine
	}
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.Request, string, error) {
		f.Page = p
		return s.store.Requests(ctx, c, f)
	})
}

func (s *Server) cancelRequest(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	if _, err := decode[emptyBody](r, s.maxBody); err != nil {
		return 0, nil, err
	}
	out, err := s.store.CancelRequest(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, out, nil
}

// listWorkItems is GET /v1/workitems?status=open|done|cancelled.
func (s *Server) listWorkItems(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	status := latchkey.WorkItemStatus(r.URL.Query().Get("status"))
	if status != "" && !status.Valid() {
		return 0, nil, latchkey.BadField("status", "unknown work item status %q: open, done or cancelled", status)
	}
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.WorkItem, string, error) {
		return s.store.WorkItems(ctx, c, status, p)
	})
}

// decideBody is POST /v1/workitems/{id}/decide.
type decideBody struct {
	Decision string `json:"decision"`
	Comment  string `json:"comment"`

	d latchkey.WorkItemDecide
}

func (b *decideBody) validate() error {
	b.d = latchkey.WorkItemDecide{Decision: latchkey.WorkItemDecision(b.Decision), Comment: b.Comment}
	return b.d.Validate()
}

func (s *Server) decideWorkItem(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[decideBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.DecideWorkItem(r.Context(), c, r.PathValue("id"), in.d)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, out, nil
}

func (s *Server) getWorkflow(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	out, err := s.store.Workflow(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, out, nil
}
