package http

import (
	"errors"
	nethttp "net/http"
	"strings"

	"latchkey"
)

// consoleLoginForm is the log-on page (a browser already signed in goes
// home).
func (s *Server) consoleLoginForm(w nethttp.ResponseWriter, r *nethttp.Request) {
	if _, ok := s.session(r); ok {
		nethttp.Redirect(w, r, "/", nethttp.StatusSeeOther)
		return
	}
	s.render(w, r, nethttp.StatusOK, "login.html", consoleView{})
}

// consoleLogin logs on with the API's rules, throttling and messages; on
// success the browser gets its session cookie.
func (s *Server) consoleLogin(w nethttp.ResponseWriter, r *nethttp.Request) {
	r.Body = nethttp.MaxBytesReader(w, r.Body, s.maxBody)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, nethttp.StatusBadRequest, "login.html", consoleView{Error: "The log-on form could not be read: send it again."})
		return
	}
	identity, password := r.PostFormValue("identity"), r.PostFormValue("password")
	v := consoleView{Identity: identity}
	err := latchkey.ValidCredentials(identity, password)
	var tok *latchkey.UserToken
	if err == nil {
		err = s.throttledCheck(r, identity, func() (err error) {
			tok, err = s.store.Login(r.Context(), identity, password)
			return err
		})
	}
	if err != nil {
		status, msg := consoleError(err)
		if status == nethttp.StatusInternalServerError {
			s.logger.Error("console log-on failed", "err", err)
		}
		v.Error = msg
		s.render(w, r, status, "login.html", v)
		return
	}
	setSessionCookie(w, r, tok.Token)
	nethttp.Redirect(w, r, "/", nethttp.StatusSeeOther)
}

// consoleError is what a page says of a store error: the API's status and
// message (a bug's details are not shown).
func consoleError(err error) (int, string) {
	var e *latchkey.Error
	status, _, ok := latchkey.WireError(err)
	if !ok || !errors.As(err, &e) || e.Code == latchkey.EINTERNAL {
		return nethttp.StatusInternalServerError, "Something went wrong on the server. Try again; if it keeps happening, tell your administrator."
	}
	return status, sentence(e.Message)
}

// renderError shows a store error on the error page, with the API's
// status and words.
func (s *Server) renderError(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, err error) {
	status, msg := consoleError(err)
	s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
}

// sentence is an API message as a page shows it: capitalised, with a
// full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.ContainsAny(msg[len(msg)-1:], ".!?") {
		msg += "."
	}
	return msg
}

// consoleHome is the first page after log-on: who is signed in, and their
// sessions on terminals now.
func (s *Server) consoleHome(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	v := consoleView{Session: &ss}
	sessions, _, err := s.store.ListPrincipalSessions(r.Context(), ss.caller, ss.caller.PrincipalID, latchkey.SessionActive, latchkey.Page{Limit: 100})
	if err != nil {
		status, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, status, "home.html", v)
		return
	}
	v.Sessions = sessions
	v.TerminalNames = s.terminalNames(r, ss, sessionTerminals(sessions))
	s.render(w, r, nethttp.StatusOK, "home.html", v)
}

// consoleLogout ends the browser session: its token is revoked in the
// store, so no node accepts it again.
func (s *Server) consoleLogout(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	if err := s.store.Logout(r.Context(), ss.token); err != nil {
		s.renderError(w, r, ss, err)
		return
	}
	clearSessionCookie(w, r)
	nethttp.Redirect(w, r, "/login", nethttp.StatusSeeOther)
}
