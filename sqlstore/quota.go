package sqlstore

import (
	"database/sql"
	"time"

	"latchkey"
)

// quotaLeft is how much of the site's daily quota the principal has left
// today (the site's day, in its time zone), counting the parts of their
// sessions at the site that fall in the day (not those of journal entries
// whose person the server could not establish: unverified); nil when the site has no
// quota or the principal is an admin or a delegate (quotas are for
// people using the terminals), along with the day's end.
func (t *tx) quotaLeft(p latchkey.Principal, site latchkey.Site) (*time.Duration, time.Time, error) {
	if site.DailyQuotaMinutes <= 0 || p.Role != latchkey.RoleUser {
		return nil, time.Time{}, nil
	}
	loc, err := time.LoadLocation(site.Timezone)
	if err != nil {
		return nil, time.Time{}, err
	}
	dayStart, dayEnd := latchkey.QuotaDay(t.now, loc)
	rows, err := t.query(`SELECT started_at, ended_at FROM sessions WHERE principal_id = ? AND site_id = ? AND unverified = FALSE
		AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)`, p.ID, site.ID, us(dayEnd), us(dayStart))
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	var spans [][2]time.Time
	for rows.Next() {
		var start int64
		var end sql.NullInt64
		if err := rows.Scan(&start, &end); err != nil {
			return nil, time.Time{}, err
		}
		span := [2]time.Time{fromUS(start), {}}
		if end.Valid {
			span[1] = fromUS(end.Int64)
		}
		spans = append(spans, span)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, err
	}
	left := time.Duration(site.DailyQuotaMinutes)*time.Minute - latchkey.QuotaUsed(spans, dayStart, dayEnd, t.now)
	return &left, dayEnd, nil
}
