package http

import (
	"fmt"
	"maps"
	nethttp "net/http"
	"slices"
	"strings"

	"latchkey"
)

// Collaborate Trusts, the seed's managed dialog on admin/trusts: named
// trust entries and their settings, the items of the "trusts" config
// domain (managed by that lock, API.md). Add, change and delete commit
// through the config store with the grant's token; Remove only hides an
// entry from this admin's own view, as in the seed, so it needs no lock:
// the hidden names are the admin's own config domain.

// trustRow is one trust as the dialog lists it.
type trustRow struct{ Name, Settings string }

// hiddenTrustsDomain is where an admin's Remove keeps the names it hid.
func hiddenTrustsDomain(c latchkey.Caller) string { return "console/hidden-trusts/" + c.PrincipalID }

// trustsDialog is the Collaborate Trusts dialog.
func (s *Server) trustsDialog() dialogSpec {
	return dialogSpec{lock: latchkey.LockAdminTrusts, title: "Collaborate Trusts", path: "/admin/trusts", page: "trusts.html",
		fill: func(r *nethttp.Request, ss consoleSession, v *consoleView) error {
			d, err := s.store.GetConfig(r.Context(), ss.caller, "trusts")
			if err != nil {
				return err
			}
			hidden, err := s.store.GetConfig(r.Context(), ss.caller, hiddenTrustsDomain(ss.caller))
			if err != nil {
				return err
			}
			for _, name := range slices.Sorted(maps.Keys(d.Items)) {
				if _, gone := hidden.Items[name]; gone {
					v.HiddenTrusts++
					continue
				}
				v.Trusts = append(v.Trusts, trustRow{Name: name, Settings: d.Items[name]})
			}
			v.TrustsVersion = d.Version
			return nil
		}}
}

// consoleTrustsChange: save (add or change) and delete are managed (the
// trusts domain under the form's grant, in one transaction); remove and
// show-all change only this admin's view.
func (s *Server) consoleTrustsChange(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	f := r.PostFormValue
	name := strings.TrimSpace(f("name"))
	var notice string
	var err error
	switch f("op") {
	case "save", "delete":
		value := strings.TrimSpace(f("settings"))
		write := latchkey.ConfigWrite{Items: map[string]*string{name: &value}, LockToken: underGrant(r, ss.caller).LockToken}
		if f("op") == "delete" {
			write.Items[name] = nil
		}
		if name == "" {
			err = latchkey.BadField("name", "a trust needs a name")
		} else if _, err = s.store.PutConfig(ss.changeCtx(r), ss.caller, "trusts", write); err == nil {
			notice = fmt.Sprintf("Trust %s was %sd.", name, map[string]string{"save": "save", "delete": "delete"}[f("op")])
		}
	case "remove": // this admin's view only: always available
		yes := "hidden"
		if _, err = s.store.PutConfig(ss.changeCtx(r), ss.caller, hiddenTrustsDomain(ss.caller), latchkey.ConfigWrite{Items: map[string]*string{name: &yes}}); err == nil {
			notice = fmt.Sprintf("%s is removed from your view (for everyone else it stays).", name)
		}
	case "showall":
		if _, err = s.store.PutConfig(ss.changeCtx(r), ss.caller, hiddenTrustsDomain(ss.caller), latchkey.ConfigWrite{Replace: true}); err == nil {
			notice = "Every trust is in your view again."
		}
	default:
		err = latchkey.BadField("op", "unknown change")
	}
	failure := ""
	if err != nil {
		_, failure = consoleError(err)
	}
	s.dialogNotice(w, r, ss, s.trustsDialog(), notice, failure)
}
