package main

import (
	"strconv"

	"latchkey"
	"latchkey/client"
)

const siteFlagsSynopsis = "[--timezone TZ] [--concurrency-controls=BOOL] [--allow-standalone=BOOL] [--standalone-auth any|cached] [--standalone-quotas off|snapshot] [--max-session-minutes N] [--daily-quota-minutes N] [--inactivity-lock-minutes N] [--forced-timeout-minutes N] [--warning-seconds N] [--max-reservations-per-user N] [--max-booking-days-ahead N]"

var siteSynopsis = []string{
	"site create --name N " + siteFlagsSynopsis,
	"site list [--limit N] [--after CURSOR]",
	"site show ID",
	"site update ID [--name N] " + siteFlagsSynopsis,
}

func runSite(e *env, args []string) int {
	return e.dispatch("site", siteSynopsis, map[string]func(*env, []string) int{
		"create": siteCreate,
		"list":   siteList,
		"show":   siteShow,
		"update": siteUpdate,
	}, args)
}

// siteFlags are a site's settings as flags; only those given are sent.
type siteFlags struct {
	name, timezone, standaloneAuth, standaloneQuotas     string
	concurrencyControls, allowStandalone                 bool
	maxSession, dailyQuota, inactivityLock, forcedTimout int
	warningSeconds                                       int
	maxReservations, maxDaysAhead                        int
}

func (c *cmd) siteFlags() *siteFlags {
	f := &siteFlags{}
	c.fs.StringVar(&f.name, "name", "", "the site's name")
	c.fs.StringVar(&f.timezone, "timezone", "", "IANA time zone of the quota day (default UTC)")
	c.fs.BoolVar(&f.concurrencyControls, "concurrency-controls", true, "locked sessions elsewhere do not block a login (false: legacy rule)")
	c.fs.BoolVar(&f.allowStandalone, "allow-standalone", true, "terminals may run standalone when the server is unreachable")
	c.fs.StringVar(&f.standaloneAuth, "standalone-auth", "", "offline logon check: any | cached (default cached)")
	c.fs.StringVar(&f.standaloneQuotas, "standalone-quotas", "", "offline quotas: off | snapshot (default snapshot)")
	c.fs.IntVar(&f.maxSession, "max-session-minutes", 0, "longest session, 0 = none")
	c.fs.IntVar(&f.dailyQuota, "daily-quota-minutes", 0, "daily quota per person, 0 = none")
	c.fs.IntVar(&f.inactivityLock, "inactivity-lock-minutes", 0, "lock an idle session after this long, 0 = never")
	c.fs.IntVar(&f.forcedTimout, "forced-timeout-minutes", 0, "end an idle session after this long, 0 = never")
	c.fs.IntVar(&f.warningSeconds, "warning-seconds", 60, "warning before a forced log-off")
	c.fs.IntVar(&f.maxReservations, "max-reservations-per-user", latchkey.DefaultMaxReservationsPerUser,
		"reservations a user may hold at the site that have not ended, 0 = no cap (staff are exempt)")
	c.fs.IntVar(&f.maxDaysAhead, "max-booking-days-ahead", latchkey.DefaultMaxBookingDaysAhead,
		"how many days ahead a user may book, 0 = no cap (staff are exempt)")
	return f
}

// update returns the settings given on the command line.
func (f *siteFlags) update(set map[string]bool) latchkey.SiteUpdate {
	var u latchkey.SiteUpdate
	if set["name"] {
		u.Name = client.Ptr(f.name)
	}
	if set["timezone"] {
		u.Timezone = client.Ptr(f.timezone)
	}
	if set["concurrency-controls"] {
		u.ConcurrencyControls = client.Ptr(f.concurrencyControls)
	}
	if set["allow-standalone"] {
		u.AllowStandalone = client.Ptr(f.allowStandalone)
	}
	if set["standalone-auth"] {
		u.StandaloneAuth = client.Ptr(f.standaloneAuth)
	}
	if set["standalone-quotas"] {
		u.StandaloneQuotas = client.Ptr(f.standaloneQuotas)
	}
	if set["max-session-minutes"] {
		u.MaxSessionMinutes = client.Ptr(f.maxSession)
	}
	if set["daily-quota-minutes"] {
		u.DailyQuotaMinutes = client.Ptr(f.dailyQuota)
	}
	if set["inactivity-lock-minutes"] {
		u.InactivityLockMinutes = client.Ptr(f.inactivityLock)
	}
	if set["forced-timeout-minutes"] {
		u.ForcedTimeoutMinutes = client.Ptr(f.forcedTimout)
	}
	if set["warning-seconds"] {
		u.WarningSeconds = client.Ptr(f.warningSeconds)
	}
	if set["max-reservations-per-user"] {
		u.MaxReservationsPerUser = client.Ptr(f.maxReservations)
	}
	if set["max-booking-days-ahead"] {
		u.MaxBookingDaysAhead = client.Ptr(f.maxDaysAhead)
	}
	return u
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
	u := f.update(c.setFlags())
	sc := client.SiteCreate{
		Name:                  f.name,
		Timezone:              u.Timezone,
		ConcurrencyControls:   u.ConcurrencyControls,
		AllowStandalone:       u.AllowStandalone,
		StandaloneAuth:        u.StandaloneAuth,
		StandaloneQuotas:      u.StandaloneQuotas,
		MaxSessionMinutes:     u.MaxSessionMinutes,
		DailyQuotaMinutes:     u.DailyQuotaMinutes,
		InactivityLockMinutes: u.InactivityLockMinutes,
		ForcedTimeoutMinutes:  u.ForcedTimeoutMinutes,
		WarningSeconds:        u.WarningSeconds,

		MaxReservationsPerUser: u.MaxReservationsPerUser,
		MaxBookingDaysAhead:    u.MaxBookingDaysAhead,
	}
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
	f := c.siteFlags()
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	u := f.update(c.setFlags())
	if u == (latchkey.SiteUpdate{}) {
		return c.usageError("nothing to update: give at least one setting")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	s, err := cl.UpdateSite(c.ctx, pos[0], u)
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
		"standalone_auth", s.StandaloneAuth,
		"standalone_quotas", s.StandaloneQuotas,
		"max_session_minutes", minutes(s.MaxSessionMinutes),
		"daily_quota_minutes", minutes(s.DailyQuotaMinutes),
		"inactivity_lock_minutes", minutes(s.InactivityLockMinutes),
		"forced_timeout_minutes", minutes(s.ForcedTimeoutMinutes),
		"warning_seconds", strconv.Itoa(s.WarningSeconds),
		"max_reservations_per_user", capText(s.MaxReservationsPerUser),
		"max_booking_days_ahead", capText(s.MaxBookingDaysAhead),
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
