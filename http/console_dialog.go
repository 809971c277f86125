package http

import (
	nethttp "net/http"
	"strconv"

	"latchkey"
)

// The managed dialogs (exclusive-edit-locks.txt): opening one asks for
// its lock. The holder's dialog is EXCLUSIVE and its forms carry the
// grant's token; anyone else's is READ ONLY, with the managed controls
// disabled and REQ LOCK and FORCE LOCK offered. The store refuses a
// managed change made without the current grant (CheckManaged), whatever
// the page showed. dialog.html is the badge and the lock buttons,
// dialog.js keeps them live.

// dialogLockTTL is the lease a dialog asks for; the page renews it while
// it is open (dialog.js), and it is the fallback when a closed tab could
// not say so.
const dialogLockTTL = 60

// dialogSpec is one managed dialog: its lock, title, address, template,
// and what its page shows besides the lock (fill).
type dialogSpec struct {
	lock, title, path, page string
	fill                    func(r *nethttp.Request, ss consoleSession, v *consoleView) error
}

// dialogView is the lock as the dialog's badge shows it.
type dialogView struct {
	Lock, Title, Path string
	CSRF              string
	Mode              latchkey.LockMode
	Token             uint64
	Holder            *latchkey.LockHolder
	Position          int
	Notice            string // what the last action did, in words
	// ConfirmForce asks before FORCE LOCK takes the lock from its holder.
	ConfirmForce bool
}

// Exclusive says whether the dialog may change what its lock manages.
func (d dialogView) Exclusive() bool { return d.Mode == latchkey.LockExclusive }

// openDialog asks for the dialog's lock (the holder asking again keeps
// its grant, a waiter its place), with how.
func (s *Server) openDialog(r *nethttp.Request, ss consoleSession, spec dialogSpec, how latchkey.AcquireRequest) (dialogView, error) {
	ttl := dialogLockTTL
	how.TTLSeconds = &ttl
	if how.Note == "" {
		how.Note = spec.title + " (console)"
	}
	d := dialogView{Lock: spec.lock, Title: spec.title, Path: spec.path, CSRF: ss.CSRF}
	res, err := s.store.AcquireLock(r.Context(), ss.caller, spec.lock, how)
	if err != nil {
		return d, err
	}
	d.Mode, d.Token, d.Holder, d.Position = res.Mode, res.Token, res.Holder, res.QueuePosition
	return d, nil
}

// dialogPage opens the dialog with how and renders it, its view adjusted
// by set, with failure from the last action.
func (s *Server) dialogPage(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, spec dialogSpec,
	how latchkey.AcquireRequest, set func(*dialogView), failure string) {
	v := consoleView{Session: &ss, Error: failure}
	if !ss.caller.IsStaff() {
		v.Error = spec.title + " is for admins and delegates."
		s.render(w, r, nethttp.StatusForbidden, "error.html", v)
		return
	}
	d, err := s.openDialog(r, ss, spec, how)
	if err == nil {
		set(&d)
		v.Dialog = &d
		err = spec.fill(r, ss, &v)
	}
	if err != nil {
		status, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, status, "error.html", v)
		return
	}
	status := nethttp.StatusOK
	if v.Error != "" {
		status = nethttp.StatusConflict
	}
	s.render(w, r, status, spec.page, v)
}

// dialogNotice shows the page with a notice of what was done.
func (s *Server) dialogNotice(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, spec dialogSpec, notice, failure string) {
	s.dialogPage(w, r, ss, spec, latchkey.AcquireRequest{}, func(d *dialogView) { d.Notice = notice }, failure)
}

// consoleDialog is the dialog's page (GET).
func (s *Server) consoleDialog(spec dialogSpec) func(nethttp.ResponseWriter, *nethttp.Request, consoleSession) {
	return func(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
		notice := ""
		if r.URL.Query().Get("sent") == "again" {
			notice = "That form was sent before and applied once; this is how things stand now."
		}
		s.dialogNotice(w, r, ss, spec, notice, "")
	}
}

// consoleDialogLock is the dialog's lock buttons: REQ LOCK (wait), FORCE
// LOCK (force, after a confirmation naming the holder), Close (release,
// then home), and leave (the page closed while waiting).
func (s *Server) consoleDialogLock(spec dialogSpec) func(nethttp.ResponseWriter, *nethttp.Request, consoleSession) {
	return func(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
		switch r.PostFormValue("op") {
		case "wait":
			s.dialogPage(w, r, ss, spec, latchkey.AcquireRequest{Wait: true},
				func(d *dialogView) {
					d.Notice = "You asked for the lock: you get it when the holder closes the dialog."
				}, "")
		case "force":
			if r.PostFormValue("confirm") != "yes" {
				s.dialogPage(w, r, ss, spec, latchkey.AcquireRequest{}, func(d *dialogView) { d.ConfirmForce = !d.Exclusive() }, "")
				return
			}
			s.dialogPage(w, r, ss, spec, latchkey.AcquireRequest{Force: true}, func(d *dialogView) { d.Notice = "You took the lock." }, "")
		case "close":
			token, _ := strconv.ParseUint(r.PostFormValue("lock_token"), 10, 64)
			if err := s.store.ReleaseLock(r.Context(), ss.caller, spec.lock, token, true); err != nil {
				s.renderError(w, r, ss, err)
				return
			}
			nethttp.Redirect(w, r, "/", nethttp.StatusSeeOther)
		case "leave":
			if err := s.store.ReleaseLock(r.Context(), ss.caller, spec.lock, 0, true); err != nil {
				s.writeError(w, r, err)
				return
			}
			w.WriteHeader(nethttp.StatusNoContent)
		default:
			s.render(w, r, nethttp.StatusBadRequest, "error.html", consoleView{Session: &ss, Error: "Unknown lock action."})
		}
	}
}

// consoleDialogState is the dialog's lock now, as JSON for dialog.js: it
// asks for the lock as the page did (a holder's lease is renewed, a
// waiter keeps its place and learns when it is granted; wait=1 for a
// waiter).
func (s *Server) consoleDialogState(spec dialogSpec) func(nethttp.ResponseWriter, *nethttp.Request, consoleSession) {
	return func(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
		if !ss.caller.IsStaff() {
			s.writeError(w, r, latchkey.Errorf(latchkey.EFORBIDDEN, "%s is for admins and delegates", spec.title))
			return
		}
		d, err := s.openDialog(r, ss, spec, latchkey.AcquireRequest{Wait: r.PostFormValue("wait") == "1"})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJSON(w, r, nethttp.StatusOK, d.state())
	}
}

// dialogState is the badge's JSON.
type dialogState struct {
	Mode     latchkey.LockMode `json:"mode"`
	Token    uint64            `json:"token"`
	Holder   string            `json:"holder"`
	Note     string            `json:"note"`
	Since    string            `json:"since"`
	Position int               `json:"position"`
}

func (d dialogView) state() dialogState {
	st := dialogState{Mode: d.Mode, Token: d.Token, Position: d.Position}
	if d.Holder != nil {
		st.Holder, st.Note, st.Since = d.Holder.Name, d.Holder.Note, d.Holder.Since.UTC().Format("15:04 UTC")
	}
	return st
}

// underGrant is the caller acting under the form's lock_token.
func underGrant(r *nethttp.Request, c latchkey.Caller) latchkey.Caller {
	c.LockToken, _ = strconv.ParseUint(r.PostFormValue("lock_token"), 10, 64)
	return c
}

// dialogRoutes registers a dialog's page, its lock buttons, its state and
// its changes.
func (s *Server) dialogRoutes(spec dialogSpec, change func(nethttp.ResponseWriter, *nethttp.Request, consoleSession)) {
	s.handle("GET "+spec.path, s.consolePage(s.consoleDialog(spec)))
	s.handle("POST "+spec.path+"/lock", s.consolePage(s.consoleDialogLock(spec)))
	s.handle("POST "+spec.path+"/state", s.consolePage(s.consoleDialogState(spec)))
	s.handle("POST "+spec.path, s.consolePage(change))
}
