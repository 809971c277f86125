package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"strings"

	"latchkey"
)

// The sessions board and a person's page (issue 13, screen 5): one query
// each, whatever the number of terminals or sessions on the page.

// boardQuery reads a page of terminals by site with each one's ACTIVE
// session (at most one: sessions_one_active_per_terminal) and its
// person's name. Its arguments: the site (twice), the text (once, then
// its pattern three times), the state (seven times, with the online
// horizon after "offline"), the cursor (site name, site ID, terminal
// name, terminal ID) and the limit. A terminal's state is decided as
// latchkey.TerminalState decides it: its latest session (latestSession,
// one step down sessions_terminal_started) is looked up here only to
// filter failed or free terminals, and then only for terminals without
// an ACTIVE session that ever had a FAILED one (everFailed).
const boardQuery = `SELECT t.id, t.name, t.site_id, st.name, t.created_at, t.agent_seen_at, t.standalone,
	a.id, a.principal_id, ap.name, a.identity, a.status, a.started_at, a.locked_at, a.standalone
FROM terminals t
JOIN sites st ON st.id = t.site_id
LEFT JOIN sessions a ON a.terminal_id = t.id AND a.status = 'active'
LEFT JOIN principals ap ON ap.id = a.principal_id
WHERE (? = '' OR t.site_id = ?)
	AND (? = '' OR LOWER(t.name) LIKE ? ESCAPE '\' OR LOWER(ap.name) LIKE ? ESCAPE '\' OR LOWER(a.identity) LIKE ? ESCAPE '\')
	AND (? = ''
		OR (? = 'unlocked' AND a.id IS NOT NULL AND a.locked_at IS NULL)
		OR (? = 'locked' AND a.id IS NOT NULL AND a.locked_at IS NOT NULL)
		OR (? = 'failed' AND a.id IS NULL AND t.id IN (` + everFailed + `) AND (` + latestSession + `) = 'failed')
		OR (? = 'free' AND a.id IS NULL AND (t.id NOT IN (` + everFailed + `) OR (` + latestSession + `) <> 'failed'))
		OR (? = 'offline' AND t.agent_seen_at < ?)
		OR (? = 'standalone' AND t.standalone = TRUE))
	AND (st.name, st.id, t.name, t.id) > (?, ?, ?, ?)
ORDER BY st.name, st.id, t.name, t.id LIMIT ?`

// everFailed are the terminals that ever had a FAILED session (read once
// down the small partial index sessions_failed_terminal): only their
// latest session can be failed, so only theirs is looked up.
const everFailed = `SELECT f.terminal_id FROM sessions f WHERE f.status = 'failed'`

// latestSession is the status of terminal t's latest session.
const latestSession = `SELECT x.status FROM sessions x WHERE x.terminal_id = t.id ORDER BY x.started_at DESC, x.id DESC LIMIT 1`

// latestChunk is how many terminals latestQuery takes at once (unused
// places are given ”), so that it is one statement whatever the page.
const latestChunk = 50

// latestQuery reads the latest session of each of up to latestChunk
// terminals, with its person's name: the second query of a page of the
// board, for its terminals without an ACTIVE session.
var latestQuery = `SELECT t.id, l.id, l.principal_id, lp.name, l.identity, l.status, l.started_at, l.locked_at, l.ended_at, l.standalone, l.end_reason
FROM terminals t
JOIN sessions l ON l.id = (SELECT x.id FROM sessions x WHERE x.terminal_id = t.id ORDER BY x.started_at DESC, x.id DESC LIMIT 1)
LEFT JOIN principals lp ON lp.id = l.principal_id
WHERE t.id IN (?` + strings.Repeat(", ?", latestChunk-1) + `)`

// SessionBoard lists terminals by site (site name, then terminal name)
// with who is on them: staff only. Two queries: the page, then the
// latest sessions of its terminals that have no ACTIVE one.
func (s *Store) SessionBoard(ctx context.Context, c latchkey.Caller, f latchkey.BoardFilter, page latchkey.Page) ([]latchkey.BoardRow, string, error) {
	if err := latchkey.CanViewSessionBoard(c); err != nil {
		return nil, "", err
	}
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	page = page.Normalize()
	cur, err := parseBoardCursor(page.After)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	like := latchkey.LikePattern(f.Text)
	st := f.State
	args := []any{f.Site, f.Site, f.Text, like, like, like, st, st, st, st, st, st, us(now.Add(-agentOnline)), st,
		cur[0], cur[1], cur[2], cur[3], page.Limit + 1}
	out, err := queryBoard(ctx, s, args)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > page.Limit {
		out = out[:page.Limit]
		last := out[len(out)-1]
		next = boardCursor(last.SiteName, last.Terminal.SiteID, last.Terminal.Name, last.Terminal.ID)
	}
	idle := map[string]*latchkey.BoardRow{}
	var ids []any
	for i := range out {
		tm := &out[i].Terminal
		tm.Online = tm.AgentSeenAt != nil && now.Sub(*tm.AgentSeenAt) < agentOnline
		if out[i].Active == nil {
			idle[tm.ID] = &out[i]
			ids = append(ids, tm.ID)
		}
	}
	for len(ids) > 0 {
		chunk := make([]any, latestChunk)
		n := copy(chunk, ids)
		for i := n; i < latestChunk; i++ {
			chunk[i] = ""
		}
		ids = ids[n:]
		if err := queryLatest(ctx, s, chunk, idle); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

func queryBoard(ctx context.Context, s *Store, args []any) ([]latchkey.BoardRow, error) {
	rows, err := s.query(ctx, boardQuery, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []latchkey.BoardRow{}
	for rows.Next() {
		r, err := scanBoardRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// queryLatest fills in the latest sessions of the terminals ids names.
func queryLatest(ctx context.Context, s *Store, ids []any, rows map[string]*latchkey.BoardRow) error {
	res, err := s.query(ctx, latestQuery, ids...)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		var term, id, prin, ident, status, reason string
		var name sql.NullString
		var started int64
		var locked, ended sql.NullInt64
		var standalone bool
		if err := res.Scan(&term, &id, &prin, &name, &ident, &status, &started, &locked, &ended, &standalone, &reason); err != nil {
			return err
		}
		if r := rows[term]; r != nil {
			r.Latest = &latchkey.Session{ID: id, PrincipalID: prin, Identity: ident, TerminalID: term, Status: latchkey.SessionStatus(status),
				StartedAt: fromUS(started), LockedAt: optTime(locked), EndedAt: optTime(ended), Standalone: standalone, EndReason: reason}
			r.LatestName = name.String
		}
	}
	return res.Err()
}

func scanBoardRow(row interface{ Scan(...any) error }) (latchkey.BoardRow, error) {
	var r latchkey.BoardRow
	tm := &r.Terminal
	var created, seen int64
	var aID, aPrin, aName, aIdent, aStatus sql.NullString
	var aStarted, aLocked sql.NullInt64
	var aStandalone sql.NullBool
	err := row.Scan(&tm.ID, &tm.Name, &tm.SiteID, &r.SiteName, &created, &seen, &tm.Standalone,
		&aID, &aPrin, &aName, &aIdent, &aStatus, &aStarted, &aLocked, &aStandalone)
	if err != nil {
		return r, err
	}
	tm.CreatedAt = fromUS(created)
	if seen > 0 {
		t := fromUS(seen)
		tm.AgentSeenAt = &t
	}
	tm.LockedGroups = []string{}
	if aID.Valid {
		r.Active = &latchkey.Session{ID: aID.String, PrincipalID: aPrin.String, Identity: aIdent.String, TerminalID: tm.ID,
			Status: latchkey.SessionStatus(aStatus.String), StartedAt: fromUS(aStarted.Int64), LockedAt: optTime(aLocked),
			Standalone: aStandalone.Bool}
		r.ActiveName = aName.String
	}
	return r, nil
}

// The board's cursor: the last row's site name, site ID, terminal name
// and terminal ID (its sort key), base64url-encoded.
const boardCursorSep = "\x1f"

func boardCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, boardCursorSep)))
}

func parseBoardCursor(after string) ([4]string, error) {
	var cur [4]string
	if after == "" {
		return cur, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(after)
	parts := strings.Split(string(raw), boardCursorSep)
	if err != nil || len(parts) != 4 {
		return cur, latchkey.BadField("after", "after must be a cursor from a previous page")
	}
	copy(cur[:], parts)
	return cur, nil
}

// PersonSessions lists a person's sessions, ACTIVE ones first, then the
// others newest first, with their terminals' names: staff or the person.
func (s *Store) PersonSessions(ctx context.Context, c latchkey.Caller, principalID string, page latchkey.Page) ([]latchkey.PersonSession, string, error) {
	if err := latchkey.CanViewPerson(c, principalID); err != nil {
		return nil, "", err
	}
	if _, err := s.GetPrincipal(ctx, latchkey.Caller{Role: latchkey.RoleAdmin}, principalID); err != nil {
		return nil, "", err
	}
	page = page.Normalize()
	// The cursor: rank (0 active, 1 other), started_at and id of the last row.
	rank, started, id := int64(-1), int64(0), ""
	if page.After != "" {
		raw, err := base64.RawURLEncoding.DecodeString(page.After)
		parts := strings.Split(string(raw), boardCursorSep)
		if err != nil || len(parts) != 3 {
			return nil, "", latchkey.BadField("after", "after must be a cursor from a previous page")
		}
		if rank, err = parseSeq("after", parts[0]); err == nil {
			started, err = parseSeq("after", parts[1])
		}
		if err != nil {
			return nil, "", err
		}
		id = parts[2]
	}
	if _, err := s.applyTimeouts(ctx, "s.principal_id = ?", principalID); err != nil {
		return nil, "", err
	}
	const rankOf = "(CASE WHEN s.status = 'active' THEN 0 ELSE 1 END)"
	rows, err := s.query(ctx, "SELECT "+sessionCols+", tm.name"+sessionFrom+"JOIN terminals tm ON tm.id = s.terminal_id "+
		"WHERE s.principal_id = ? AND ("+rankOf+", -s.started_at, s.id) > (?, ?, ?) "+
		"ORDER BY "+rankOf+", s.started_at DESC, s.id LIMIT ?", principalID, rank, -started, id, page.Limit+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []latchkey.PersonSession{}
	for rows.Next() {
		var p latchkey.PersonSession
		r, err := scanSession(rows, &p.TerminalName)
		if err != nil {
			return nil, "", err
		}
		p.Session = r.Session
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > page.Limit {
		out = out[:page.Limit]
		last := out[len(out)-1]
		r := "1"
		if last.Status == latchkey.SessionActive {
			r = "0"
		}
		next = boardCursor(r, formatSeq(us(last.StartedAt)), last.ID)
	}
	return out, next, nil
}

// PersonEvents lists the deferred events (24, 25, 26) reported for a
// person, that is under one of their login IDs, newest first, with their
// terminals' names: staff or the person. An event sent without a login ID
// (24 may come without) is nobody's here: it is on its terminal's list.
func (s *Store) PersonEvents(ctx context.Context, c latchkey.Caller, principalID string, page latchkey.Page) ([]latchkey.PersonEvent, string, error) {
	if err := latchkey.CanViewPerson(c, principalID); err != nil {
		return nil, "", err
	}
	if _, err := s.GetPrincipal(ctx, latchkey.Caller{Role: latchkey.RoleAdmin}, principalID); err != nil {
		return nil, "", err
	}
	page = page.Normalize()
	before := int64(1<<63 - 1)
	if page.After != "" {
		var err error
		if before, err = parseSeq("after", page.After); err != nil {
			return nil, "", err
		}
	}
	rows, err := s.query(ctx, "SELECT e.seq, "+terminalEventCols+`, tm.name
		FROM identities i JOIN terminal_events e ON e.identity = i.login JOIN terminals tm ON tm.id = e.terminal_id
		WHERE i.principal_id = ? AND e.seq < ? ORDER BY e.seq DESC LIMIT ?`, principalID, before, page.Limit+1)
	return terminalEventPage(rows, err, page.Limit, func(e *latchkey.PersonEvent) (*latchkey.TerminalEvent, []any) {
		return &e.TerminalEvent, []any{&e.TerminalName}
	})
}
