package client

import (
	"context"
	"net/http"
	"strings"
	"time"

	"latchkey"
)

// lockURL is the path of lock name plus an action.
func lockURL(name, action string) string {
	p := "/v1/locks/" + pathName(name)
	if action != "" {
		p += "/" + action
	}
	return p
}

// pathName escapes a path-like name (a lock, a config domain) segment by
// segment: API.md has its slashes go into the URL unescaped.
func pathName(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = seg(s)
	}
	return strings.Join(segs, "/")
}

// AcquireLock calls POST /v1/locks/{name}/acquire (admin or delegate): the
// answer is a grant (Mode exclusive, with the fencing token) or who holds
// the lock (Mode read_only, with the caller's queue position when it
// waits). Errors: forbidden (force by a user), bad_request.
func (c *Client) AcquireLock(ctx context.Context, name string, r latchkey.AcquireRequest) (*latchkey.AcquireResult, error) {
	var out latchkey.AcquireResult
	if err := c.do(ctx, http.MethodPost, lockURL(name, "acquire"), nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KeepaliveLock calls POST /v1/locks/{name}/keepalive: it renews the
// grant's lease (ttl 0: for the grant's own length) and returns the new
// expiry. Errors: lock_not_held.
func (c *Client) KeepaliveLock(ctx context.Context, name string, token uint64, ttl time.Duration) (time.Time, error) {
	body := struct {
		Token      uint64 `json:"token"`
		TTLSeconds *int   `json:"ttl_seconds,omitempty"`
	}{Token: token}
	if ttl > 0 {
		s := int(ttl / time.Second)
		body.TTLSeconds = &s
	}
	var out struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := c.do(ctx, http.MethodPost, lockURL(name, "keepalive"), nil, body, &out); err != nil {
		return time.Time{}, err
	}
	return out.ExpiresAt, nil
}

// ReleaseLock calls POST /v1/locks/{name}/release: it frees the grant with
// token (a stale token changes nothing) and, with leaveQueue, gives up
// the caller's place in the queue.
func (c *Client) ReleaseLock(ctx context.Context, name string, token uint64, leaveQueue bool) error {
	body := struct {
		Token      uint64 `json:"token,omitempty"`
		LeaveQueue bool   `json:"leave_queue,omitempty"`
	}{token, leaveQueue}
	return c.do(ctx, http.MethodPost, lockURL(name, "release"), nil, body, nil)
}

// GetLock calls GET /v1/locks/{name}: holder, lease and queue. Errors:
// not_found for a lock never acquired.
func (c *Client) GetLock(ctx context.Context, name string) (*latchkey.Lock, error) {
	var out latchkey.Lock
	if err := c.do(ctx, http.MethodGet, lockURL(name, ""), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListLocks calls GET /v1/locks: locks by name.
func (c *Client) ListLocks(ctx context.Context, page latchkey.Page) ([]latchkey.Lock, string, error) {
	var out list[latchkey.Lock]
	if err := c.list(ctx, "/v1/locks", pageQuery(nil, page), &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}
