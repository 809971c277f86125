package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"latchkey"
)

// ListAudit calls GET /v1/audit with f's filters (zero values are left
// out); next is the cursor of the following page ("" at the end): pass it
// back, parsed, as f.After.
func (c *Client) ListAudit(ctx context.Context, f latchkey.AuditFilter) ([]latchkey.AuditRecord, string, error) {
	q := url.Values{}
	if f.After > 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Actor != "" {
		q.Set("actor", f.Actor)
	}
	if f.Action != "" {
		q.Set("action", f.Action)
	}
	var out list[latchkey.AuditRecord]
	if err := c.list(ctx, "/v1/audit", q, &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// VerifyAudit calls GET /v1/audit/verify (admin): it checks the audit log's
// hash chain. A broken chain is not an error: it is OK false with
// FirstBadSeq set.
func (c *Client) VerifyAudit(ctx context.Context) (*latchkey.AuditVerification, error) {
	var out latchkey.AuditVerification
	if err := c.do(ctx, http.MethodGet, "/v1/audit/verify", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
