package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"latchkey"
)

// AgentPolicy calls GET /v1/agent/policy (terminal token): the site's
// settings, reservations of the next 24 hours, offline logon verifiers
// and the signed quota snapshot.
// The policy keeps the document as received (Raw), which its signature is
// checked over.
func (c *Client) AgentPolicy(ctx context.Context) (*latchkey.AgentPolicy, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/v1/agent/policy", nil, nil, &raw); err != nil {
		return nil, err
	}
	var out latchkey.AgentPolicy
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("GET /v1/agent/policy: decode: %w", err)
	}
	out.Raw = raw
	return &out, nil
}

// UploadJournal calls POST /v1/agent/journal (terminal token) with offline
// sessions; re-uploads are idempotent. It answers one verdict per entry.
func (c *Client) UploadJournal(ctx context.Context, entries []latchkey.JournalEntry) ([]latchkey.JournalResult, error) {
	for i := range entries {
		entries[i].StartedAt = entries[i].StartedAt.UTC()
	}
	var out struct {
		Results []latchkey.JournalResult `json:"results"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/agent/journal", nil, map[string]any{"entries": entries}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// ReportAgentStatus calls POST /v1/agent/status (terminal token): the
// agent reports whether it is in standalone mode.
func (c *Client) ReportAgentStatus(ctx context.Context, s latchkey.AgentStatus) (*latchkey.Terminal, error) {
	s.Since = s.Since.UTC()
	if !s.StandaloneFrom.IsZero() {
		s.StandaloneFrom = s.StandaloneFrom.UTC()
	}
	var out latchkey.Terminal
	if err := c.do(ctx, http.MethodPost, "/v1/agent/status", nil, s, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetOfflineLogon calls PUT /v1/principals/{id}/offline-logon (staff):
// false revokes the person's offline logon at once (agents drop the
// verifiers at their next policy fetch); true allows it again.
func (c *Client) SetOfflineLogon(ctx context.Context, principal string, enabled bool) error {
	body, err := managedBody(ctx, map[string]bool{"enabled": enabled})
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPut, "/v1/principals/"+seg(principal)+"/offline-logon", nil, body, nil)
}
