package client

import (
	"context"
	"net/http"

	"latchkey"
)

// StartSession calls POST /v1/terminals/{id}/sessions (terminal token): a
// person logs on at the terminal. Errors: invalid_credentials,
// account_locked, account_disabled, identity_in_use, concurrent_session
// (see ConflictSessions), forbidden, not_found.
func (c *Client) StartSession(ctx context.Context, terminalID string, r latchkey.LoginRequest) (*latchkey.LoginResult, error) {
	r.TimeSent = r.TimeSent.UTC()
	var out latchkey.LoginResult
	if err := c.do(ctx, http.MethodPost, "/v1/terminals/"+seg(terminalID)+"/sessions", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSession calls GET /v1/sessions/{id}.
func (c *Client) GetSession(ctx context.Context, id string) (*latchkey.Session, error) {
	var out latchkey.Session
	if err := c.do(ctx, http.MethodGet, "/v1/sessions/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LockSession calls POST /v1/sessions/{id}/lock. Errors: session_failed,
// conflict (not active), forbidden, not_found.
func (c *Client) LockSession(ctx context.Context, id string, r latchkey.LockRequest) (*latchkey.Session, error) {
	r.TimeSent = r.TimeSent.UTC()
	return c.sessionCall(ctx, http.MethodPost, id, "/lock", r)
}

// UnlockSession calls POST /v1/sessions/{id}/unlock. Errors: as LockSession,
// the credential errors and concurrent_session.
func (c *Client) UnlockSession(ctx context.Context, id string, r latchkey.UnlockRequest) (*latchkey.Session, error) {
	r.TimeSent = r.TimeSent.UTC()
	return c.sessionCall(ctx, http.MethodPost, id, "/unlock", r)
}

// TouchSession calls POST /v1/sessions/{id}/touch, recording activity.
func (c *Client) TouchSession(ctx context.Context, id string) (*latchkey.Session, error) {
	return c.sessionCall(ctx, http.MethodPost, id, "/touch", struct{}{})
}

// EndSession calls DELETE /v1/sessions/{id}: log out.
func (c *Client) EndSession(ctx context.Context, id string) (*latchkey.Session, error) {
	return c.sessionCall(ctx, http.MethodDelete, id, "", nil)
}

func (c *Client) sessionCall(ctx context.Context, method, id, action string, body any) (*latchkey.Session, error) {
	var out latchkey.Session
	if err := c.do(ctx, method, "/v1/sessions/"+seg(id)+action, nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
