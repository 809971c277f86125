package http

import (
	"cmp"
	"fmt"
	nethttp "net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"latchkey"
)

// Reservations (issue 13, screen 6): a site's day, its terminals with
// their reservations as time ranges in the site's local time; booking and
// cancelling (keyed forms, the API's rules and messages); and the minutes
// used of the site's daily quota: the person's own today, and for staff
// everyone's on the day shown. The day view is as of loading: the event
// stream carries no reservation events.

// reservationsRoutes registers the screen.
func (s *Server) reservationsRoutes() {
	s.handle("GET /reservations", s.consolePage(s.consoleReservations))
	s.handle("POST /reservations", s.consolePage(s.consoleBook))
	s.handle("POST /reservations/{id}/cancel", s.consolePage(s.consoleCancelReservation))
}

// reservationsPage is the screen's view (consoleView.Page).
type reservationsPage struct {
	Sites     []latchkey.Site
	Site      latchkey.Site
	Day       string // YYYY-MM-DD, the site's local day
	DayWords  string // "Friday 4 December 2026"
	Prev      string
	Next      string
	IsToday   bool
	Zone      string
	After     string // the first terminal page's cursor ("" for the first)
	More      string // the next page's cursor, when the site has more terminals
	Truncated bool
	Rows      []terminalRow
	Mine      string // the person's own quota used today, in words
	Usage     []usageRow
	UsageMore int
	Form      bookForm
	Confirm   *bookingRow
}

// terminalRow is one terminal of the site with its reservations that day.
type terminalRow struct {
	ID       string
	Name     string
	Bookings []bookingRow
}

// bookingRow is a reservation as the caller may see it (latchkey.ShowHolder).
type bookingRow struct {
	ID        string
	Terminal  string // its name
	Who       string // "you", "reserved", or the person's name (staff)
	Own       bool
	CanCancel bool
	From, To  string // local time ("15:04", with the date when not the day shown)
	FromUTC   string // RFC 3339, for <time datetime>
	ToUTC     string
	Minutes   int
}

// usageRow is one person's minutes used at the site on the day shown.
type usageRow struct {
	Name         string
	Role         latchkey.Role
	Minutes      int
	Quota        int // the site's daily quota in minutes; 0: none applies
	Reservations int
}

// bookForm is what the booking form said, kept on a refusal.
type bookForm struct {
	Terminal, Start, Minutes, For string
}

// dayURL is the day view of a site, a day and a page of terminals, with
// what was just done (did).
func dayURL(site, day, after, did string) string {
	v := url.Values{}
	if site != "" {
		v.Set("site", site)
	}
	if day != "" {
		v.Set("day", day)
	}
	if after != "" {
		v.Set("after", after)
	}
	if did != "" {
		v.Set("did", did)
	}
	return "/reservations?" + v.Encode()
}

// consoleReservations is the day view.
func (s *Server) consoleReservations(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	q := r.URL.Query()
	notice := map[string]string{"booked": "Booked.", "cancelled": "The reservation is cancelled."}[q.Get("did")]
	if q.Get("sent") == "again" {
		notice = "That form was sent before and applied once; this is how things stand now."
	}
	s.reservationsPage(w, r, ss, nethttp.StatusOK, q.Get("site"), q.Get("day"), q.Get("after"), notice, "", bookForm{}, q.Get("cancel"))
}

// reservationsPage renders the day view of a site and day (the first
// site and the site's today by default), with a notice, a refusal, what
// the booking form said, and a reservation whose cancelling to confirm.
func (s *Server) reservationsPage(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, status int,
	siteID, day, after, notice, failure string, form bookForm, confirm string) {
	v := consoleView{Session: &ss, Notice: notice, Error: failure}
	p := &reservationsPage{Form: form, After: after}
	v.Page = p
	fail := func(err error) {
		st, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, st, "error.html", v)
	}
	sites, _, err := s.store.ListSites(r.Context(), ss.caller, latchkey.Page{Limit: 200})
	if err != nil {
		fail(err)
		return
	}
	p.Sites = sites
	if len(sites) == 0 {
		s.render(w, r, status, "reservations.html", v)
		return
	}
	siteID = cmp.Or(siteID, sites[0].ID)
	// The person's own use today; it also says the site's today.
	mine, err := s.store.QuotaUsage(r.Context(), ss.caller, latchkey.QuotaUsageQuery{Site: siteID, Principal: ss.caller.PrincipalID})
	if err != nil {
		fail(err)
		return
	}
	p.Site, p.Zone = mine.Site, mine.Site.Timezone
	p.Mine = quotaWords(ss.caller, mine)
	loc, err := time.LoadLocation(p.Zone)
	if err != nil {
		fail(err)
		return
	}
	p.Day = cmp.Or(day, mine.Today)
	dayStart, dayEnd, err := latchkey.LocalDay(p.Day, loc)
	if err != nil {
		fail(err)
		return
	}
	p.IsToday = p.Day == mine.Today
	p.DayWords = dayStart.Format("Monday 2 January 2006")
	p.Prev = dayStart.AddDate(0, 0, -1).Format("2006-01-02")
	p.Next = dayStart.AddDate(0, 0, 1).Format("2006-01-02")
	bk, err := s.store.SiteReservations(r.Context(), ss.caller, siteID, dayStart, dayEnd, latchkey.Page{After: after, Limit: dayTerminals})
	if err != nil {
		fail(err)
		return
	}
	p.More, p.Truncated = bk.Next, bk.Truncated
	names := map[string]string{}
	if ss.caller.IsStaff() {
		use, err := s.store.QuotaUsage(r.Context(), ss.caller, latchkey.QuotaUsageQuery{Site: siteID, Day: p.Day})
		if err != nil {
			fail(err)
			return
		}
		p.UsageMore = use.More
		for _, e := range use.Entries {
			quota := p.Site.DailyQuotaMinutes
			if e.Role != latchkey.RoleUser {
				quota = 0 // quotas are for users (the log-on rule)
			}
			p.Usage = append(p.Usage, usageRow{Name: e.Name, Role: e.Role, Minutes: int(e.Used / time.Minute), Quota: quota, Reservations: e.Reservations})
			names[e.Principal] = e.Name
		}
	}
	termName := map[string]string{}
	rows := map[string]*terminalRow{}
	for _, t := range bk.Terminals {
		p.Rows = append(p.Rows, terminalRow{ID: t.ID, Name: t.Name})
		termName[t.ID] = t.Name
	}
	for i := range p.Rows {
		rows[p.Rows[i].ID] = &p.Rows[i]
	}
	for _, res := range bk.Reservations {
		b := bookingRow{ID: res.ID, Terminal: termName[res.Terminal], Minutes: res.Minutes,
			CanCancel: latchkey.CanCancelReservation(ss.caller, res) == nil,
			From:      localClock(res.Start, loc, p.Day), To: localClock(res.End(), loc, p.Day),
			FromUTC: res.Start.UTC().Format(time.RFC3339), ToUTC: res.End().UTC().Format(time.RFC3339)}
		switch latchkey.ShowHolder(ss.caller, res) {
		case latchkey.ShownYou:
			b.Who, b.Own = "you", true
		case latchkey.ShownName:
			if _, ok := names[res.Principal]; !ok {
				names[res.Principal] = res.Principal
				if pr, err := s.store.GetPrincipal(r.Context(), ss.caller, res.Principal); err == nil {
					names[res.Principal] = pr.Name
				}
			}
			b.Who = names[res.Principal]
		default:
			b.Who = "reserved"
		}
		if row := rows[res.Terminal]; row != nil {
			row.Bookings = append(row.Bookings, b)
		}
		if confirm != "" && res.ID == confirm && b.CanCancel {
			c := b
			p.Confirm = &c
		}
	}
	if confirm != "" && p.Confirm == nil && v.Error == "" {
		v.Error = "That reservation is not one you may cancel on this page: it may have been cancelled already."
		status = nethttp.StatusNotFound
	}
	s.render(w, r, status, "reservations.html", v)
}

// dayTerminals is how many of a site's terminals one page of the day
// view shows.
const dayTerminals = 100

// localClock is t in the site's time zone: the time of day, with the date
// when it is not on the day shown.
func localClock(t time.Time, loc *time.Location, day string) string {
	lt := t.In(loc)
	if lt.Format("2006-01-02") != day {
		return lt.Format("Mon 2 Jan 15:04")
	}
	return lt.Format("15:04")
}

// quotaWords says how much of the site's daily quota the person used
// today.
func quotaWords(c latchkey.Caller, u *latchkey.QuotaUsage) string {
	var used time.Duration
	for _, e := range u.Entries {
		if e.Principal == c.PrincipalID {
			used = e.Used
		}
	}
	min := int(used / time.Minute)
	switch {
	case c.IsStaff():
		return fmt.Sprintf("You have used %d minutes today at %s; daily quotas do not apply to admins and delegates.", min, u.Site.Name)
	case u.Site.DailyQuotaMinutes <= 0:
		return fmt.Sprintf("You have used %d minutes today at %s; the site has no daily quota.", min, u.Site.Name)
	}
	return fmt.Sprintf("You have used %d of %d minutes today at %s; resets at 00:00 %s.", min, u.Site.DailyQuotaMinutes, u.Site.Name, u.Site.Timezone)
}

// consoleBook books a terminal: start is a time of day on the day shown,
// in the site's time zone; staff may book for someone else by login ID or
// principal ID. A refusal is the API's message, with the form kept.
func (s *Server) consoleBook(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	siteID, day, after := r.PostFormValue("site"), r.PostFormValue("day"), r.PostFormValue("after")
	form := bookForm{Terminal: r.PostFormValue("terminal"), Start: strings.TrimSpace(r.PostFormValue("start")),
		Minutes: strings.TrimSpace(r.PostFormValue("minutes")), For: strings.TrimSpace(r.PostFormValue("for"))}
	res, err := s.bookingOf(r, ss, siteID, day, form)
	if err == nil {
		_, err = s.store.CreateReservation(ss.changeCtx(r), ss.caller, res)
	}
	if err != nil {
		status, msg := consoleError(err)
		s.reservationsPage(w, r, ss, status, siteID, day, after, "", msg, form, "")
		return
	}
	nethttp.Redirect(w, r, dayURL(siteID, day, after, "booked"), nethttp.StatusSeeOther)
}

// bookingOf is the reservation the booking form asks for.
func (s *Server) bookingOf(r *nethttp.Request, ss consoleSession, siteID, day string, f bookForm) (latchkey.Reservation, error) {
	res := latchkey.Reservation{Terminal: f.Terminal}
	if err := latchkey.ValidName("terminal", f.Terminal); err != nil {
		return res, latchkey.BadField("terminal", "choose a terminal")
	}
	site, err := s.store.GetSite(r.Context(), ss.caller, siteID)
	if err != nil {
		return res, err
	}
	loc, err := time.LoadLocation(site.Timezone)
	if err != nil {
		return res, err
	}
	if _, _, err := latchkey.LocalDay(day, loc); err != nil {
		return res, err
	}
	start, err := time.ParseInLocation("2006-01-02 15:04", day+" "+f.Start, loc)
	if err != nil {
		return res, latchkey.BadField("start", "the start must be a time of day like 14:30 (%s)", site.Timezone)
	}
	res.Start = start
	if f.Minutes != "" {
		if res.Minutes, err = strconv.Atoi(f.Minutes); err != nil {
			return res, latchkey.BadField("minutes", "minutes must be 1 to %d", latchkey.MaxReservationMinutes)
		}
	}
	if f.For != "" && !ss.caller.IsStaff() {
		res.Principal = f.For // the form has no For for a user: the API's rule (CanBook) answers
		return res, nil
	}
	if f.For != "" {
		p, err := s.store.PrincipalByLogin(r.Context(), ss.caller, f.For)
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			p, err = s.store.GetPrincipal(r.Context(), ss.caller, f.For)
			if err != nil {
				err = latchkey.Errorf(latchkey.ENOTFOUND, "nobody has the login ID or principal ID %s", f.For)
			}
		}
		if err != nil {
			return res, err
		}
		res.Principal = p.ID
	}
	return res, nil
}

// consoleCancelReservation cancels a reservation (its person or staff:
// the store's rule), after the page's confirmation.
func (s *Server) consoleCancelReservation(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	siteID, day, after := r.PostFormValue("site"), r.PostFormValue("day"), r.PostFormValue("after")
	if err := s.store.DeleteReservation(ss.changeCtx(r), ss.caller, r.PathValue("id")); err != nil {
		status, msg := consoleError(err)
		s.reservationsPage(w, r, ss, status, siteID, day, after, "", msg, bookForm{}, "")
		return
	}
	nethttp.Redirect(w, r, dayURL(siteID, day, after, "cancelled"), nethttp.StatusSeeOther)
}

// DayLink is the day view of day at this page's site.
func (p *reservationsPage) DayLink(day string) string { return dayURL(p.Site.ID, day, "", "") }

// MoreLink is the next page of this site's terminals on this day.
func (p *reservationsPage) MoreLink() string { return dayURL(p.Site.ID, p.Day, p.More, "") }

// CancelLink asks to confirm cancelling reservation id.
func (p *reservationsPage) CancelLink(id string) string {
	return dayURL(p.Site.ID, p.Day, p.After, "") + "&cancel=" + url.QueryEscape(id) + "#confirm"
}

// Shown is how many reservations a truncated page shows.
func (p *reservationsPage) Shown() int { return latchkey.MaxDayReservations }

// Back is this page again.
func (p *reservationsPage) Back() string { return dayURL(p.Site.ID, p.Day, p.After, "") }
