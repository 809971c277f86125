package http

import (
	"fmt"
	nethttp "net/http"
	"strconv"

	"latchkey"
)

// Signup Policy, the seed's managed dialog on admin/signup: each site's
// standalone operation, daily quota and reservation limits (the settings
// CheckManaged guards; SiteSettings.SignupManaged).

// signupDialog is the Signup Policy dialog.
func (s *Server) signupDialog() dialogSpec {
	return dialogSpec{lock: latchkey.LockAdminSignup, title: "Signup Policy", path: "/admin/signup", page: "signup.html",
		fill: func(r *nethttp.Request, ss consoleSession, v *consoleView) (err error) {
			v.Sites, _, err = s.store.ListSites(r.Context(), ss.caller, latchkey.Page{Limit: 500})
			return err
		}}
}

// consoleSignupChange saves one site's signup settings under the form's
// grant, all at once.
func (s *Server) consoleSignupChange(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	f := r.PostFormValue
	var u latchkey.SiteUpdate
	standalone := f("allow_standalone") == "on"
	u.AllowStandalone = &standalone
	auth := latchkey.StandaloneAuth(f("standalone_auth"))
	u.StandaloneAuth = &auth
	var failure, notice string
	for _, n := range []struct {
		field string
		into  **int
	}{{"daily_quota_minutes", &u.DailyQuotaMinutes}, {"max_reservations_per_user", &u.MaxReservationsPerUser}, {"max_booking_days_ahead", &u.MaxBookingDaysAhead}} {
		v, err := strconv.Atoi(f(n.field))
		if err != nil {
			failure = fmt.Sprintf("%s must be a whole number.", n.field)
			break
		}
		*n.into = &v
	}
	if failure == "" {
		err := u.Validate()
		var site *latchkey.Site
		if err == nil {
			site, err = s.store.UpdateSite(ss.changeCtx(r), underGrant(r, ss.caller), f("site"), u)
		}
		if err != nil {
			_, failure = consoleError(err)
		} else {
			notice = fmt.Sprintf("The signup policy of %s was saved.", site.Name)
		}
	}
	s.dialogNotice(w, r, ss, s.signupDialog(), notice, failure)
}
