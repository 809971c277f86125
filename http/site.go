package http

import (
	"context"
	nethttp "net/http"

	"latchkey"
)

// siteBody is POST /v1/sites: absent settings take the API's defaults
// (latchkey.DefaultSite).
type siteBody struct {
	Name                  string  `json:"name"`
	Timezone              *string `json:"timezone"`
	ConcurrencyControls   *bool   `json:"concurrency_controls"`
	AllowStandalone       *bool   `json:"allow_standalone"`
	StandaloneAuth        *string `json:"standalone_auth"`
	StandaloneQuotas      *string `json:"standalone_quotas"`
	MaxSessionMinutes     *int    `json:"max_session_minutes"`
	DailyQuotaMinutes     *int    `json:"daily_quota_minutes"`
	InactivityLockMinutes *int    `json:"inactivity_lock_minutes"`
	ForcedTimeoutMinutes  *int    `json:"forced_timeout_minutes"`
	WarningSeconds        *int    `json:"warning_seconds"`

	MaxReservationsPerUser *int `json:"max_reservations_per_user"`
	MaxBookingDaysAhead    *int `json:"max_booking_days_ahead"`

	site latchkey.Site // filled by validate
}

func (b *siteBody) validate() error {
	if err := latchkey.ValidName("name", b.Name); err != nil {
		return err
	}
	b.site = latchkey.SiteUpdate{
		Timezone:              b.Timezone,
		ConcurrencyControls:   b.ConcurrencyControls,
		AllowStandalone:       b.AllowStandalone,
		StandaloneAuth:        b.StandaloneAuth,
		StandaloneQuotas:      b.StandaloneQuotas,
		MaxSessionMinutes:     b.MaxSessionMinutes,
		DailyQuotaMinutes:     b.DailyQuotaMinutes,
		InactivityLockMinutes: b.InactivityLockMinutes,
		ForcedTimeoutMinutes:  b.ForcedTimeoutMinutes,
		WarningSeconds:        b.WarningSeconds,

		MaxReservationsPerUser: b.MaxReservationsPerUser,
		MaxBookingDaysAhead:    b.MaxBookingDaysAhead,
	}.Apply(latchkey.DefaultSite(b.Name))
	return b.site.Validate()
}

// sitePatch is PATCH /v1/sites/{id}: absent fields stay.
type sitePatch latchkey.SiteUpdate

// validate checks the fields that are set: applied over the (valid)
// defaults, any error is theirs. The store checks the merged site again.
func (b *sitePatch) validate() error {
	merged := latchkey.SiteUpdate(*b).Apply(latchkey.DefaultSite("site"))
	return merged.Validate()
}

func (s *Server) createSite(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[siteBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	site, err := s.store.CreateSite(r.Context(), c, in.site)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, site, nil
}

func (s *Server) listSites(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.Site, string, error) {
		return s.store.ListSites(ctx, c, p)
	})
}

func (s *Server) getSite(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	site, err := s.store.GetSite(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, site, nil
}

func (s *Server) updateSite(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[sitePatch](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	site, err := s.store.UpdateSite(r.Context(), c, r.PathValue("id"), latchkey.SiteUpdate(in))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, site, nil
}
