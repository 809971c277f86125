package http

import (
	"fmt"
	nethttp "net/http"
	"strings"

	"latchkey"
)

// Administer Users, the seed's managed dialog on admin/users: people,
// their login IDs, disabling and enabling (managed), and Change Pwd for
// one account (always available, as in the seed).

// usersDialog is the Administer Users dialog.
func (s *Server) usersDialog() dialogSpec {
	return dialogSpec{lock: latchkey.LockAdminUsers, title: "Administer Users", path: "/admin/users", page: "users.html",
		fill: func(r *nethttp.Request, ss consoleSession, v *consoleView) (err error) {
			q := strings.TrimSpace(r.FormValue("q"))
			page := usersView{Query: q}
			if q == "" {
				var next string
				v.Principals, next, err = s.store.ListPrincipals(r.Context(), ss.caller, latchkey.Page{Limit: usersListed})
				page.More = next != ""
			} else if v.Principals, err = s.store.SearchPrincipals(r.Context(), ss.caller, q); latchkey.ErrorCode(err) == latchkey.EBADREQUEST {
				_, page.SearchError = consoleError(err)
				err = nil
			}
			page.Full = q != "" && len(v.Principals) == latchkey.MaxSearchResults
			v.Page = page
			return err
		}}
}

// usersListed is how many people Administer Users lists before a search.
const usersListed = 100

// usersView is what the people list of Administer Users says about
// itself: the search typed, and whether more people exist than it shows.
type usersView struct {
	Query       string
	SearchError string
	More        bool // the list without a search stops at usersListed
	Full        bool // a search found MaxSearchResults: there may be more
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
	case "role":
		role := latchkey.Role(f("role"))
		var p *latchkey.Principal
		if p, err = s.store.UpdatePrincipal(ctx, underGrant(r, ss.caller), f("principal"), latchkey.PrincipalUpdate{Role: &role}); err == nil {
			notice = fmt.Sprintf("%s is now a %s.", p.Name, p.Role)
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
	s.dialogNotice(w, r, ss, s.usersDialog(), notice, failure)
}
