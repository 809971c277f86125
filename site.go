package latchkey

import (
	"context"
	"time"
)

// Site is a branch: a set of terminals sharing one policy.
type Site struct {
	ID                    string           `json:"id"`
	Name                  string           `json:"name"`
	Timezone              string           `json:"timezone"`
	ConcurrencyControls   bool             `json:"concurrency_controls"`
	AllowStandalone       bool             `json:"allow_standalone"`
	StandaloneAuth        StandaloneAuth   `json:"standalone_auth"`
	StandaloneQuotas      StandaloneQuotas `json:"standalone_quotas"`
	MaxSessionMinutes     int              `json:"max_session_minutes"`
	DailyQuotaMinutes     int              `json:"daily_quota_minutes"`
	InactivityLockMinutes int              `json:"inactivity_lock_minutes"`
	ForcedTimeoutMinutes  int              `json:"forced_timeout_minutes"`
	WarningSeconds        int              `json:"warning_seconds"`
	// MaxReservationsPerUser caps the reservations a user holds at the
	// site that have not ended; MaxBookingDaysAhead caps how far ahead a
	// user books. 0: no cap. Admins and delegates are exempt.
	MaxReservationsPerUser int `json:"max_reservations_per_user"`
	MaxBookingDaysAhead    int `json:"max_booking_days_ahead"`
	// TransactionOnLock is what a manual lock during a transaction does
	// (EUM-CE-CL-30): pause it, or wait until it is completed.
	TransactionOnLock TransactionOnLock `json:"transaction_on_lock"`
	CreatedAt         time.Time         `json:"created_at"`
}

// DefaultSite returns a site with the API's default settings.
func DefaultSite(name string) Site {
	return Site{
		Name:                name,
		Timezone:            "UTC",
		ConcurrencyControls: true,
		AllowStandalone:     true,
		StandaloneAuth:      StandaloneAuthCached,
		StandaloneQuotas:    StandaloneQuotasSnapshot,
		WarningSeconds:      60,

		MaxReservationsPerUser: DefaultMaxReservationsPerUser,
		MaxBookingDaysAhead:    DefaultMaxBookingDaysAhead,
		TransactionOnLock:      TransactionPause,
	}
}

// Validate checks a site's settings.
func (s *Site) Validate() error {
	if err := ValidName("name", s.Name); err != nil {
		return err
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" || s.Timezone == "Local" {
		return BadField("timezone", "timezone %q is not an IANA time zone name", s.Timezone)
	}
	if !s.StandaloneAuth.Valid() {
		return BadField("standalone_auth", "standalone_auth must be \"any\" or \"cached\"")
	}
	if !s.StandaloneQuotas.Valid() {
		return BadField("standalone_quotas", "standalone_quotas must be \"off\" or \"snapshot\"")
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"max_session_minutes", s.MaxSessionMinutes},
		{"daily_quota_minutes", s.DailyQuotaMinutes},
		{"inactivity_lock_minutes", s.InactivityLockMinutes},
		{"forced_timeout_minutes", s.ForcedTimeoutMinutes},
		{"warning_seconds", s.WarningSeconds},
	} {
		if f.v < 0 || f.v > 10*366*24*60 {
			return BadField(f.name, "%s must be between 0 and %d", f.name, 10*366*24*60)
		}
	}
	if !s.TransactionOnLock.Valid() {
		return BadField("transaction_on_lock", "transaction_on_lock must be \"pause\" or \"complete\"")
	}
	if s.MaxReservationsPerUser < 0 || s.MaxReservationsPerUser > 1000 {
		return BadField("max_reservations_per_user", "max_reservations_per_user must be between 0 (no cap) and 1000")
	}
	if s.MaxBookingDaysAhead < 0 || s.MaxBookingDaysAhead > 3660 {
		return BadField("max_booking_days_ahead", "max_booking_days_ahead must be between 0 (no cap) and 3660")
	}
	return nil
}

// SiteSettings are a site's settings as optional fields, the one shape
// the API, the Go client and the CLI share: in a create (POST /v1/sites)
// an absent setting takes DefaultSite's value; in a PATCH it stays as it
// is. JSON leaves the absent ones out.
type SiteSettings struct {
	Timezone              *string           `json:"timezone,omitempty"`
	ConcurrencyControls   *bool             `json:"concurrency_controls,omitempty"`
	AllowStandalone       *bool             `json:"allow_standalone,omitempty"`
	StandaloneAuth        *StandaloneAuth   `json:"standalone_auth,omitempty"`
	StandaloneQuotas      *StandaloneQuotas `json:"standalone_quotas,omitempty"`
	MaxSessionMinutes     *int              `json:"max_session_minutes,omitempty"`
	DailyQuotaMinutes     *int              `json:"daily_quota_minutes,omitempty"`
	InactivityLockMinutes *int              `json:"inactivity_lock_minutes,omitempty"`
	ForcedTimeoutMinutes  *int              `json:"forced_timeout_minutes,omitempty"`
	WarningSeconds        *int              `json:"warning_seconds,omitempty"`

	MaxReservationsPerUser *int `json:"max_reservations_per_user,omitempty"`
	MaxBookingDaysAhead    *int `json:"max_booking_days_ahead,omitempty"`

	TransactionOnLock *TransactionOnLock `json:"transaction_on_lock,omitempty"`
}

// Apply returns s with the given settings set.
func (u SiteSettings) Apply(s Site) Site {
	setIfGiven(&s.Timezone, u.Timezone)
	setIfGiven(&s.ConcurrencyControls, u.ConcurrencyControls)
	setIfGiven(&s.AllowStandalone, u.AllowStandalone)
	setIfGiven(&s.StandaloneAuth, u.StandaloneAuth)
	setIfGiven(&s.StandaloneQuotas, u.StandaloneQuotas)
	setIfGiven(&s.MaxSessionMinutes, u.MaxSessionMinutes)
	setIfGiven(&s.DailyQuotaMinutes, u.DailyQuotaMinutes)
	setIfGiven(&s.InactivityLockMinutes, u.InactivityLockMinutes)
	setIfGiven(&s.ForcedTimeoutMinutes, u.ForcedTimeoutMinutes)
	setIfGiven(&s.WarningSeconds, u.WarningSeconds)
	setIfGiven(&s.MaxReservationsPerUser, u.MaxReservationsPerUser)
	setIfGiven(&s.MaxBookingDaysAhead, u.MaxBookingDaysAhead)
	setIfGiven(&s.TransactionOnLock, u.TransactionOnLock)
	return s
}

// SiteCreate is POST /v1/sites: a name and the settings that differ from
// DefaultSite's.
type SiteCreate struct {
	Name string `json:"name"`
	SiteSettings
}

// Site returns the site to create: the defaults with c's settings.
func (c SiteCreate) Site() Site { return c.SiteSettings.Apply(DefaultSite(c.Name)) }

// Validate checks the name and the settings (as Site.Validate).
func (c SiteCreate) Validate() error {
	s := c.Site()
	return s.Validate()
}

// SiteUpdate is PATCH /v1/sites/{id}; nil fields stay as they are.
type SiteUpdate struct {
	Name *string `json:"name,omitempty"`
	SiteSettings
}

// Apply returns s with u's fields set.
func (u SiteUpdate) Apply(s Site) Site {
	setIfGiven(&s.Name, u.Name)
	return u.SiteSettings.Apply(s)
}

// Validate checks the fields that are set: applied over the (valid)
// defaults, any error is theirs. The store checks the merged site again.
func (u SiteUpdate) Validate() error {
	merged := u.Apply(DefaultSite("site"))
	return merged.Validate()
}

// setIfGiven sets *dst to *v when v is not nil (a PATCH field given).
func setIfGiven[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// SiteService manages sites. Writes need staff; reads any user or terminal.
type SiteService interface {
	// CreateSite errors: bad_request, forbidden.
	CreateSite(ctx context.Context, c Caller, s Site) (*Site, error)
	GetSite(ctx context.Context, c Caller, id string) (*Site, error)
	ListSites(ctx context.Context, c Caller, page Page) ([]Site, string, error)
	// UpdateSite errors: bad_request, forbidden, not_found.
	UpdateSite(ctx context.Context, c Caller, id string, u SiteUpdate) (*Site, error)
}
