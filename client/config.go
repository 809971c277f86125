package client

import (
	"context"
	"net/http"

	"latchkey"
)

func configURL(domain string) string { return "/v1/config/" + pathName(domain) }

// GetConfig calls GET /v1/config/{domain} (admin or delegate).
func (c *Client) GetConfig(ctx context.Context, domain string) (*latchkey.ConfigDomain, error) {
	var out latchkey.ConfigDomain
	if err := c.do(ctx, http.MethodGet, configURL(domain), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutConfig calls PUT /v1/config/{domain}: every item of w commits, or
// none. It returns the domain's new version. Errors: lock_not_held (a
// managed domain without its lock's current token), version_mismatch
// (details.version is the current one), forbidden.
func (c *Client) PutConfig(ctx context.Context, domain string, w latchkey.ConfigWrite) (int64, error) {
	body := struct {
		Items     map[string]*string `json:"items"`
		LockToken uint64             `json:"lock_token,omitempty"`
		IfVersion *int64             `json:"if_version,omitempty"`
		Replace   bool               `json:"replace,omitempty"`
	}{w.Items, w.LockToken, w.IfVersion, w.Replace}
	if body.Items == nil {
		body.Items = map[string]*string{}
	}
	var out struct {
		Version int64 `json:"version"`
	}
	if err := c.do(ctx, http.MethodPut, configURL(domain), nil, body, &out); err != nil {
		return 0, err
	}
	return out.Version, nil
}
