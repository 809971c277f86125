package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

var st0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func TestHoldingReservation(t *testing.T) {
	r := latchkey.Reservation{ID: "r1", Principal: "p_ann", Start: st0, Minutes: 60}
	grace := 10 * time.Minute
	for _, c := range []struct {
		name     string
		at       time.Time
		showedUp bool
		holds    bool
	}{
		{"before the start", st0.Add(-time.Second), false, false},
		{"at the start", st0, false, true},
		{"within the grace, not yet there", st0.Add(9 * time.Minute), false, true},
		{"no-show after the grace: released", st0.Add(10 * time.Minute), false, false},
		{"showed up: held to the end", st0.Add(59 * time.Minute), true, true},
		{"at the end", st0.Add(time.Hour), true, false},
	} {
		got := latchkey.HoldingReservation([]latchkey.Reservation{r}, c.at, grace, func(latchkey.Reservation) bool { return c.showedUp })
		if (got != nil) != c.holds {
			t.Errorf("%s: holding %v, want %v", c.name, got, c.holds)
		}
	}
	if n := latchkey.NextReservationStart([]latchkey.Reservation{r, {Start: st0.Add(2 * time.Hour)}}, st0.Add(time.Minute)); !n.Equal(st0.Add(2 * time.Hour)) {
		t.Fatalf("next start %s", n)
	}
}

func TestSessionAllowance(t *testing.T) {
	d := func(x time.Duration) *time.Duration { return &x }
	warn := time.Minute
	for _, c := range []struct {
		name   string
		max    time.Duration
		quota  *time.Duration
		next   time.Time
		ends   time.Time
		reason latchkey.LimitReason
		warnAt time.Time
	}{
		{"no limits", 0, nil, time.Time{}, time.Time{}, "", time.Time{}},
		{"maximum session", 2 * time.Hour, nil, time.Time{}, st0.Add(2 * time.Hour), latchkey.LimitMaxSession, st0.Add(2*time.Hour - warn)},
		{"quota binds first", 2 * time.Hour, d(30 * time.Minute), time.Time{}, st0.Add(30 * time.Minute), latchkey.LimitQuota, st0.Add(29 * time.Minute)},
		{"a reservation binds first: cut short at its start", 2 * time.Hour, d(time.Hour), st0.Add(20 * time.Minute), st0.Add(20 * time.Minute), latchkey.LimitReservation, st0.Add(19 * time.Minute)},
		{"quota used up: ends at once, warned at once", 0, d(-5 * time.Minute), time.Time{}, st0, latchkey.LimitQuota, st0},
		{"shorter than the warning: warned at the start", 0, d(30 * time.Second), time.Time{}, st0.Add(30 * time.Second), latchkey.LimitQuota, st0},
	} {
		a := latchkey.SessionAllowance(st0, c.max, c.quota, c.next, warn)
		if !a.Ends.Equal(c.ends) || a.Reason != c.reason || !a.WarnAt.Equal(c.warnAt) {
			t.Errorf("%s: %+v; want ends %s (%s), warn at %s", c.name, a, c.ends, c.reason, c.warnAt)
		}
	}
}

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

func TestDecideJournalEntry(t *testing.T) {
	d := func(x time.Duration) *time.Duration { return &x }
	for _, c := range []struct {
		name    string
		e       latchkey.JournalEntryCheck
		verdict latchkey.JournalVerdict
		reason  string
	}{
		{"ended: ok, whatever else", latchkey.JournalEntryCheck{Ended: true, IdentityValid: false, QuotaLeft: d(-time.Hour)}, latchkey.VerdictOK, ""},
		{"running, valid, within quota", latchkey.JournalEntryCheck{IdentityValid: true, QuotaLeft: d(time.Minute)}, latchkey.VerdictOK, ""},
		{"running, no quota", latchkey.JournalEntryCheck{IdentityValid: true}, latchkey.VerdictOK, ""},
		{"running, invalid identity: logged off at once", latchkey.JournalEntryCheck{IdentityValid: false, QuotaLeft: d(time.Hour)}, latchkey.VerdictLogoff, ""},
		{"running, over quota: warned, then logged off", latchkey.JournalEntryCheck{IdentityValid: true, QuotaLeft: d(0)}, latchkey.VerdictWarnThenLogoff, "quota_exceeded"},
		{"running, quota just left", latchkey.JournalEntryCheck{IdentityValid: true, QuotaLeft: d(time.Second)}, latchkey.VerdictOK, ""},
		{"running, another's reservation holds the terminal", latchkey.JournalEntryCheck{IdentityValid: true, Reserved: true}, latchkey.VerdictWarnThenLogoff, "reservation"},
		{"running, past the maximum duration", latchkey.JournalEntryCheck{IdentityValid: true, OverMax: true}, latchkey.VerdictWarnThenLogoff, "max_session"},
		{"running, unlocked elsewhere: off at once", latchkey.JournalEntryCheck{IdentityValid: true, Concurrent: true, Reserved: true}, latchkey.VerdictLogoff, "concurrent_session"},
		{"running, invalid beats everything", latchkey.JournalEntryCheck{Concurrent: true, Reserved: true, OverMax: true}, latchkey.VerdictLogoff, "invalid_identity"},
		{"ended, clashing with a reservation: ok", latchkey.JournalEntryCheck{Ended: true, IdentityValid: true, Reserved: true, OverMax: true}, latchkey.VerdictOK, ""},
		{"running, unchecked: off at once, saying so", latchkey.JournalEntryCheck{IdentityReason: latchkey.JournalUnchecked, QuotaLeft: d(0)}, latchkey.VerdictLogoff, "unchecked"},
	} {
		v, why := latchkey.DecideJournalEntry(c.e)
		if v != c.verdict || (c.reason != "" && why != c.reason) {
			t.Errorf("%s: %s (%s), want %s (%s)", c.name, v, why, c.verdict, c.reason)
		}
	}
}

func TestQuotaUsed(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no tzdata")
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, loc)
	start, end := latchkey.QuotaDay(now, loc)
	if !start.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, loc)) || end.Sub(start) != 24*time.Hour {
		t.Fatalf("day %s – %s", start, end)
	}
	sessions := [][2]time.Time{
		{start.Add(-30 * time.Minute), start.Add(30 * time.Minute)}, // across midnight: 30 minutes count
		{start.Add(2 * time.Hour), start.Add(3 * time.Hour)},        // 60
		{now.Add(-15 * time.Minute), {}},                            // running: 15 so far
		{end.Add(time.Hour), end.Add(2 * time.Hour)},                // another day
	}
	if got := latchkey.QuotaUsed(sessions, start, end, now); got != 105*time.Minute {
		t.Fatalf("used %s, want 1h45m", got)
	}
}

func TestValidateReservation(t *testing.T) {
	other := latchkey.Reservation{ID: "r0", Start: st0.Add(time.Hour), Minutes: 60}
	for _, c := range []struct {
		name string
		r    latchkey.Reservation
		code string
	}{
		{"free slot", latchkey.Reservation{Start: st0, Minutes: 60}, ""},
		{"ends where the other starts", latchkey.Reservation{Start: st0.Add(30 * time.Minute), Minutes: 30}, ""},
		{"starts where the other ends", latchkey.Reservation{Start: st0.Add(2 * time.Hour), Minutes: 30}, ""},
		{"overlaps the start", latchkey.Reservation{Start: st0.Add(50 * time.Minute), Minutes: 20}, latchkey.ECONFLICT},
		{"inside", latchkey.Reservation{Start: st0.Add(70 * time.Minute), Minutes: 5}, latchkey.ECONFLICT},
		{"already running, ends later: allowed", latchkey.Reservation{Start: st0.Add(-10 * time.Minute), Minutes: 20}, ""},
		{"ended", latchkey.Reservation{Start: st0.Add(-time.Hour), Minutes: 60}, latchkey.EBADREQUEST},
		{"no minutes", latchkey.Reservation{Start: st0, Minutes: 0}, latchkey.EBADREQUEST},
		{"too long", latchkey.Reservation{Start: st0, Minutes: latchkey.MaxReservationMinutes + 1}, latchkey.EBADREQUEST},
		{"no start", latchkey.Reservation{Minutes: 5}, latchkey.EBADREQUEST},
	} {
		if err := latchkey.ValidateReservation(c.r, []latchkey.Reservation{other}, st0); latchkey.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %q", c.name, err, c.code)
		}
	}
}
