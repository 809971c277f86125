package client

import (
	"context"
	"net/http"

	"latchkey"
)

// SiteCreate is the body of POST /v1/sites (latchkey.SiteCreate). Nil
// settings are left out, and the server gives them the API's defaults
// (timezone UTC, concurrency_controls and allow_standalone true,
// standalone_auth cached, standalone_quotas snapshot, minutes 0,
// warning_seconds 60, max_reservations_per_user 3, max_booking_days_ahead
// 14, transaction_on_lock pause).
type SiteCreate = latchkey.SiteCreate

// FullSite returns a SiteCreate that sets every setting of s.
func FullSite(s latchkey.Site) SiteCreate {
	return SiteCreate{Name: s.Name, SiteSettings: latchkey.SiteSettings{
		Timezone:              Ptr(s.Timezone),
		ConcurrencyControls:   Ptr(s.ConcurrencyControls),
		AllowStandalone:       Ptr(s.AllowStandalone),
		StandaloneAuth:        Ptr(s.StandaloneAuth),
		StandaloneQuotas:      Ptr(s.StandaloneQuotas),
		MaxSessionMinutes:     Ptr(s.MaxSessionMinutes),
		DailyQuotaMinutes:     Ptr(s.DailyQuotaMinutes),
		InactivityLockMinutes: Ptr(s.InactivityLockMinutes),
		ForcedTimeoutMinutes:  Ptr(s.ForcedTimeoutMinutes),
		WarningSeconds:        Ptr(s.WarningSeconds),

		MaxReservationsPerUser: Ptr(s.MaxReservationsPerUser),
		MaxBookingDaysAhead:    Ptr(s.MaxBookingDaysAhead),
		TransactionOnLock:      Ptr(s.TransactionOnLock),
	}}
}

// CreateSite calls POST /v1/sites. Errors: bad_request, forbidden.
func (c *Client) CreateSite(ctx context.Context, s SiteCreate) (*latchkey.Site, error) {
	var out latchkey.Site
	if err := c.do(ctx, http.MethodPost, "/v1/sites", nil, s, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSite calls GET /v1/sites/{id}.
func (c *Client) GetSite(ctx context.Context, id string) (*latchkey.Site, error) {
	var out latchkey.Site
	if err := c.do(ctx, http.MethodGet, "/v1/sites/"+seg(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSites calls GET /v1/sites.
func (c *Client) ListSites(ctx context.Context, page latchkey.Page) ([]latchkey.Site, string, error) {
	var out list[latchkey.Site]
	if err := c.list(ctx, "/v1/sites", pageQuery(nil, page), &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// UpdateSite calls PATCH /v1/sites/{id} with the fields of u that are set.
func (c *Client) UpdateSite(ctx context.Context, id string, u latchkey.SiteUpdate) (*latchkey.Site, error) {
	body, err := managedBody(ctx, u)
	if err != nil {
		return nil, err
	}
	var out latchkey.Site
	if err := c.do(ctx, http.MethodPatch, "/v1/sites/"+seg(id), nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
