package sqlstore

import (
	"database/sql"
	"time"

	"latchkey"
)

// quotaLeft is how much of the site's daily quota the principal has left
// today (the site's day, in its time zone), counting the parts of their
// sessions at the site that fall in the day (quotaUsedBy); nil when the
// site has no quota or the principal is an admin or a delegate (quotas
// are for people using the terminals), along with the day's end.
func (t *tx) quotaLeft(p latchkey.Principal, site latchkey.Site) (*time.Duration, time.Time, error) {
	if site.DailyQuotaMinutes <= 0 || p.Role != latchkey.RoleUser {
		return nil, time.Time{}, nil
	}
	loc, err := time.LoadLocation(site.Timezone)
	if err != nil {
		return nil, time.Time{}, err
	}
	dayStart, dayEnd := latchkey.QuotaDay(t.now, loc)
	used, err := t.quotaUsedBy(site.ID, dayStart, dayEnd, []string{p.ID})
	if err != nil {
		return nil, time.Time{}, err
	}
	left := time.Duration(site.DailyQuotaMinutes)*time.Minute - used[p.ID]
	return &left, dayEnd, nil
}

// quotaUsedBy is the time each of principals used at the site in the day
// [dayStart, dayEnd): latchkey.QuotaUsed over their sessions there that
// overlap the day (not those of journal entries whose person the server
// could not establish: unverified). The log-on rule (quotaLeft) and the
// console's day view both count with it.
func (t *tx) quotaUsedBy(siteID string, dayStart, dayEnd time.Time, principals []string) (map[string]time.Duration, error) {
	spans := map[string][][2]time.Time{}
	err := t.inList(`SELECT principal_id, started_at, ended_at FROM sessions WHERE site_id = ? AND unverified = FALSE
		AND started_at < ? AND (ended_at IS NULL OR ended_at > ?) AND principal_id IN (%s)`,
		[]any{siteID, us(dayEnd), us(dayStart)}, principals, func(rows rowSet) error {
			var p string
			var start int64
			var end sql.NullInt64
			if err := rows.Scan(&p, &start, &end); err != nil {
				return err
			}
			span := [2]time.Time{fromUS(start), {}}
			if end.Valid {
				span[1] = fromUS(end.Int64)
			}
			spans[p] = append(spans[p], span)
			return nil
		})
	if err != nil {
		return nil, err
	}
	used := make(map[string]time.Duration, len(principals))
	for _, p := range principals {
		used[p] = latchkey.QuotaUsed(spans[p], dayStart, dayEnd, t.now)
	}
	return used, nil
}
