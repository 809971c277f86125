package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"latchkey"
)

// CreateReservation calls POST /v1/reservations: the terminal is booked
// for the person (the caller when r.Principal is empty). Errors: conflict
// (overlapping), forbidden, bad_request.
func (c *Client) CreateReservation(ctx context.Context, r latchkey.Reservation) (*latchkey.Reservation, error) {
	body := struct {
		Terminal  string `json:"terminal"`
		Principal string `json:"principal,omitempty"`
		Start     string `json:"start"`
		Minutes   int    `json:"minutes"`
	}{r.Terminal, r.Principal, r.Start.UTC().Format(time.RFC3339Nano), r.Minutes}
	var out latchkey.Reservation
	if err := c.do(ctx, http.MethodPost, "/v1/reservations", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListReservations calls GET /v1/reservations?terminal=.
func (c *Client) ListReservations(ctx context.Context, terminal string) ([]latchkey.Reservation, error) {
	var out list[latchkey.Reservation]
	if err := c.list(ctx, "/v1/reservations", url.Values{"terminal": {terminal}}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// DeleteReservation calls DELETE /v1/reservations/{id}.
func (c *Client) DeleteReservation(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/reservations/"+seg(id), nil, nil, nil)
}
