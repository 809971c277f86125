package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"latchkey"
)

const siteCols = `id, name, timezone, concurrency_controls, allow_standalone, standalone_auth, standalone_quotas,
	max_session_minutes, daily_quota_minutes, inactivity_lock_minutes, forced_timeout_minutes, warning_seconds,
	max_reservations_per_user, max_booking_days_ahead, transaction_on_lock, created_at`

func scanSite(row interface{ Scan(...any) error }) (latchkey.Site, error) {
	var x latchkey.Site
	var created int64
	err := row.Scan(&x.ID, &x.Name, &x.Timezone, &x.ConcurrencyControls, &x.AllowStandalone, &x.StandaloneAuth,
		&x.StandaloneQuotas, &x.MaxSessionMinutes, &x.DailyQuotaMinutes, &x.InactivityLockMinutes,
		&x.ForcedTimeoutMinutes, &x.WarningSeconds, &x.MaxReservationsPerUser, &x.MaxBookingDaysAhead, &x.TransactionOnLock, &created)
	x.CreatedAt = fromUS(created)
	return x, err
}

func siteArgs(x latchkey.Site) []any {
	return []any{x.Name, x.Timezone, x.ConcurrencyControls, x.AllowStandalone, x.StandaloneAuth, x.StandaloneQuotas,
		x.MaxSessionMinutes, x.DailyQuotaMinutes, x.InactivityLockMinutes, x.ForcedTimeoutMinutes, x.WarningSeconds,
		x.MaxReservationsPerUser, x.MaxBookingDaysAhead, x.TransactionOnLock}
}

func siteDetails(x latchkey.Site) map[string]any {
	return map[string]any{"name": x.Name, "timezone": x.Timezone, "concurrency_controls": x.ConcurrencyControls,
		"allow_standalone": x.AllowStandalone, "standalone_auth": x.StandaloneAuth, "standalone_quotas": x.StandaloneQuotas,
		"max_session_minutes": x.MaxSessionMinutes, "daily_quota_minutes": x.DailyQuotaMinutes,
		"inactivity_lock_minutes": x.InactivityLockMinutes, "forced_timeout_minutes": x.ForcedTimeoutMinutes,
		"warning_seconds": x.WarningSeconds, "max_reservations_per_user": x.MaxReservationsPerUser,
		"max_booking_days_ahead": x.MaxBookingDaysAhead, "transaction_on_lock": x.TransactionOnLock}
}

// CreateSite adds a site.
func (s *Store) CreateSite(ctx context.Context, c latchkey.Caller, x latchkey.Site) (*latchkey.Site, error) {
	if err := latchkey.CanManageSites(c); err != nil {
		return nil, err
	}
	if err := x.Validate(); err != nil {
		return nil, err
	}
	x.ID = latchkey.NewID("site")
	err := s.write(ctx, func(t *tx) error {
		x.CreatedAt = t.now
		args := append([]any{x.ID}, siteArgs(x)...)
		if _, err := t.exec("INSERT INTO sites ("+siteCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			append(args, us(x.CreatedAt))...); err != nil {
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionSiteCreate, x.ID, siteDetails(x))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &x, nil
}

// GetSite reads a site; a terminal may read only its own.
func (s *Store) GetSite(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Site, error) {
	var own string
	if c.Role == latchkey.RoleTerminal {
		if err := s.queryRow(ctx, "SELECT site_id FROM terminals WHERE id = ?", c.TerminalID).Scan(&own); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	if err := latchkey.CanReadSite(c, id, own); err != nil {
		return nil, err
	}
	x, err := scanSite(s.queryRow(ctx, "SELECT "+siteCols+" FROM sites WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "site %s not found", id)
	}
	return &x, nil
}

// ListSites lists sites (people only).
func (s *Store) ListSites(ctx context.Context, c latchkey.Caller, page latchkey.Page) ([]latchkey.Site, string, error) {
	if err := latchkey.CanListSites(c); err != nil {
		return nil, "", err
	}
	return list(ctx, s, "SELECT "+siteCols+" FROM sites WHERE id > ?", page, scanSite,
		func(x latchkey.Site) string { return x.ID })
}

// UpdateSite patches a site's settings.
func (s *Store) UpdateSite(ctx context.Context, c latchkey.Caller, id string, u latchkey.SiteUpdate) (*latchkey.Site, error) {
	if err := latchkey.CanManageSites(c); err != nil {
		return nil, err
	}
	var out latchkey.Site
	err := s.write(ctx, func(t *tx) error {
		x, err := scanSite(t.queryRow("SELECT "+siteCols+" FROM sites WHERE id = ?"+t.s.d.forUpdate(), id))
		if err != nil {
			return notFound(err, "site %s not found", id)
		}
		if u.SignupManaged() {
			if err := t.checkManaged(latchkey.LockAdminSignup, c); err != nil {
				return err
			}
		}
		x = u.Apply(x)
		if err := x.Validate(); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE sites SET name = ?, timezone = ?, concurrency_controls = ?, allow_standalone = ?,
			standalone_auth = ?, standalone_quotas = ?, max_session_minutes = ?, daily_quota_minutes = ?,
			inactivity_lock_minutes = ?, forced_timeout_minutes = ?, warning_seconds = ?,
			max_reservations_per_user = ?, max_booking_days_ahead = ?, transaction_on_lock = ? WHERE id = ?`,
			append(siteArgs(x), id)...); err != nil {
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionSiteUpdate, id, siteDetails(x))
		out = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// loadSite reads a site inside a transaction.
func (t *tx) loadSite(id string) (latchkey.Site, error) {
	x, err := scanSite(t.queryRow("SELECT "+siteCols+" FROM sites WHERE id = ?", id))
	return x, notFound(err, "site %s not found", id)
}
