package latchkey_test

import (
	"reflect"
	"testing"
	"time"

	"latchkey"
)

func TestDefaultAttemptPolicy(t *testing.T) {
	t.Parallel()
	// API.md: "5 in a row (configurable) lock the identity for 15 minutes".
	if p := latchkey.DefaultAttemptPolicy; p.MaxFailures != 5 || p.LockoutDuration != 15*time.Minute ||
		p.StaffBackoffBase != time.Second || p.StaffBackoffMax != time.Minute {
		t.Fatalf("DefaultAttemptPolicy = %+v, want 5 failures / 15m, staff 1s..1m", p)
	}
}

func TestCheckCredentials(t *testing.T) {
	t.Parallel()
	pol := latchkey.DefaultAttemptPolicy
	now := t0
	nowCET := t0.In(cet)
	lockedUntil := now.Add(10 * time.Minute)
	lapsed := now.Add(-time.Minute)

	var (
		known    = latchkey.CredentialCheck{Known: true, PasswordOK: true}
		wrong    = latchkey.CredentialCheck{Known: true, PasswordOK: false}
		disOK    = latchkey.CredentialCheck{Known: true, PasswordOK: true, Disabled: true}
		disWrong = latchkey.CredentialCheck{Known: true, PasswordOK: false, Disabled: true}
		unknown  = latchkey.CredentialCheck{Known: false}
		// An admin's or delegate's identity.
		staffOK    = latchkey.CredentialCheck{Known: true, PasswordOK: true, Staff: true}
		staffWrong = latchkey.CredentialCheck{Known: true, PasswordOK: false, Staff: true}
	)
	st := func(n int, until *time.Time) latchkey.AttemptState {
		return latchkey.AttemptState{Failures: n, LockedUntil: until}
	}
	cases := []struct {
		name        string
		st          latchkey.AttemptState
		c           latchkey.CredentialCheck
		now         time.Time
		p           latchkey.AttemptPolicy
		wantCode    string
		wantReason  string
		wantState   latchkey.AttemptState
		wantChanged bool
		wantUntil   *time.Time // details.until for account_locked
	}{
		// Unknown identity.
		{name: "unknown", st: st(0, nil), c: unknown, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(0, nil)},
		{name: "unknown, state unchanged", st: st(2, nil), c: unknown, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(2, nil)},
		{name: "unknown with 'password ok' is still refused", st: st(0, nil),
			c: latchkey.CredentialCheck{Known: false, PasswordOK: true}, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(0, nil)},

		// Wrong password counts up.
		{name: "wrong, first", st: st(0, nil), c: wrong, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(1, nil), wantChanged: true},
		{name: "wrong, fourth", st: st(3, nil), c: wrong, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(4, nil), wantChanged: true},
		{name: "wrong, fifth locks", st: st(4, nil), c: wrong, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(0, ptr(now.Add(15*time.Minute))), wantChanged: true, wantUntil: ptr(now.Add(15 * time.Minute))},
		{name: "wrong, fifth locks, non-UTC now gives UTC until", st: st(4, nil), c: wrong, now: nowCET, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(0, ptr(now.Add(15*time.Minute))), wantChanged: true, wantUntil: ptr(now.Add(15 * time.Minute))},
		{name: "custom policy: third of 3 locks for 1h", st: st(2, nil), c: wrong, now: now,
			p:        latchkey.AttemptPolicy{MaxFailures: 3, LockoutDuration: time.Hour},
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(0, ptr(now.Add(time.Hour))), wantChanged: true, wantUntil: ptr(now.Add(time.Hour))},
		{name: "custom policy: second of 3 does not lock", st: st(1, nil), c: wrong, now: now,
			p:        latchkey.AttemptPolicy{MaxFailures: 3, LockoutDuration: time.Hour},
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(2, nil), wantChanged: true},
		{name: "MaxFailures 0 never locks", st: st(100, nil), c: wrong, now: now,
			p:        latchkey.AttemptPolicy{MaxFailures: 0, LockoutDuration: time.Hour},
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(101, nil), wantChanged: true},

		// While locked.
		{name: "locked, right password", st: st(0, &lockedUntil), c: known, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAccountLocked,
			wantState: st(0, &lockedUntil), wantUntil: &lockedUntil},
		{name: "locked, wrong password not counted", st: st(0, &lockedUntil), c: wrong, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAccountLocked,
			wantState: st(0, &lockedUntil), wantUntil: &lockedUntil},
		{name: "locked, disabled", st: st(0, &lockedUntil), c: disOK, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAccountLocked,
			wantState: st(0, &lockedUntil), wantUntil: &lockedUntil},
		{name: "locked, stored until in a non-UTC zone: details.until in UTC", st: st(0, ptr(lockedUntil.In(cet))), c: known, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAccountLocked,
			wantState: st(0, &lockedUntil), wantUntil: &lockedUntil},
		{name: "locked, 1ns before the end", st: st(0, &lockedUntil), c: known, now: lockedUntil.Add(-time.Nanosecond), p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAccountLocked,
			wantState: st(0, &lockedUntil), wantUntil: &lockedUntil},

		// After the lockout lapses.
		{name: "lapsed exactly at until, right password succeeds and clears", st: st(0, &lockedUntil), c: known, now: lockedUntil, p: pol,
			wantState: st(0, nil), wantChanged: true},
		{name: "lapsed, right password succeeds and clears", st: st(0, &lapsed), c: known, now: now, p: pol,
			wantState: st(0, nil), wantChanged: true},
		{name: "lapsed with stale failures, right password clears", st: st(3, &lapsed), c: known, now: now, p: pol,
			wantState: st(0, nil), wantChanged: true},
		{name: "lapsed, wrong password starts a fresh count", st: st(0, &lapsed), c: wrong, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials,
			wantState: st(1, nil), wantChanged: true},
		{name: "lapsed with stale failures, wrong password counts 1 not 6", st: st(5, &lapsed), c: wrong, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials,
			wantState: st(1, nil), wantChanged: true},
		{name: "lapsed, disabled + right password: account_disabled", st: st(0, &lapsed), c: disOK, now: now, p: pol,
			wantCode: latchkey.EACCOUNTDISABLED, wantReason: latchkey.ReasonAccountDisabled,
			wantState: st(0, nil), wantChanged: true},

		// Disabled principal.
		{name: "disabled + right password", st: st(0, nil), c: disOK, now: now, p: pol,
			wantCode: latchkey.EACCOUNTDISABLED, wantReason: latchkey.ReasonAccountDisabled, wantState: st(0, nil)},
		{name: "disabled + right password, failures neither counted nor cleared", st: st(3, nil), c: disOK, now: now, p: pol,
			wantCode: latchkey.EACCOUNTDISABLED, wantReason: latchkey.ReasonAccountDisabled, wantState: st(3, nil)},
		{name: "disabled + wrong password: invalid_credentials and counted", st: st(1, nil), c: disWrong, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(2, nil), wantChanged: true},
		{name: "disabled + fifth wrong password locks", st: st(4, nil), c: disWrong, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(0, ptr(now.Add(15*time.Minute))), wantChanged: true, wantUntil: ptr(now.Add(15 * time.Minute))},

		// Staff back off instead of a 15-minute lock.
		{name: "staff, fifth wrong locks for the base only", st: st(4, nil), c: staffWrong, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(5, ptr(now.Add(time.Second))), wantChanged: true, wantUntil: ptr(now.Add(time.Second))},
		{name: "staff, lapsed, wrong again: twice as long, the count kept", st: st(5, &lapsed), c: staffWrong, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(6, ptr(now.Add(2*time.Second))), wantChanged: true, wantUntil: ptr(now.Add(2 * time.Second))},
		{name: "staff, lapsed, ninth wrong: 16 s", st: st(8, &lapsed), c: staffWrong, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(9, ptr(now.Add(16*time.Second))), wantChanged: true, wantUntil: ptr(now.Add(16 * time.Second))},
		{name: "staff, many lapsed locks: capped at the maximum", st: st(40, &lapsed), c: staffWrong, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(41, ptr(now.Add(time.Minute))), wantChanged: true, wantUntil: ptr(now.Add(time.Minute))},
		{name: "staff, locked: refused before the password counts", st: st(6, &lockedUntil), c: staffWrong, now: now, p: pol,
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAccountLocked,
			wantState: st(6, &lockedUntil), wantUntil: &lockedUntil},
		{name: "staff, lapsed, right password clears the count", st: st(9, &lapsed), c: staffOK, now: now, p: pol,
			wantState: st(0, nil), wantChanged: true},
		{name: "staff, fourth wrong does not lock", st: st(3, nil), c: staffWrong, now: now, p: pol,
			wantCode: latchkey.EINVALIDCREDENTIALS, wantReason: latchkey.ReasonInvalidCredentials, wantState: st(4, nil), wantChanged: true},
		{name: "staff under a policy without back-off: the full lockout", st: st(4, nil), c: staffWrong, now: now,
			p:        latchkey.AttemptPolicy{MaxFailures: 5, LockoutDuration: 15 * time.Minute},
			wantCode: latchkey.EACCOUNTLOCKED, wantReason: latchkey.ReasonAttemptsExceeded,
			wantState: st(0, ptr(now.Add(15*time.Minute))), wantChanged: true, wantUntil: ptr(now.Add(15 * time.Minute))},

		// Success.
		{name: "success, clean state: nothing to store", st: st(0, nil), c: known, now: now, p: pol,
			wantState: st(0, nil)},
		{name: "success clears failures", st: st(3, nil), c: known, now: now, p: pol,
			wantState: st(0, nil), wantChanged: true},
		{name: "success clears four failures", st: st(4, nil), c: known, now: now, p: pol,
			wantState: st(0, nil), wantChanged: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := c.st
			o := latchkey.CheckCredentials(c.st, c.c, c.now, c.p)
			wantCode(t, o.Err, c.wantCode)
			if o.Reason != c.wantReason {
				t.Fatalf("Reason = %q, want %q", o.Reason, c.wantReason)
			}
			if o.Changed != c.wantChanged {
				t.Fatalf("Changed = %v, want %v", o.Changed, c.wantChanged)
			}
			if o.State.Failures != c.wantState.Failures ||
				(o.State.LockedUntil == nil) != (c.wantState.LockedUntil == nil) ||
				(o.State.LockedUntil != nil && !o.State.LockedUntil.Equal(*c.wantState.LockedUntil)) {
				t.Fatalf("State = {%d %v}, want {%d %v}", o.State.Failures, o.State.LockedUntil,
					c.wantState.Failures, c.wantState.LockedUntil)
			}
			if !o.Changed && !reflect.DeepEqual(o.State, in) {
				t.Fatalf("Changed is false but State %+v differs from the input %+v", o.State, in)
			}
			if c.wantUntil != nil {
				u, ok := detail(t, o.Err, "until").(time.Time)
				if !ok {
					t.Fatalf("details.until is %T, want time.Time", detail(t, o.Err, "until"))
				}
				if !u.Equal(*c.wantUntil) || u.Location() != time.UTC {
					t.Fatalf("details.until = %v, want %v in UTC", u, c.wantUntil)
				}
				if o.Changed && o.State.LockedUntil != nil && o.State.LockedUntil.Location() != time.UTC {
					t.Fatalf("State.LockedUntil = %v, want UTC", o.State.LockedUntil)
				}
			}
		})
	}
}

// A whole sequence through one identity's counter, as the store would run it.
func TestCheckCredentialsSequence(t *testing.T) {
	t.Parallel()
	pol := latchkey.DefaultAttemptPolicy
	var st latchkey.AttemptState
	now := t0
	step := func(name string, pwOK bool, wantCode, wantReason string) {
		t.Helper()
		o := latchkey.CheckCredentials(st, latchkey.CredentialCheck{Known: true, PasswordOK: pwOK}, now, pol)
		if latchkey.ErrorCode(o.Err) != wantCode || o.Reason != wantReason {
			t.Fatalf("%s: got %q/%q, want %q/%q (state %+v)", name, latchkey.ErrorCode(o.Err), o.Reason, wantCode, wantReason, st)
		}
		if o.Changed {
			st = o.State
		}
		now = now.Add(time.Second)
	}
	for i := 1; i <= 4; i++ {
		step("wrong "+string(rune('0'+i)), false, latchkey.EINVALIDCREDENTIALS, latchkey.ReasonInvalidCredentials)
	}
	if st.Failures != 4 {
		t.Fatalf("after 4 wrong: %+v", st)
	}
	step("wrong 5", false, latchkey.EACCOUNTLOCKED, latchkey.ReasonAttemptsExceeded)
	if st.LockedUntil == nil {
		t.Fatal("not locked after 5 wrong")
	}
	until := *st.LockedUntil
	step("right while locked", true, latchkey.EACCOUNTLOCKED, latchkey.ReasonAccountLocked)
	step("wrong while locked", false, latchkey.EACCOUNTLOCKED, latchkey.ReasonAccountLocked)
	if st.LockedUntil == nil || !st.LockedUntil.Equal(until) {
		t.Fatalf("lockout extended or cleared while locked: %+v", st)
	}
	now = until // lapsed
	step("wrong after lapse", false, latchkey.EINVALIDCREDENTIALS, latchkey.ReasonInvalidCredentials)
	if st.Failures != 1 || st.LockedUntil != nil {
		t.Fatalf("after lapse + wrong: %+v, want a fresh count of 1", st)
	}
	for i := 2; i <= 4; i++ {
		step("wrong again", false, latchkey.EINVALIDCREDENTIALS, latchkey.ReasonInvalidCredentials)
	}
	step("right clears", true, "", "")
	if st.Failures != 0 || st.LockedUntil != nil {
		t.Fatalf("after success: %+v", st)
	}
	for i := 1; i <= 4; i++ {
		step("wrong after success", false, latchkey.EINVALIDCREDENTIALS, latchkey.ReasonInvalidCredentials)
	}
	step("fifth in a row after success locks again", false, latchkey.EACCOUNTLOCKED, latchkey.ReasonAttemptsExceeded)
}
