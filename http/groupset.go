package http

import (
	"context"
	nethttp "net/http"

	"latchkey"
)

// groupSetBody is POST /v1/groupsets.
type groupSetBody struct {
	Name       string   `json:"name"`
	Groups     []string `json:"groups"`
	MaxMinutes int      `json:"max_minutes"`
	Eligible   []string `json:"eligible"`
	Approval   bool     `json:"approval"`
	Approvers  []string `json:"approvers"`
	Sites      []string `json:"sites"`

	set latchkey.GroupSet // filled by validate
}

func (b *groupSetBody) validate() error {
	var err error
	b.set, err = latchkey.GroupSet{Name: b.Name, Groups: b.Groups, MaxMinutes: b.MaxMinutes, Eligible: b.Eligible,
		Approval: b.Approval, Approvers: b.Approvers, Sites: b.Sites}.Validate()
	return err
}

func (s *Server) createGroupSet(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[groupSetBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	set, err := s.store.CreateGroupSet(r.Context(), c, in.set)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, set, nil
}

func (s *Server) getGroupSet(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	set, err := s.store.GetGroupSet(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, set, nil
}

func (s *Server) listGroupSets(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.GroupSet, string, error) {
		return s.store.ListGroupSets(ctx, c, p)
	})
}

// listed answers a list call: ?limit=&after= read, then one page fetched.
func listed[T any](r *nethttp.Request, fetch func(context.Context, latchkey.Page) ([]T, string, error)) (int, any, error) {
	page, err := pageQuery(r)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := fetch(r.Context(), page)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, listOf(items, next), nil
}
