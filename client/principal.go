package client

import (
	"context"
	"net/http"

	"latchkey"
)

// CreatePrincipal calls POST /v1/principals with p's name, role, global and
// disabled, and returns the new principal. Errors: bad_request, forbidden,
// conflict.
func (c *Client) CreatePrincipal(ctx context.Context, p latchkey.Principal) (*latchkey.Principal, error) {
	body := struct {
		Name     string        `json:"name"`
		Role     latchkey.Role `json:"role"`
		Global   bool          `json:"global"`
		Disabled bool          `json:"disabled"`
	}{p.Name, p.Role, p.Global, p.Disabled}
	m, err := managedBody(ctx, body)
	if err != nil {
		return nil, err
	}
	var out latchkey.Principal
	if err := c.do(ctx, http.MethodPost, "/v1/principals", nil, m, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPrincipal calls GET /v1/principals/{id}.
func (c *Client) GetPrincipal(ctx context.Context, id string) (*latchkey.Principal, error) {
	var out latchkey.Principal
	if err := c.do(ctx, http.MethodGet, "/v1/principals/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPrincipals calls GET /v1/principals; next is the cursor of the
// following page ("" at the end).
func (c *Client) ListPrincipals(ctx context.Context, page latchkey.Page) ([]latchkey.Principal, string, error) {
	var out list[latchkey.Principal]
	if err := c.list(ctx, "/v1/principals", pageQuery(nil, page), &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// UpdatePrincipal calls PATCH /v1/principals/{id} with the fields of u that
// are set.
func (c *Client) UpdatePrincipal(ctx context.Context, id string, u latchkey.PrincipalUpdate) (*latchkey.Principal, error) {
	body, err := managedBody(ctx, u)
	if err != nil {
		return nil, err
	}
	var out latchkey.Principal
	if err := c.do(ctx, http.MethodPatch, "/v1/principals/"+seg(id), nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddIdentity calls POST /v1/principals/{id}/identities: a new login ID with
// its password for the principal. Errors: bad_request, forbidden,
// not_found, conflict (login taken).
func (c *Client) AddIdentity(ctx context.Context, principalID, login, password string) (*latchkey.Identity, error) {
	body, err := managedBody(ctx, map[string]string{"login": login, "password": password})
	if err != nil {
		return nil, err
	}
	var out latchkey.Identity
	if err := c.do(ctx, http.MethodPost, "/v1/principals/"+seg(principalID)+"/identities", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ChangePassword calls POST /v1/identities/{login}/password. Anyone
// changes their own identity's password with oldPassword; admins and
// delegates may reset the passwords of people below their role with
// oldPassword empty. The owner's other user tokens stop working.
func (c *Client) ChangePassword(ctx context.Context, login, oldPassword, newPassword string) error {
	body := map[string]string{"old_password": oldPassword, "new_password": newPassword}
	return c.do(ctx, http.MethodPost, "/v1/identities/"+seg(login)+"/password", nil, body, nil)
}

// ListPrincipalSessions calls GET /v1/principals/{id}/sessions; status ""
// lists sessions of every status.
func (c *Client) ListPrincipalSessions(ctx context.Context, principalID string, status latchkey.SessionStatus, page latchkey.Page) ([]latchkey.Session, string, error) {
	q := pageQuery(nil, page)
	if status != "" {
		q.Set("status", string(status))
	}
	var out list[latchkey.Session]
	if err := c.list(ctx, "/v1/principals/"+seg(principalID)+"/sessions", q, &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// RevokeTokens makes every user token of a principal stop working.
func (c *Client) RevokeTokens(ctx context.Context, principalID string) error {
	return c.do(ctx, http.MethodPost, "/v1/principals/"+seg(principalID)+"/revoke-tokens", nil, struct{}{}, nil)
}
