package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"latchkey"
)

// The console's reservations day view (latchkey.ReservationDayService).

var _ latchkey.ReservationDayService = (*Store)(nil)

// maxReservationUS is the longest reservation in microseconds: one that
// overlaps a range starts less than this before the range's start, which
// bounds the index range of reservations_terminal (terminal_id, start_at).
const maxReservationUS = int64(latchkey.MaxReservationMinutes) * 60_000_000

// dayUS is a day in microseconds.
const dayUS = int64(24 * time.Hour / time.Microsecond)

// SiteReservations returns a page of the site's terminals and their
// reservations that overlap [from, to), by terminal and start, in one
// read transaction: one query for the terminals (terminals_site), one for
// their reservations.
func (s *Store) SiteReservations(ctx context.Context, c latchkey.Caller, site string, from, to time.Time, page latchkey.Page) (*latchkey.SiteBookings, error) {
	if err := latchkey.CanListSiteReservations(c); err != nil {
		return nil, err
	}
	page = page.Normalize()
	out := &latchkey.SiteBookings{Terminals: []latchkey.Terminal{}, Reservations: []latchkey.Reservation{}}
	err := s.read(ctx, func(t *tx) error {
		if _, err := t.loadSite(site); err != nil {
			return err
		}
		rows, err := t.query("SELECT "+terminalCols+" FROM terminals WHERE site_id = ? AND id > ? ORDER BY id LIMIT ?", site, page.After, page.Limit+1)
		if err != nil {
			return err
		}
		for rows.Next() {
			x, err := scanTerminal(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out.Terminals = append(out.Terminals, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out.Terminals) > page.Limit {
			out.Terminals = out.Terminals[:page.Limit]
			out.Next = out.Terminals[page.Limit-1].ID
		}
		if len(out.Terminals) == 0 {
			return nil
		}
		last := out.Terminals[len(out.Terminals)-1].ID
		rows, err = t.query(`SELECT r.id, r.terminal_id, r.principal_id, r.start_at, r.minutes FROM terminals m
			JOIN reservations r ON r.terminal_id = m.id
			WHERE m.site_id = ? AND m.id > ? AND m.id <= ? AND r.start_at < ? AND r.start_at > ?
			AND r.start_at + r.minutes * CAST(60000000 AS BIGINT) > ?
			ORDER BY r.terminal_id, r.start_at LIMIT ?`,
			site, page.After, last, us(to), us(from)-maxReservationUS, us(from), latchkey.MaxDayReservations+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanReservation(rows)
			if err != nil {
				return err
			}
			out.Reservations = append(out.Reservations, r)
		}
		if len(out.Reservations) > latchkey.MaxDayReservations {
			out.Reservations, out.Truncated = out.Reservations[:latchkey.MaxDayReservations], true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QuotaUsage is the minutes used of a site's daily quota in one of its
// days, per person, counted by quotaUsedBy as the log-on rule counts
// them. For everyone (staff, Principal ""), the people are those with a
// session at the site that started in the day or the day before, or is
// still going, or with a reservation there overlapping the day; the
// MaxQuotaUsers who used most (by those sessions) are counted exactly and
// listed, the others counted in More.
func (s *Store) QuotaUsage(ctx context.Context, c latchkey.Caller, q latchkey.QuotaUsageQuery) (*latchkey.QuotaUsage, error) {
	if err := latchkey.CanReadQuotaUsage(c, q.Principal); err != nil {
		return nil, err
	}
	var out latchkey.QuotaUsage
	err := s.read(ctx, func(t *tx) error {
		site, err := t.loadSite(q.Site)
		if err != nil {
			return err
		}
		loc, err := time.LoadLocation(site.Timezone)
		if err != nil {
			return err
		}
		today, _ := latchkey.QuotaDay(t.now, loc)
		day := cmp.Or(q.Day, today.Format("2006-01-02"))
		dayStart, dayEnd, err := latchkey.LocalDay(day, loc)
		if err != nil {
			return err
		}
		out = latchkey.QuotaUsage{Site: site, Day: day, DayStart: dayStart, DayEnd: dayEnd, Today: today.Format("2006-01-02"), Now: t.now, Entries: []latchkey.QuotaUse{}}
		booked, err := t.bookedInDay(site.ID, dayStart, dayEnd, q.Principal)
		if err != nil {
			return err
		}
		people := []string{q.Principal}
		if q.Principal == "" {
			if people, out.More, err = t.dayPeople(site.ID, dayStart, dayEnd, booked); err != nil {
				return err
			}
		}
		if len(people) == 0 {
			return nil
		}
		used, err := t.quotaUsedBy(site.ID, dayStart, dayEnd, people)
		if err != nil {
			return err
		}
		who := map[string]latchkey.Principal{}
		if err := t.inList("SELECT "+principalCols+" FROM principals WHERE id IN (%s)", nil, people, func(rows rowSet) error {
			p, err := scanPrincipal(rows)
			who[p.ID] = p
			return err
		}); err != nil {
			return err
		}
		for _, id := range people {
			p, ok := who[id]
			if !ok {
				continue
			}
			out.Entries = append(out.Entries, latchkey.QuotaUse{Principal: id, Name: p.Name, Role: p.Role, Used: used[id], Reservations: booked[id]})
		}
		slices.SortFunc(out.Entries, func(a, b latchkey.QuotaUse) int {
			return cmp.Or(cmp.Compare(b.Used, a.Used), strings.Compare(a.Name, b.Name), strings.Compare(a.Principal, b.Principal))
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// bookedInDay counts, per person (only principal, unless ""), the
// reservations at the site's terminals that overlap [dayStart, dayEnd).
func (t *tx) bookedInDay(siteID string, dayStart, dayEnd time.Time, principal string) (map[string]int, error) {
	rows, err := t.query(`SELECT r.principal_id, COUNT(*) FROM terminals m JOIN reservations r ON r.terminal_id = m.id
		WHERE m.site_id = ? AND r.start_at < ? AND r.start_at > ? AND r.start_at + r.minutes * CAST(60000000 AS BIGINT) > ?
		AND (? = '' OR r.principal_id = ?) GROUP BY r.principal_id`,
		siteID, us(dayEnd), us(dayStart)-maxReservationUS, us(dayStart), principal, principal)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var p string
		var n int
		if err := rows.Scan(&p, &n); err != nil {
			return nil, err
		}
		out[p] = n
	}
	return out, rows.Err()
}

// dayPeople are the people of a site's day (see QuotaUsage), the
// MaxQuotaUsers who used most first, and how many more there are. Their
// use is judged here from the sessions that started from the day before
// on (sessions_site_started) and the active sessions of the site's
// terminals (one each at most); quotaUsedBy then counts the listed ones
// exactly.
func (t *tx) dayPeople(siteID string, dayStart, dayEnd time.Time, booked map[string]int) ([]string, int, error) {
	spans := map[string][][2]time.Time{}
	for p := range booked {
		spans[p] = nil
	}
	from := us(dayStart) - dayUS
	add := func(rows rowSet, err error, older bool) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			var start int64
			var end sql.NullInt64
			if err := rows.Scan(&p, &start, &end); err != nil {
				return err
			}
			if older && (start >= from || start >= us(dayEnd)) {
				continue // read by the first query, or after the day
			}
			span := [2]time.Time{fromUS(start), {}}
			if end.Valid {
				span[1] = fromUS(end.Int64)
			}
			spans[p] = append(spans[p], span)
		}
		return rows.Err()
	}
	rows, err := t.query(`SELECT principal_id, started_at, ended_at FROM sessions
		WHERE site_id = ? AND unverified = FALSE AND started_at >= ? AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)`,
		siteID, from, us(dayEnd), us(dayStart))
	if err := add(rows, err, false); err != nil {
		return nil, 0, err
	}
	rows, err = t.query(`SELECT s.principal_id, s.started_at, s.ended_at FROM terminals m
		JOIN sessions s ON s.terminal_id = m.id AND s.status = 'active'
		WHERE m.site_id = ? AND s.unverified = FALSE`, siteID)
	if err := add(rows, err, true); err != nil {
		return nil, 0, err
	}
	type use struct {
		p    string
		used time.Duration
	}
	all := make([]use, 0, len(spans))
	for p, ss := range spans {
		all = append(all, use{p, latchkey.QuotaUsed(ss, dayStart, dayEnd, t.now)})
	}
	slices.SortFunc(all, func(a, b use) int { return cmp.Or(cmp.Compare(b.used, a.used), strings.Compare(a.p, b.p)) })
	n := min(len(all), latchkey.MaxQuotaUsers)
	people := make([]string, n)
	for i := range n {
		people[i] = all[i].p
	}
	return people, len(all) - n, nil
}

// PrincipalByLogin finds the person a login ID belongs to; the caller
// must be allowed to read them (CanReadPrincipal), or is told it is not
// found.
func (s *Store) PrincipalByLogin(ctx context.Context, c latchkey.Caller, login string) (*latchkey.Principal, error) {
	var id string
	if err := s.queryRow(ctx, "SELECT principal_id FROM identities WHERE login = ?", login).Scan(&id); err != nil {
		return nil, notFound(err, "nobody has the login ID %s", login)
	}
	if err := latchkey.CanReadPrincipal(c, id); err != nil {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "nobody has the login ID %s", login)
	}
	return s.GetPrincipal(ctx, c, id)
}
