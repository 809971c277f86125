package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"latchkey"
)

// GatewayClient calls a terminal gateway on its unix socket (the CLI's
// `latchkey terminal login|lock|unlock|logout|status`). A refusal comes
// back as a *latchkey.Error.
type GatewayClient struct {
	socket string
	hc     *http.Client
}

// NewGatewayClient returns a client for the gateway listening at socket.
func NewGatewayClient(socket string) *GatewayClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &GatewayClient{socket: socket, hc: &http.Client{Transport: tr}}
}

// Status calls GET /status.
func (c *GatewayClient) Status(ctx context.Context) (*Status, error) {
	return c.do(ctx, http.MethodGet, "/status", nil)
}

// Login calls POST /login.
func (c *GatewayClient) Login(ctx context.Context, r LoginRequest) (*Status, error) {
	return c.do(ctx, http.MethodPost, "/login", r)
}

// Lock calls POST /lock.
func (c *GatewayClient) Lock(ctx context.Context, r LockRequest) (*Status, error) {
	return c.do(ctx, http.MethodPost, "/lock", r)
}

// Unlock calls POST /unlock.
func (c *GatewayClient) Unlock(ctx context.Context, r UnlockRequest) (*Status, error) {
	return c.do(ctx, http.MethodPost, "/unlock", r)
}

// Logout calls POST /logout.
func (c *GatewayClient) Logout(ctx context.Context) (*Status, error) {
	return c.do(ctx, http.MethodPost, "/logout", nil)
}

// Touch calls POST /touch: the person is active at the terminal.
func (c *GatewayClient) Touch(ctx context.Context) (*Status, error) {
	return c.do(ctx, http.MethodPost, "/touch", nil)
}

func (c *GatewayClient) do(ctx context.Context, method, path string, body any) (*Status, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://agent"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent at %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("agent at %s: %w", c.socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		if e := latchkey.ParseErrorBody(data); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("agent at %s: %s %s: HTTP %d: %s", c.socket, method, path, resp.StatusCode,
			strings.TrimSpace(string(data)))
	}
	var st Status
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("agent at %s: decode: %w", c.socket, err)
	}
	return &st, nil
}
