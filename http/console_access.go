package http

import (
	"fmt"
	nethttp "net/http"
	"slices"
	"strconv"

	"latchkey"
)

// My access (pam-group-set-checkout.txt): the group sets the person may
// check out, a check-out requested for a terminal they are logged on at,
// and its status followed live from Checking out to Checked out, with
// Check in shown only once the workstation confirmed (Cancel before).

// consoleAccess lists what the person may check out and where.
func (s *Server) consoleAccess(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	s.accessPage(w, r, ss, nethttp.StatusOK, "")
}

func (s *Server) accessPage(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, status int, failure string) {
	v := consoleView{Session: &ss, Error: failure}
	if r.URL.Query().Get("sent") == "again" {
		v.Notice = "That form was sent before and applied once."
	}
	sets, _, err := s.store.ListGroupSets(r.Context(), ss.caller, latchkey.Page{Limit: 200})
	if err == nil {
		v.Sessions, _, err = s.store.ListPrincipalSessions(r.Context(), ss.caller, ss.caller.PrincipalID, latchkey.SessionActive, latchkey.Page{Limit: 100})
	}
	if err != nil {
		st, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, st, "error.html", v)
		return
	}
	for _, g := range sets {
		if ss.caller.IsStaff() || slices.Contains(g.Eligible, ss.caller.PrincipalID) {
			v.GroupSets = append(v.GroupSets, g)
		}
	}
	v.TerminalNames = s.terminalNames(r, ss, sessionTerminals(v.Sessions))
	s.render(w, r, status, "access.html", v)
}

// consoleAccessRequest checks a group set out for the person, on a
// terminal they are logged on at.
func (s *Server) consoleAccessRequest(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	minutes, _ := strconv.Atoi(r.PostFormValue("minutes"))
	co, err := s.store.CreateCheckout(ss.changeCtx(r), ss.caller, latchkey.CheckoutCreate{GroupSet: r.PostFormValue("groupset"),
		Terminal: r.PostFormValue("terminal"), Minutes: minutes})
	if err != nil {
		status, msg := consoleError(err)
		s.accessPage(w, r, ss, status, msg)
		return
	}
	nethttp.Redirect(w, r, "/checkouts/"+co.ID, nethttp.StatusSeeOther)
}

// checkoutState is a check-out as its page and checkout.js show it.
type checkoutState struct {
	ID        string                  `json:"id"`
	Status    latchkey.CheckoutStatus `json:"status"`
	Words     string                  `json:"words"`
	CanCheck  bool                    `json:"can_check_in"` // checked_out: the workstation confirmed
	CanCancel bool                    `json:"can_cancel"`   // still checking out
	ExpiresAt string                  `json:"expires_at"`
	Groups    []string                `json:"groups"`
	Terminal  string                  `json:"terminal"`
}

// stateOf says where a check-out stands, in words.
func stateOf(c latchkey.Checkout) checkoutState {
	st := checkoutState{ID: c.ID, Status: c.Status, Groups: c.Groups, Terminal: c.Terminal,
		ExpiresAt: c.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")}
	switch c.Status {
	case latchkey.CheckingOut:
		st.Words, st.CanCancel = "Checking out: waiting for the workstation to confirm.", true
	case latchkey.CheckedOut:
		st.Words, st.CanCheck = fmt.Sprintf("Checked out until %s.", c.ExpiresAt.UTC().Format("15:04 UTC")), true
	case latchkey.CheckedIn:
		st.Words = "Checked in."
		if c.EndReason == string(latchkey.CheckinExpired) {
			st.Words = "Checked in: its time ran out."
		}
	case latchkey.CheckoutFailed:
		st.Words = "Failed: the workstation could not apply it (" + c.EndReason + ")."
	}
	return st
}

// consoleCheckout is a check-out's page.
func (s *Server) consoleCheckout(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	c, err := s.store.GetCheckout(r.Context(), ss.caller, r.PathValue("id"))
	if err != nil {
		status, msg := consoleError(err)
		s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
		return
	}
	st := stateOf(*c)
	v := consoleView{Session: &ss, Checkout: &st, TerminalNames: s.terminalNames(r, ss, []string{c.Terminal})}
	s.render(w, r, nethttp.StatusOK, "checkout.html", v)
}

// consoleCheckoutState is the check-out's state as JSON (checkout.js).
func (s *Server) consoleCheckoutState(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	c, err := s.store.GetCheckout(r.Context(), ss.caller, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, nethttp.StatusOK, stateOf(*c))
}

// consoleCheckin checks the check-out in (Check in, or Cancel while it
// is still checking out), then shows it.
func (s *Server) consoleCheckin(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	id := r.PathValue("id")
	if _, err := s.store.CheckinCheckout(ss.changeCtx(r), ss.caller, id); err != nil {
		status, msg := consoleError(err)
		s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
		return
	}
	nethttp.Redirect(w, r, "/checkouts/"+id, nethttp.StatusSeeOther)
}

// terminalNames names terminals by ID (a terminal that cannot be read
// keeps its ID on the page).
func (s *Server) terminalNames(r *nethttp.Request, ss consoleSession, ids []string) map[string]string {
	names := map[string]string{}
	for _, id := range ids {
		if _, ok := names[id]; ok {
			continue
		}
		if t, err := s.store.GetTerminal(r.Context(), ss.caller, id); err == nil {
			names[id] = t.Name
		}
	}
	return names
}

// sessionTerminals are the terminals of sessions.
func sessionTerminals(sessions []latchkey.Session) []string {
	ids := make([]string, len(sessions))
	for i, x := range sessions {
		ids[i] = x.TerminalID
	}
	return ids
}
