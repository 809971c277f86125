package http

import (
	"cmp"
	"fmt"
	nethttp "net/http"
	"slices"
	"strconv"
	"strings"
	"time"

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
	var page accessView
	sets, _, err := s.store.ListGroupSets(r.Context(), ss.caller, latchkey.Page{Limit: 200})
	if err == nil {
		v.Sessions, _, err = s.store.ListPrincipalSessions(r.Context(), ss.caller, ss.caller.PrincipalID, latchkey.SessionActive, latchkey.Page{Limit: 100})
	}
	if err == nil {
		page.Checkouts, _, err = s.store.ListCheckouts(r.Context(), ss.caller, latchkey.CheckoutFilter{Principal: ss.caller.PrincipalID, Running: true, Page: latchkey.Page{Limit: 100}})
	}
	if err == nil {
		page.Requests, err = s.openRequests(r, ss)
	}
	if err != nil {
		st, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, st, "error.html", v)
		return
	}
	page.SetNames = map[string]string{}
	for _, g := range sets {
		page.SetNames[g.ID] = g.Name
		if ss.caller.IsStaff() || slices.Contains(g.Eligible, ss.caller.PrincipalID) {
			v.GroupSets = append(v.GroupSets, g)
		}
	}
	terminals := sessionTerminals(v.Sessions)
	for _, c := range page.Checkouts {
		terminals = append(terminals, c.Terminal)
	}
	for _, q := range page.Requests {
		terminals = append(terminals, q.Terminals...)
	}
	v.TerminalNames = s.terminalNames(r, ss, terminals)
	v.Page = page
	s.render(w, r, status, "access.html", v)
}

// accessView is what My access shows besides the form: the person's
// running check-outs and their requests that have not ended, with the
// names of the group sets.
type accessView struct {
	Checkouts []latchkey.Checkout
	Requests  []latchkey.Request
	SetNames  map[string]string
}

// SetName is a group set's name on the page (its ID when unknown).
func (a accessView) SetName(id string) string { return cmp.Or(a.SetNames[id], id) }

// openRequests are the person's own requests that have not ended.
func (s *Server) openRequests(r *nethttp.Request, ss consoleSession) ([]latchkey.Request, error) {
	var open []latchkey.Request
	f := latchkey.RequestFilter{Mine: true, Page: latchkey.Page{Limit: 200}}
	for {
		reqs, next, err := s.store.Requests(r.Context(), ss.caller, f)
		if err != nil {
			return nil, err
		}
		for _, q := range reqs {
			if !q.Status.Ended() {
				open = append(open, q)
			}
		}
		if next == "" || len(open) >= 50 {
			return open, nil
		}
		f.Page.After = next
	}
}

// consoleAccessRequest checks a group set out for the person on a
// terminal they are logged on at; a set that needs approval is requested
// instead, and the browser goes to the request's page.
func (s *Server) consoleAccessRequest(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	setID, terminal := r.PostFormValue("groupset"), r.PostFormValue("terminal")
	minutes, err := formMinutes(r, "the set's maximum")
	var set *latchkey.GroupSet
	if err == nil {
		set, err = s.store.GetGroupSet(r.Context(), ss.caller, setID)
	}
	if err == nil && set.Approval {
		var q latchkey.Request
		in := latchkey.RequestCreate{GroupSet: setID, Terminals: []string{terminal}, Minutes: minutes, Reason: r.PostFormValue("reason")}
		if q, err = s.store.CreateRequest(ss.changeCtx(r), ss.caller, in); err == nil {
			nethttp.Redirect(w, r, "/requests/"+q.ID, nethttp.StatusSeeOther)
			return
		}
	}
	if err == nil {
		var co *latchkey.Checkout
		if co, err = s.store.CreateCheckout(ss.changeCtx(r), ss.caller, latchkey.CheckoutCreate{GroupSet: setID, Terminal: terminal, Minutes: minutes}); err == nil {
			nethttp.Redirect(w, r, "/checkouts/"+co.ID, nethttp.StatusSeeOther)
			return
		}
	}
	status, msg := consoleError(err)
	s.accessPage(w, r, ss, status, msg)
}

// checkoutState is a check-out as its page and checkout.js show it.
type checkoutState struct {
	ID        string                  `json:"id"`
	Status    latchkey.CheckoutStatus `json:"status"`
	Words     string                  `json:"words"`
	CanCheck  bool                    `json:"can_check_in"` // checked_out: the workstation confirmed
	CanCancel bool                    `json:"can_cancel"`   // still checking out
	CanExtend bool                    `json:"can_extend"`   // running
	ExpiresAt string                  `json:"expires_at"`
	// SecondsLeft is the time left by the server's clock when running
	// (the page counts down from it, whatever the browser's clock says);
	// WarnSeconds is how long before the end the warning shows (0:
	// never); Warning is the warning's words once it is due.
	SecondsLeft int      `json:"seconds_left"`
	Left        string   `json:"left"` // SecondsLeft as the page shows it (m:ss)
	WarnSeconds int      `json:"warn_seconds"`
	Warning     string   `json:"warning,omitempty"`
	Groups      []string `json:"groups"`
	Terminal    string   `json:"terminal"`
	GroupSet    string   `json:"groupset"`
}

// stateOf says where a check-out stands at now, in words, with its
// expiry warning once due (warning before its end; 0 or less: never).
func stateOf(c latchkey.Checkout, now time.Time, warning time.Duration) checkoutState {
	st := checkoutState{ID: c.ID, Status: c.Status, Groups: c.Groups, Terminal: c.Terminal, GroupSet: c.GroupSet,
		ExpiresAt: c.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"), CanExtend: c.CanCheckIn()}
	if c.CanCheckIn() {
		st.SecondsLeft = max(0, int(c.ExpiresAt.Sub(now).Seconds()))
		st.Left = clockLeft(st.SecondsLeft)
		st.WarnSeconds = max(0, int(warning.Seconds()))
	}
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
	if c.WarningDue(warning, now) {
		st.Warning = fmt.Sprintf("This check-out ends at %s, in %s. Extend it or check in.",
			c.ExpiresAt.UTC().Format("15:04 UTC"), minutesLeft(c.ExpiresAt.Sub(now)))
	}
	return st
}

// clockLeft is a time left as a clock shows it: m:ss, or h:mm:ss.
func clockLeft(s int) string {
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s%3600/60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// minutesLeft says a time left in words, rounded up to the minute.
func minutesLeft(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "less than a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// consoleCheckout is a check-out's page.
func (s *Server) consoleCheckout(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	c, err := s.store.GetCheckout(r.Context(), ss.caller, r.PathValue("id"))
	if err != nil {
		s.renderError(w, r, ss, err)
		return
	}
	s.checkoutPage(w, r, ss, *c, nethttp.StatusOK, "")
}

// checkoutPage shows a check-out, with a failure said on it.
func (s *Server) checkoutPage(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, c latchkey.Checkout, status int, failure string) {
	st := stateOf(c, s.store.Now(), s.checkoutWarning)
	v := consoleView{Session: &ss, Checkout: &st, Error: failure, TerminalNames: s.terminalNames(r, ss, []string{c.Terminal})}
	if r.URL.Query().Get("extended") != "" {
		v.Notice = "Extended: it now ends at " + c.ExpiresAt.UTC().Format("15:04 UTC") + "."
	}
	s.render(w, r, status, "checkout.html", v)
}

// consoleCheckoutState is the check-out's state as JSON (checkout.js).
func (s *Server) consoleCheckoutState(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	c, err := s.store.GetCheckout(r.Context(), ss.caller, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, nethttp.StatusOK, stateOf(*c, s.store.Now(), s.checkoutWarning))
}

// consoleCheckin checks the check-out in (Check in, or Cancel while it
// is still checking out), then shows it.
func (s *Server) consoleCheckin(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	id := r.PathValue("id")
	if _, err := s.store.CheckinCheckout(ss.changeCtx(r), ss.caller, id); err != nil {
		s.renderError(w, r, ss, err)
		return
	}
	nethttp.Redirect(w, r, "/checkouts/"+id, nethttp.StatusSeeOther)
}

// consoleExtend moves a running check-out's end to now + minutes (within
// its set's maximum), then shows it.
func (s *Server) consoleExtend(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	id := r.PathValue("id")
	minutes, err := formMinutes(r, "")
	if err == nil {
		_, err = s.store.ExtendCheckout(ss.changeCtx(r), ss.caller, id, minutes)
	}
	if err != nil {
		status, msg := consoleError(err)
		c, gerr := s.store.GetCheckout(r.Context(), ss.caller, id)
		if gerr != nil {
			s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
			return
		}
		s.checkoutPage(w, r, ss, *c, status, msg)
		return
	}
	nethttp.Redirect(w, r, "/checkouts/"+id+"?extended=1", nethttp.StatusSeeOther)
}

// formMinutes reads a form's minutes: a whole number above 0, or empty
// (0) where empty means something (say what; "" when it must be given).
func formMinutes(r *nethttp.Request, empty string) (int, error) {
	v := strings.TrimSpace(r.PostFormValue("minutes"))
	if v == "" && empty != "" {
		return 0, nil
	}
	m, err := strconv.Atoi(v)
	if err != nil || m <= 0 {
		if empty != "" {
			return 0, latchkey.BadField("minutes", "minutes must be a whole number above 0, or empty for %s", empty)
		}
		return 0, latchkey.BadField("minutes", "minutes must be a whole number above 0")
	}
	return m, nil
}

// terminalNames names terminals by ID, in one read (a terminal that
// cannot be read keeps its ID on the page).
func (s *Server) terminalNames(r *nethttp.Request, ss consoleSession, ids []string) map[string]string {
	names, err := s.store.TerminalNames(r.Context(), ss.caller, ids)
	if err != nil {
		return map[string]string{}
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
