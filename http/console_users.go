package http

import (
	"fmt"
	nethttp "net/http"

	"strconv"

	"latchkey"
)

// The Administer Users dialog (exclusive-edit-locks.txt): opening it asks
// for the admin/users lock. The holder's dialog is EXCLUSIVE and its
// forms carry the grant's token; anyone else's is READ ONLY, with the
// managed controls disabled and REQ LOCK and FORCE LOCK offered; Change
// Pwd for one account stays available to both. The store refuses a
// managed change made without the current grant (CheckManaged), whatever
// the page showed.

// usersLockTTL is the lease the dialog asks for; the page renews it
// while it is open (dialog.js), and it is the fallback when a closed
// tab could not say so.
const usersLockTTL = 60

// dialogView is the lock as the dialog's badge shows it.
type dialogView struct {
	Lock     string
	Title    string
	Mode     latchkey.LockMode
	Token    uint64
	Holder   *latchkey.LockHolder
	Position int
	Notice   string // what the last action did, in words
	// ConfirmForce asks before FORCE LOCK takes the lock from its holder.
	ConfirmForce bool
}

// Exclusive says whether the dialog may change what its lock manages.
func (d dialogView) Exclusive() bool { return d.Mode == latchkey.LockExclusive }

// openDialog asks for the dialog's lock (the holder asking again keeps
// its grant, a waiter its place), with how.
func (s *Server) openDialog(r *nethttp.Request, ss consoleSession, lock, title string, how latchkey.AcquireRequest) (dialogView, error) {
	ttl := usersLockTTL
	how.TTLSeconds = &ttl
	if how.Note == "" {
		how.Note = title + " (console)"
	}
	res, err := s.store.AcquireLock(r.Context(), ss.caller, lock, how)
	if err != nil {
		return dialogView{Lock: lock, Title: title}, err
	}
	return dialogView{Lock: lock, Title: title, Mode: res.Mode, Token: res.Token, Holder: res.Holder, Position: res.QueuePosition}, nil
}

// consoleUsers shows the dialog (staff only).
func (s *Server) consoleUsers(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	notice := ""
	if r.URL.Query().Get("sent") == "again" {
		notice = "That form was sent before and applied once; this is how things stand now."
	}
	s.usersPage(w, r, ss, latchkey.AcquireRequest{}, notice, "")
}

// usersPage opens the dialog with how and renders it, with notice or an
// error from the last action.
func (s *Server) usersPage(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, how latchkey.AcquireRequest, notice, failure string) {
	s.usersPageWith(w, r, ss, how, func(d *dialogView) { d.Notice = notice }, failure)
}

// usersPageWith is usersPage with the dialog's view adjusted by set.
func (s *Server) usersPageWith(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, how latchkey.AcquireRequest, set func(*dialogView), failure string) {
	v := consoleView{Session: &ss, Error: failure}
	if !ss.caller.IsStaff() {
		v.Error = "Administer Users is for admins and delegates."
		s.render(w, r, nethttp.StatusForbidden, "error.html", v)
		return
	}
	d, err := s.openDialog(r, ss, latchkey.LockAdminUsers, "Administer Users", how)
	if err != nil {
		status, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, status, "error.html", v)
		return
	}
	set(&d)
	v.Dialog = &d
	if v.Principals, _, err = s.store.ListPrincipals(r.Context(), ss.caller, latchkey.Page{Limit: 500}); err != nil {
		status, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, status, "error.html", v)
		return
	}
	status := nethttp.StatusOK
	if v.Error != "" {
		status = nethttp.StatusConflict
	}
	s.render(w, r, status, "users.html", v)
}

// consoleUsersLock is the dialog's lock buttons: REQ LOCK (wait), FORCE
// LOCK (force), Close (release, then home).
func (s *Server) consoleUsersLock(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	switch r.PostFormValue("op") {
	case "wait":
		s.usersPage(w, r, ss, latchkey.AcquireRequest{Wait: true}, "You asked for the lock: you get it when the holder closes the dialog.", "")
	case "force":
		if r.PostFormValue("confirm") != "yes" {
			s.usersPageWith(w, r, ss, latchkey.AcquireRequest{}, func(d *dialogView) { d.ConfirmForce = !d.Exclusive() }, "")
			return
		}
		s.usersPage(w, r, ss, latchkey.AcquireRequest{Force: true}, "You took the lock.", "")
	case "leave": // the page closed while waiting (dialog.js)
		if err := s.store.ReleaseLock(r.Context(), ss.caller, latchkey.LockAdminUsers, 0, true); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(nethttp.StatusNoContent)
	case "close":
		token, _ := strconv.ParseUint(r.PostFormValue("lock_token"), 10, 64)
		if err := s.store.ReleaseLock(r.Context(), ss.caller, latchkey.LockAdminUsers, token, true); err != nil {
			status, msg := consoleError(err)
			s.render(w, r, status, "error.html", consoleView{Session: &ss, Error: msg})
			return
		}
		nethttp.Redirect(w, r, "/", nethttp.StatusSeeOther)
	default:
		s.render(w, r, nethttp.StatusBadRequest, "error.html", consoleView{Session: &ss, Error: "Unknown lock action."})
	}
}

// underGrant is the caller acting under the form's lock_token.
func underGrant(r *nethttp.Request, c latchkey.Caller) latchkey.Caller {
	c.LockToken, _ = strconv.ParseUint(r.PostFormValue("lock_token"), 10, 64)
	return c
}

// consoleUsersChange applies one of the dialog's forms: create a
// principal, add a login ID, disable or enable, change a role (managed:
// under the form's grant), or Change Pwd for one account (always
// available).
func (s *Server) consoleUsersChange(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	ctx, f := ss.changeCtx(r), r.PostFormValue
	var notice string
	var err error
	switch f("op") {
	case "create":
		var p *latchkey.Principal
		if p, err = s.store.CreatePrincipal(ctx, underGrant(r, ss.caller), latchkey.Principal{Name: f("name"), Role: latchkey.Role(f("role"))}); err == nil {
			notice = fmt.Sprintf("%s was created.", p.Name)
		}
	case "identity":
		if _, err = s.store.AddIdentity(ctx, underGrant(r, ss.caller), f("principal"), f("login"), f("password")); err == nil {
			notice = fmt.Sprintf("Login ID %s was added.", f("login"))
		}
	case "disable", "enable":
		disabled := f("op") == "disable"
		var p *latchkey.Principal
		if p, err = s.store.UpdatePrincipal(ctx, underGrant(r, ss.caller), f("principal"), latchkey.PrincipalUpdate{Disabled: &disabled}); err == nil {
			notice = fmt.Sprintf("%s was %sd.", p.Name, f("op"))
		}
	case "password": // Change Pwd: one account, no lock needed
		if err = latchkey.CheckNewPassword("new_password", f("password")); err == nil {
			err = s.store.ChangePassword(ctx, ss.caller, f("login"), "", f("password"))
		}
		if err == nil {
			notice = fmt.Sprintf("The password of %s was changed.", f("login"))
		}
	default:
		err = latchkey.BadField("op", "unknown change")
	}
	failure := ""
	if err != nil {
		_, failure = consoleError(err)
	}
	s.usersPage(w, r, ss, latchkey.AcquireRequest{}, notice, failure)
}

// consoleUsersState is the dialog's lock now, as JSON for dialog.js: it
// asks for the lock as the page did (a holder's lease is renewed, a
// waiter keeps its place and learns when it is granted; wait=1 for a
// waiter).
func (s *Server) consoleUsersState(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	if !ss.caller.IsStaff() {
		s.writeError(w, r, latchkey.Errorf(latchkey.EFORBIDDEN, "Administer Users is for admins and delegates"))
		return
	}
	d, err := s.openDialog(r, ss, latchkey.LockAdminUsers, "Administer Users", latchkey.AcquireRequest{Wait: r.PostFormValue("wait") == "1"})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, nethttp.StatusOK, d.state())
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
