package http

import (
	nethttp "net/http"
	"time"

	"latchkey"
)

// The sessions board (issue 13, screen 5), for admins and delegates:
// terminals by site with who is on them, unlocked, locked or failed,
// online or offline, standalone, last seen; filtered by site, state and
// text, paged, and live (board.js refreshes the rows over the sessions
// stream). A person's page shows their sessions and the deferred events
// 24/25/26 reported for them; a user may open only their own.

// sessionsRoutes registers the board, its rows (for board.js) and the
// person's page.
func (s *Server) sessionsRoutes() {
	s.handle("GET /sessions", s.consolePage(s.consoleBoard))
	s.handle("GET /sessions/rows", s.consolePage(s.consoleBoardRows))
	s.handle("GET /people/{id}", s.consolePage(s.consolePerson))
}

// Me is the signed-in person's ID (the link to their own page).
func (v consoleView) Me() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.caller.PrincipalID
}

// boardPageSize is how many terminals a page of the board shows.
const boardPageSize = 50

// stamp is a time on a page: <time datetime="ISO">Text</time>.
type stamp struct{ ISO, Text string }

func stampOf(t *time.Time) *stamp {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &stamp{ISO: u.Format("2006-01-02T15:04:05Z"), Text: u.Format("2006-01-02 15:04:05 UTC")}
}

// boardView is the board's .Page.
type boardView struct {
	Filter latchkey.BoardFilter
	Sites  []latchkey.Site
	States []string
	Groups []boardGroup
	Count  int
	// Next is the next page's cursor ("" on the last page); Paged says
	// this is not the first page.
	Next    string
	Paged   bool
	Updated *stamp
	// Refused says why the rows alone could not be shown (the full page
	// says it at its top).
	Refused string
}

// boardGroup is one site's terminals on a page.
type boardGroup struct {
	Site string
	Rows []boardRow
}

// boardRow is one terminal on the board, as the page says it.
type boardRow struct {
	ID, Name string
	// Person on it (the ACTIVE session's): name, page and login ID.
	Person, PersonID, Login string
	State                   latchkey.BoardState
	Since                   *stamp
	// Was is who was on it when it failed (failed terminals).
	Was, WasID string
	Online     bool
	Standalone bool
	LastSeen   *stamp
}

func boardRowOf(r latchkey.BoardRow) boardRow {
	st, since := r.State()
	row := boardRow{ID: r.Terminal.ID, Name: r.Terminal.Name, State: st, Since: stampOf(since),
		Online: r.Terminal.Online, Standalone: r.Terminal.Standalone, LastSeen: stampOf(r.Terminal.AgentSeenAt)}
	if r.Active != nil {
		row.Person, row.PersonID, row.Login = r.ActiveName, r.Active.PrincipalID, r.Active.Identity
	} else if st == latchkey.BoardFailed && r.Latest != nil {
		row.Was, row.WasID = r.LatestName, r.Latest.PrincipalID
	}
	return row
}

// boardFilter reads the board's query: site, state, q and after.
func boardFilter(r *nethttp.Request) (latchkey.BoardFilter, latchkey.Page) {
	q := r.URL.Query()
	return latchkey.BoardFilter{Site: q.Get("site"), State: q.Get("state"), Text: q.Get("q")},
		latchkey.Page{Limit: boardPageSize, After: q.Get("after")}
}

// board reads one page of the board for the request's filter.
func (s *Server) board(r *nethttp.Request, ss consoleSession) (boardView, error) {
	f, page := boardFilter(r)
	v := boardView{Filter: f, States: latchkey.BoardStates, Paged: page.After != ""}
	rows, next, err := s.store.SessionBoard(r.Context(), ss.caller, f, page)
	if err != nil {
		return v, err
	}
	_ = f.Validate() // done by the store: the trimmed text for the form
	v.Filter = f
	for _, x := range rows {
		if n := len(v.Groups); n == 0 || v.Groups[n-1].Site != x.SiteName {
			v.Groups = append(v.Groups, boardGroup{Site: x.SiteName})
		}
		g := &v.Groups[len(v.Groups)-1]
		g.Rows = append(g.Rows, boardRowOf(x))
	}
	v.Count = len(rows)
	v.Next = next
	now := time.Now()
	v.Updated = stampOf(&now)
	return v, nil
}

// consoleBoard is the board.
func (s *Server) consoleBoard(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	v := consoleView{Session: &ss}
	if err := latchkey.CanViewSessionBoard(ss.caller); err != nil { // said before anything is read
		status, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, status, "error.html", v)
		return
	}
	page, err := s.board(r, ss)
	status := nethttp.StatusOK
	if err != nil {
		status, v.Error = consoleError(err)
	}
	if page.Sites, _, err = s.store.ListSites(r.Context(), ss.caller, latchkey.Page{Limit: latchkey.MaxPageLimit}); err != nil {
		status, v.Error = consoleError(err)
	}
	v.Page = page
	s.render(w, r, status, "sessions.html", v)
}

// consoleBoardRows is the board's rows alone, an HTML fragment that
// board.js puts in place of the page's when a session changes.
func (s *Server) consoleBoardRows(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	v := consoleView{Session: &ss}
	page, err := s.board(r, ss)
	status := nethttp.StatusOK
	if err != nil {
		status, page.Refused = consoleError(err)
	}
	v.Page = page
	s.render(w, r, status, "board-rows", v)
}

// personView is a person's page's .Page.
type personView struct {
	Person   latchkey.Principal
	Own      bool // the signed-in person's own page
	Sessions []personSession
	Events   []personEvent
	// The cursors of the next pages of the sessions and of the events
	// ("": none), and of the pages shown.
	NextSessions, NextEvents   string
	SessionsAfter, EventsAfter string
}

type personSession struct {
	ID, Terminal, Login string
	Status              latchkey.SessionStatus
	Locked              bool
	Standalone          bool
	Started, LockedAt   *stamp
	Ended               *stamp
	EndReason           string
}

type personEvent struct {
	Event              int
	Meaning            string
	Terminal, Login    string
	Occurred, Received *stamp
	Reason             string
}

// personPage is how many sessions and events a person's page shows at once.
const personPage = 25

// consolePerson is a person's page: their sessions (ACTIVE first, then
// the others newest first) and the deferred events reported for them.
func (s *Server) consolePerson(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	id, q := r.PathValue("id"), r.URL.Query()
	v := consoleView{Session: &ss}
	fail := func(err error) {
		status, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, status, "error.html", v)
	}
	if err := latchkey.CanViewPerson(ss.caller, id); err != nil { // said before anything is read
		fail(err)
		return
	}
	sessions, nextS, err := s.store.PersonSessions(r.Context(), ss.caller, id, latchkey.Page{Limit: personPage, After: q.Get("after")})
	if err != nil {
		fail(err)
		return
	}
	events, nextE, err := s.store.PersonEvents(r.Context(), ss.caller, id, latchkey.Page{Limit: personPage, After: q.Get("events_after")})
	if err != nil {
		fail(err)
		return
	}
	p, err := s.store.GetPrincipal(r.Context(), ss.caller, id)
	if err != nil {
		fail(err)
		return
	}
	pv := personView{Person: *p, Own: id == ss.caller.PrincipalID, NextSessions: nextS, NextEvents: nextE,
		SessionsAfter: q.Get("after"), EventsAfter: q.Get("events_after")}
	for _, x := range sessions {
		pv.Sessions = append(pv.Sessions, personSession{ID: x.ID, Terminal: x.TerminalName, Login: x.Identity, Status: x.Status,
			Locked: x.LockedAt != nil, Standalone: x.Standalone, Started: stampOf(&x.StartedAt), LockedAt: stampOf(x.LockedAt),
			Ended: stampOf(x.EndedAt), EndReason: x.EndReason})
	}
	for _, e := range events {
		pv.Events = append(pv.Events, personEvent{Event: e.Event, Meaning: latchkey.EventMeaning(e.Event), Terminal: e.TerminalName,
			Login: e.Identity, Occurred: stampOf(&e.OccurredAt), Received: stampOf(&e.ReceivedAt), Reason: latchkey.ReasonMeaning(e.Reason)})
	}
	v.Page = pv
	s.render(w, r, nethttp.StatusOK, "person.html", v)
}
