package client

import (
	"context"
	"net/http"

	"latchkey"
)

// CreateGroupSet calls POST /v1/groupsets (admin or delegate); Sites
// limits the set to terminals of those sites (none: every site). Errors:
// bad_request, forbidden, conflict (the name is taken).
func (c *Client) CreateGroupSet(ctx context.Context, s latchkey.GroupSet) (*latchkey.GroupSet, error) {
	body := struct {
		Name       string   `json:"name"`
		Groups     []string `json:"groups"`
		MaxMinutes int      `json:"max_minutes,omitempty"`
		Eligible   []string `json:"eligible,omitempty"`
		Approval   bool     `json:"approval,omitempty"`
		Approvers  []string `json:"approvers,omitempty"`
		Sites      []string `json:"sites,omitempty"`
	}{s.Name, s.Groups, s.MaxMinutes, s.Eligible, s.Approval, s.Approvers, s.Sites}
	var out latchkey.GroupSet
	if err := c.do(ctx, http.MethodPost, "/v1/groupsets", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetGroupSet calls GET /v1/groupsets/{id}.
func (c *Client) GetGroupSet(ctx context.Context, id string) (*latchkey.GroupSet, error) {
	var out latchkey.GroupSet
	if err := c.do(ctx, http.MethodGet, "/v1/groupsets/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListGroupSets calls GET /v1/groupsets.
func (c *Client) ListGroupSets(ctx context.Context, page latchkey.Page) ([]latchkey.GroupSet, string, error) {
	var out list[latchkey.GroupSet]
	if err := c.list(ctx, "/v1/groupsets", pageQuery(nil, page), &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}
