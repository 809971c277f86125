package client

import (
	"context"
	"net/http"

	"latchkey"
)

// Login calls POST /v1/auth/login and returns a user token. It does not
// change c: use c.WithToken(t.Token) to act with it. Errors:
// invalid_credentials, account_locked, account_disabled.
func (c *Client) Login(ctx context.Context, identity, password string) (*latchkey.UserToken, error) {
	var t latchkey.UserToken
	body := map[string]string{"identity": identity, "password": password}
	if err := c.do(ctx, http.MethodPost, "/v1/auth/login", nil, body, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Logout calls POST /v1/auth/logout, revoking c's token.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/auth/logout", nil, nil, nil)
}
