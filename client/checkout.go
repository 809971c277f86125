package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"latchkey"
)

// CheckoutView is a check-out as the API shows it.
type CheckoutView struct {
	latchkey.Checkout
	CanCheckIn bool `json:"can_check_in"`
}

// CreateCheckout calls POST /v1/checkouts: the check-out starts
// checking_out and is delivered to the terminal's agent.
func (c *Client) CreateCheckout(ctx context.Context, r latchkey.CheckoutCreate) (*CheckoutView, error) {
	var out CheckoutView
	if err := c.do(ctx, http.MethodPost, "/v1/checkouts", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCheckout calls GET /v1/checkouts/{id}.
func (c *Client) GetCheckout(ctx context.Context, id string) (*CheckoutView, error) {
	var out CheckoutView
	if err := c.do(ctx, http.MethodGet, "/v1/checkouts/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CheckinCheckout calls POST /v1/checkouts/{id}/checkin.
func (c *Client) CheckinCheckout(ctx context.Context, id string) (*CheckoutView, error) {
	var out CheckoutView
	if err := c.do(ctx, http.MethodPost, "/v1/checkouts/"+seg(id)+"/checkin", nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExtendCheckout calls POST /v1/checkouts/{id}/extend: the check-out
// runs until now + minutes, within its group set's maximum.
func (c *Client) ExtendCheckout(ctx context.Context, id string, minutes int) (*CheckoutView, error) {
	var out CheckoutView
	body := struct {
		Minutes int `json:"minutes"`
	}{minutes}
	if err := c.do(ctx, http.MethodPost, "/v1/checkouts/"+seg(id)+"/extend", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// InstructionView is an outstanding instruction as admins see it.
type InstructionView = latchkey.InstructionView

// TerminalInstructions calls GET /v1/terminals/{id}/instructions (admin,
// delegate): the terminal's outstanding instructions.
func (c *Client) TerminalInstructions(ctx context.Context, terminal string) ([]InstructionView, error) {
	var out list[InstructionView]
	if err := c.list(ctx, "/v1/terminals/"+seg(terminal)+"/instructions", nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// PollInstructions calls GET /v1/agent/instructions (terminal token),
// waiting up to wait for one. Each instruction keeps the document as
// received (Raw), which its signature is checked over.
func (c *Client) PollInstructions(ctx context.Context, wait time.Duration) ([]latchkey.Instruction, error) {
	var out struct {
		Instructions []json.RawMessage `json:"instructions"`
	}
	q := url.Values{"wait": {wait.String()}}
	if err := c.do(ctx, http.MethodGet, "/v1/agent/instructions", q, nil, &out); err != nil {
		return nil, err
	}
	ins := make([]latchkey.Instruction, len(out.Instructions))
	for i, raw := range out.Instructions {
		if err := json.Unmarshal(raw, &ins[i]); err != nil {
			return nil, fmt.Errorf("GET /v1/agent/instructions: decode: %w", err)
		}
		ins[i].Raw = raw
	}
	return ins, nil
}

// ReplyInstruction calls POST /v1/agent/instructions/{id}/reply; replies
// are idempotent.
func (c *Client) ReplyInstruction(ctx context.Context, id string, r latchkey.Reply) error {
	body := struct {
		Result  latchkey.ReplyResult `json:"result"`
		Detail  string               `json:"detail,omitempty"`
		Members map[string][]string  `json:"members,omitempty"`
	}{r.Result, r.Detail, r.Members}
	return c.do(ctx, http.MethodPost, "/v1/agent/instructions/"+seg(id)+"/reply", nil, body, nil)
}
