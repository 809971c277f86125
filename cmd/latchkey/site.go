package main

import (
	"strconv"

	"latchkey"
	"latchkey/client"
)

var siteFlagsSynopsis = siteSettingsSynopsis()

var siteSynopsis = []string{
	"site create --name N " + siteFlagsSynopsis,
	"site list [--limit N] [--after CURSOR]",
	"site show ID",
	"site update ID [--name N] " + siteFlagsSynopsis + " [--lock-token T]",
}

func runSite(e *env, args []string) int {
	return e.dispatch("site", siteSynopsis, map[string]func(*env, []string) int{
		"create": siteCreate,
		"list":   siteList,
		"show":   siteShow,
		"update": siteUpdate,
	}, args)
}

// siteFlags are a site's name and settings as flags; only those given
// are sent (site_settings.go).
type siteFlags struct {
	name     string
	settings latchkey.SiteSettings
}

func (c *cmd) siteFlags() *siteFlags {
	f := &siteFlags{}
	c.fs.StringVar(&f.name, "name", "", "the site's name")
	addSiteSettingFlags(c.fs, &f.settings)
	return f
}

func siteCreate(e *env, args []string) int {
	c := e.newCmd("site create", synopsisOf(siteSynopsis, "site create"), true)
	f := c.siteFlags()
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("name"); st != 0 {
		return st
	}
	sc := latchkey.SiteCreate{Name: f.name, SiteSettings: f.settings}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	s, err := cl.CreateSite(c.ctx, sc)
	if err != nil {
		return c.fail(err)
	}
	return c.showSite(s)
}

func siteList(e *env, args []string) int {
	return listCommand(e, "site list", synopsisOf(siteSynopsis, "site list"), (*client.Client).ListSites,
		"ID\tNAME\tTIMEZONE\tCONCURRENCY\tSTANDALONE\tQUOTA\tIDLE-LOCK\tTIMEOUT", func(s latchkey.Site) []string {
			return []string{s.ID, s.Name, s.Timezone, strconv.FormatBool(s.ConcurrencyControls),
				strconv.FormatBool(s.AllowStandalone), minutes(s.DailyQuotaMinutes), minutes(s.InactivityLockMinutes), minutes(s.ForcedTimeoutMinutes)}
		}, args)
}

func siteShow(e *env, args []string) int {
	return showCommand(e, "site show", (*client.Client).GetSite, (*cmd).showSite, args)
}

func siteUpdate(e *env, args []string) int {
	c := e.newCmd("site update", synopsisOf(siteSynopsis, "site update"), true)
	under := c.underLock(latchkey.LockAdminSignup)
	f := c.siteFlags()
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	u := latchkey.SiteUpdate{SiteSettings: f.settings}
	if c.setFlags()["name"] {
		u.Name = client.Ptr(f.name)
	}
	if u == (latchkey.SiteUpdate{}) {
		return c.usageError("nothing to update: give at least one setting")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	s, err := cl.UpdateSite(under(), pos[0], u)
	if err != nil {
		return c.fail(err)
	}
	return c.showSite(s)
}

func (c *cmd) showSite(s *latchkey.Site) int {
	if c.json {
		return c.printJSON(s)
	}
	fields(c.stdout,
		"id", s.ID,
		"name", s.Name,
		"timezone", s.Timezone,
		"concurrency_controls", strconv.FormatBool(s.ConcurrencyControls),
		"allow_standalone", strconv.FormatBool(s.AllowStandalone),
		"standalone_auth", string(s.StandaloneAuth),
		"standalone_quotas", string(s.StandaloneQuotas),
		"max_session_minutes", minutes(s.MaxSessionMinutes),
		"daily_quota_minutes", minutes(s.DailyQuotaMinutes),
		"inactivity_lock_minutes", minutes(s.InactivityLockMinutes),
		"forced_timeout_minutes", minutes(s.ForcedTimeoutMinutes),
		"warning_seconds", strconv.Itoa(s.WarningSeconds),
		"max_reservations_per_user", capText(s.MaxReservationsPerUser),
		"max_booking_days_ahead", capText(s.MaxBookingDaysAhead),
		"transaction_on_lock", string(s.TransactionOnLock),
		"created_at", timeText(s.CreatedAt),
	)
	return 0
}

// minutes shows a minutes setting, 0 as "none".
func minutes(n int) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

// capText shows a cap, 0 as "none".
func capText(n int) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(n)
}
