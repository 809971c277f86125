package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

func TestCheckManaged(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	held := latchkey.Lock{Name: latchkey.LockAdminUsers, Fence: 7, Holder: &latchkey.LockHolder{Principal: "prn_ann", Name: "ann",
		Since: now.Add(-time.Minute), Note: "new counter staff", ExpiresAt: now.Add(time.Minute), Token: 7, TokenID: "tok_ann"}}
	lapsed := held
	h := *held.Holder
	h.ExpiresAt = now
	lapsed.Holder = &h
	ann := latchkey.Caller{PrincipalID: "prn_ann", Role: latchkey.RoleAdmin, TokenID: "tok_ann"}
	annOtherBrowser := latchkey.Caller{PrincipalID: "prn_ann", Role: latchkey.RoleAdmin, TokenID: "tok_ann2"}
	bob := latchkey.Caller{PrincipalID: "prn_bob", Role: latchkey.RoleAdmin, TokenID: "tok_bob"}
	with := func(c latchkey.Caller, token uint64) latchkey.Caller { c.LockToken = token; return c }
	for _, c := range []struct {
		name   string
		lock   latchkey.Lock
		caller latchkey.Caller
		want   string // "" allowed, else the error code
	}{
		{name: "nobody holds it: as if unmanaged", lock: latchkey.Lock{Name: latchkey.LockAdminUsers}, caller: bob},
		{name: "nobody holds it, a stale token given: still allowed", lock: latchkey.Lock{Name: latchkey.LockAdminUsers, Fence: 9}, caller: with(bob, 3)},
		{name: "the holder's lease ran out: nobody holds it", lock: lapsed, caller: bob},
		{name: "the holder under its grant", lock: held, caller: with(ann, 7)},
		{name: "the holder without its token", lock: held, caller: ann, want: latchkey.ELOCKHELD},
		{name: "the holder with an old grant's token", lock: held, caller: with(ann, 6), want: latchkey.ELOCKHELD},
		{name: "the same person in another browser", lock: held, caller: with(annOtherBrowser, 7), want: latchkey.ELOCKHELD},
		{name: "another admin", lock: held, caller: bob, want: latchkey.ELOCKHELD},
		{name: "another admin with the holder's token number", lock: held, caller: with(bob, 7), want: latchkey.ELOCKHELD},
	} {
		err := latchkey.CheckManaged(c.lock, c.caller, now)
		if got := latchkey.ErrorCode(err); got != c.want && !(c.want == "" && err == nil) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
			continue
		}
		if err != nil {
			d := latchkey.ErrorDetails(err)
			if hv, ok := d["holder"].(latchkey.LockHolder); !ok || hv.Name != "ann" || hv.Note != "new counter staff" || d["lock"] != latchkey.LockAdminUsers {
				t.Errorf("%s: details %v: want the holder and the lock", c.name, d)
			}
		}
	}
}

func TestSignupManaged(t *testing.T) {
	yes, n := true, 30
	for _, c := range []struct {
		name string
		u    latchkey.SiteSettings
		want bool
	}{
		{name: "nothing", u: latchkey.SiteSettings{}},
		{name: "the inactivity lock", u: latchkey.SiteSettings{InactivityLockMinutes: &n}},
		{name: "standalone", u: latchkey.SiteSettings{AllowStandalone: &yes}, want: true},
		{name: "the daily quota", u: latchkey.SiteSettings{DailyQuotaMinutes: &n}, want: true},
		{name: "reservations ahead", u: latchkey.SiteSettings{MaxBookingDaysAhead: &n}, want: true},
		{name: "reservations per user", u: latchkey.SiteSettings{MaxReservationsPerUser: &n}, want: true},
	} {
		if got := c.u.SignupManaged(); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}
