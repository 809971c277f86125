package client

import (
	"context"
	"net/http"
	"time"

	"latchkey"
)

// RegisterTerminal calls POST /v1/terminals. The answer carries the
// terminal's token, shown only this once. Errors: bad_request (unknown site:
// details.field "site"), forbidden.
func (c *Client) RegisterTerminal(ctx context.Context, name, siteID string) (*latchkey.Terminal, error) {
	body := map[string]string{"name": name, "site": siteID}
	var out latchkey.Terminal
	if err := c.do(withoutAutoKey(ctx), http.MethodPost, "/v1/terminals", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetTerminal calls GET /v1/terminals/{id}.
func (c *Client) GetTerminal(ctx context.Context, id string) (*latchkey.Terminal, error) {
	var out latchkey.Terminal
	if err := c.do(ctx, http.MethodGet, "/v1/terminals/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTerminals calls GET /v1/terminals.
func (c *Client) ListTerminals(ctx context.Context, page latchkey.Page) ([]latchkey.Terminal, string, error) {
	var out list[latchkey.Terminal]
	if err := c.list(ctx, "/v1/terminals", pageQuery(nil, page), &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// eventIn is a deferred event as a terminal sends it (received_at and
// terminal are the server's to fill in).
type eventIn struct {
	ID         string    `json:"id,omitempty"`
	Event      int       `json:"event"`
	OccurredAt time.Time `json:"occurred_at"`
	Identity   string    `json:"identity,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// PostTerminalEvents calls POST /v1/terminals/{id}/events (terminal token)
// with a batch of deferred events (24, 25, 26) and returns how many the
// server accepted; events whose ID it already holds are skipped.
func (c *Client) PostTerminalEvents(ctx context.Context, terminalID string, events []latchkey.TerminalEvent) (int, error) {
	in := make([]eventIn, len(events))
	for i, e := range events {
		in[i] = eventIn{ID: e.ID, Event: e.Event, OccurredAt: e.OccurredAt.UTC(), Identity: e.Identity, Reason: e.Reason}
	}
	body := struct {
		Events []eventIn `json:"events"`
	}{in}
	var out struct {
		Accepted int `json:"accepted"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/terminals/"+seg(terminalID)+"/events", nil, body, &out); err != nil {
		return 0, err
	}
	return out.Accepted, nil
}

// ListTerminalEvents calls GET /v1/terminals/{id}/events.
func (c *Client) ListTerminalEvents(ctx context.Context, terminalID string, page latchkey.Page) ([]latchkey.TerminalEvent, string, error) {
	var out list[latchkey.TerminalEvent]
	if err := c.list(ctx, "/v1/terminals/"+seg(terminalID)+"/events", pageQuery(nil, page), &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// RotateTerminalToken gives a terminal a new token and returns it (shown
// once); the terminal's old token stops working at once.
func (c *Client) RotateTerminalToken(ctx context.Context, terminalID string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(withoutAutoKey(ctx), http.MethodPost, "/v1/terminals/"+seg(terminalID)+"/token", nil, struct{}{}, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}
