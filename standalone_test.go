package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

func TestDecideStandaloneLogon(t *testing.T) {
	verify := func(v, pw string) bool { return v == "v("+pw+")" }
	ann := &latchkey.CachedVerifier{Login: "ann", Principal: "p_ann", Role: latchkey.RoleUser, Verifier: "v(ann-pw)", ExpiresAt: st0.Add(24 * time.Hour)}
	boss := &latchkey.CachedVerifier{Login: "boss", Principal: "p_boss", Role: latchkey.RoleAdmin, Verifier: "v(boss-pw)", ExpiresAt: st0.Add(24 * time.Hour)}
	expired := &latchkey.CachedVerifier{Login: "old", Principal: "p_old", Role: latchkey.RoleUser, Verifier: "v(old-pw)", ExpiresAt: st0}
	locked := &latchkey.CachedVerifier{Login: "ann", Principal: "p_ann", Role: latchkey.RoleUser, Verifier: "v(ann-pw)", ExpiresAt: st0.Add(time.Hour), LockedUntil: st0.Add(time.Minute)}
	bobsSlot := &latchkey.Reservation{Principal: "p_bob", Start: st0, Minutes: 60}
	in := func(allow bool, auth latchkey.StandaloneAuth, login, pw string, v *latchkey.CachedVerifier, h *latchkey.Reservation) latchkey.StandaloneLogonInput {
		return latchkey.StandaloneLogonInput{AllowStandalone: allow, Auth: auth, Login: login, Password: pw, Verifier: v, Holding: h}
	}
	for _, c := range []struct {
		name    string
		in      latchkey.StandaloneLogonInput
		allowed bool
		reason  string
	}{
		{"not allowed: an admin with the right password", in(false, "cached", "boss", "boss-pw", boss, nil), true, ""},
		{"not allowed: an admin with a wrong password", in(false, "any", "boss", "nope", boss, nil), false, latchkey.EINVALIDCREDENTIALS},
		{"not allowed: a user, even with the right password", in(false, "cached", "ann", "ann-pw", ann, nil), false, "not_allowed"},
		{"not allowed: unknown login", in(false, "any", "eve", "x", nil, nil), false, latchkey.EINVALIDCREDENTIALS},
		{"any: an unknown login and password are accepted", in(true, "any", "eve", "whatever", nil, nil), true, ""},
		{"any: a known login with a wrong password is accepted too", in(true, "any", "ann", "wrong", ann, nil), true, ""},
		{"cached: right password", in(true, "cached", "ann", "ann-pw", ann, nil), true, ""},
		{"cached: wrong password", in(true, "cached", "ann", "wrong", ann, nil), false, latchkey.EINVALIDCREDENTIALS},
		{"cached: unknown login", in(true, "cached", "eve", "x", nil, nil), false, latchkey.EINVALIDCREDENTIALS},
		{"cached: expired verifier", in(true, "cached", "old", "old-pw", expired, nil), false, latchkey.EINVALIDCREDENTIALS},
		{"cached: locked after failures, even with the right password", in(true, "cached", "ann", "ann-pw", locked, nil), false, latchkey.EACCOUNTLOCKED},
		{"reserved for bob: ann refused", in(true, "cached", "ann", "ann-pw", ann, bobsSlot), false, "reserved"},
		{"reserved for bob: an admin may", in(true, "cached", "boss", "boss-pw", boss, bobsSlot), true, ""},
		{"reserved, auth any: an unknown login refused", in(true, "any", "eve", "x", nil, bobsSlot), false, "reserved"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := latchkey.DecideStandaloneLogon(c.in, verify, st0)
			if d.Allowed != c.allowed || d.Reason != c.reason {
				t.Fatalf("%+v; want allowed %v, reason %q", d, c.allowed, c.reason)
			}
		})
	}

	// Five wrong passwords in a row lock the cached login for a while.
	v := *ann
	for i := range latchkey.MaxOfflineFailures {
		d := latchkey.DecideStandaloneLogon(in(true, "cached", "ann", "wrong", &v, nil), verify, st0)
		if d.Allowed || d.Verifier == nil {
			t.Fatalf("attempt %d: %+v", i+1, d)
		}
		v = *d.Verifier
	}
	if !v.LockedUntil.Equal(st0.Add(latchkey.OfflineLockout)) {
		t.Fatalf("after %d failures: %+v; want locked for %s", latchkey.MaxOfflineFailures, v, latchkey.OfflineLockout)
	}
	if d := latchkey.DecideStandaloneLogon(in(true, "cached", "ann", "ann-pw", &v, nil), verify, st0.Add(latchkey.OfflineLockout)); !d.Allowed || d.Verifier.Failures != 0 {
		t.Fatalf("after the lockout, the right password: %+v", d)
	}
}
