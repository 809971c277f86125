package latchkey

import (
	"bytes"
	"encoding/csv"
	"sort"
	"strconv"
	"time"
)

// ReportSession is a session as a report counts it.
type ReportSession struct {
	Site, Principal string
	StartedAt       time.Time
	EndedAt         *time.Time // nil: still running
}

// ReportCheckout is a check-out as a report counts it.
type ReportCheckout struct {
	Site, Principal string
}

// ReportRow is one line of a report: one person at one site.
type ReportRow struct {
	Site, SiteName           string
	Principal, Name          string
	Sessions, Minutes, Check int
}

// ReportRows sums sessions, minutes used and check-outs per site and
// person (sessions still running count up to now), sorted by site name,
// then person name. names maps site and principal IDs to their names.
func ReportRows(sessions []ReportSession, checkouts []ReportCheckout, names map[string]string, now time.Time) []ReportRow {
	type key struct{ site, principal string }
	rows := map[key]*ReportRow{}
	row := func(k key) *ReportRow {
		r, ok := rows[k]
		if !ok {
			r = &ReportRow{Site: k.site, SiteName: names[k.site], Principal: k.principal, Name: names[k.principal]}
			rows[k] = r
		}
		return r
	}
	for _, s := range sessions {
		end := now
		if s.EndedAt != nil {
			end = *s.EndedAt
		}
		r := row(key{s.Site, s.Principal})
		r.Sessions++
		if end.After(s.StartedAt) {
			r.Minutes += int(end.Sub(s.StartedAt).Round(time.Minute) / time.Minute)
		}
	}
	for _, c := range checkouts {
		row(key{c.Site, c.Principal}).Check++
	}
	out := make([]ReportRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.SiteName != b.SiteName {
			return a.SiteName < b.SiteName
		}
		if a.Site != b.Site {
			return a.Site < b.Site
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Principal < b.Principal
	})
	return out
}

// ReportCSV is a report's CSV: a header, then one line per row.
func ReportCSV(rows []ReportRow) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"site", "site_name", "principal", "name", "sessions", "minutes", "checkouts"})
	for _, r := range rows {
		_ = w.Write([]string{r.Site, r.SiteName, r.Principal, r.Name, strconv.Itoa(r.Sessions), strconv.Itoa(r.Minutes), strconv.Itoa(r.Check)})
	}
	w.Flush()
	return b.Bytes()
}

// ReportRange is the span of a report's dates in a site's timezone: from
// the start of from to the end of to.
func ReportRange(from, to time.Time, loc *time.Location) (time.Time, time.Time) {
	lo := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	hi := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
	return lo.UTC(), hi.UTC()
}

// HourlySessions counts, per site, the sessions started in each hour of
// the day (0 to 23) in the site's timezone (locs; UTC when missing).
func HourlySessions(sessions []ReportSession, locs map[string]*time.Location) map[string][24]int {
	out := map[string][24]int{}
	for _, s := range sessions {
		loc := locs[s.Site]
		if loc == nil {
			loc = time.UTC
		}
		h := out[s.Site]
		h[s.StartedAt.In(loc).Hour()]++
		out[s.Site] = h
	}
	return out
}
