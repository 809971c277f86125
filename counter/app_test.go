package counter

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
)

// run drives an App through the tests' events.
type run struct {
	t     *testing.T
	a     App
	calls []Call // the calls of the last step
}

func newRun(t *testing.T, cfg Config) *run {
	cfg.Loc = time.UTC
	return &run{t: t, a: New(cfg, t0)}
}

func (r *run) at(d time.Duration) time.Time { return r.a.Now.Add(d) }

// keys types each key, a step each; a word in quotes is typed a rune at
// a time.
func (r *run) keys(ks ...string) *run {
	r.t.Helper()
	r.calls = nil
	for _, k := range ks {
		if len([]rune(k)) > 1 && !named[k] {
			for _, c := range k {
				r.a, _ = r.a.Update(Event{Key: string(c), Now: r.a.Now})
			}
			continue
		}
		var cs []Call
		r.a, cs = r.a.Update(Event{Key: k, Now: r.a.Now})
		r.calls = append(r.calls, cs...)
	}
	return r
}

var named = map[string]bool{"enter": true, "tab": true, "esc": true, "backspace": true, "f12": true}

func (r *run) reply(c Call, st *agent.Status, ref *Refusal) *run {
	r.calls = nil
	r.a, r.calls = r.a.Update(Event{Reply: &Reply{Call: c, Status: st, Refusal: ref}, Now: r.a.Now})
	return r
}

func (r *run) tick(d time.Duration) *run {
	r.calls = nil
	r.a, r.calls = r.a.Update(Event{Now: r.a.Now.Add(d)})
	return r
}

// want checks the calls of the last step.
func (r *run) want(calls ...Call) *run {
	r.t.Helper()
	if len(calls) == 0 {
		calls = nil
	}
	if !reflect.DeepEqual(r.calls, calls) {
		r.t.Fatalf("calls %+v, want %+v", r.calls, calls)
	}
	return r
}

// sees checks that the screen shows each text.
func (r *run) sees(texts ...string) *run {
	r.t.Helper()
	screen := strings.Join(r.a.View(80), "\n")
	for _, s := range texts {
		if !strings.Contains(screen, s) {
			r.t.Fatalf("the screen does not show %q:\n%s", s, screen)
		}
	}
	return r
}

func online(identity string, locked bool) *agent.Status {
	s := &agent.SessionStatus{ID: "ses_1", Identity: identity, StartedAt: t0}
	if locked {
		at := t0
		s.LockedAt = &at
	}
	return &agent.Status{Mode: agent.ModeOnline, Session: s}
}

var (
	clerk   = Config{Mode: ModeServeCustomer, Clerk: Clerk{Transactions: true}}
	login   = Call{Op: OpLogin, Identity: "alice", Password: "pw-a"}
	lockMan = Call{Op: OpLock, Reason: agent.LockManual}
	unlock  = Call{Op: OpUnlock, Password: "pw-a"}
)

// logOn types the log-on form and takes the agent's yes.
func (r *run) logOn() *run {
	r.t.Helper()
	r.keys("alice", "enter", "pw-a", "enter").want(login)
	return r.reply(login, online("alice", false), nil).want()
}

func TestLogOnAndTheServeScreen(t *testing.T) {
	r := newRun(t, clerk)
	r.sees("Log on", "Login ID: _", "nobody logged on", "[enter] log on")
	r.keys("alice", "enter", "pw-a").sees("Login ID: alice", "Password: ****_")
	r.keys("enter").want(login).sees("Please wait")
	r.keys("x").want() // keys wait while a call is out
	r.reply(login, online("alice", false), nil).sees("alice · ONLINE", "Menu: choose a transaction", "[F12] Lock")
	if r.a.Phase != PhaseServing || r.a.Password != "" {
		t.Fatalf("after the log-on: phase %v, password kept %q", r.a.Phase, r.a.Password)
	}
}

func TestLogOnRefusedWithConcurrentSessions(t *testing.T) {
	r := newRun(t, clerk)
	r.keys("alice", "enter", "pw-a", "enter")
	other := latchkey.SessionRef{ID: "ses_0", TerminalID: "term_3", StartedAt: t0.Add(-time.Hour)}
	r.reply(login, nil, &Refusal{Code: "concurrent_session", Details: RefusalDetails{Sessions: []latchkey.SessionRef{other}}})
	r.sees("You are logged on at term_3 (since 09:00), not locked. Please return and lock", "the previous session or remotely terminate it",
		"[r] Retry", "[e] End them", "[c] Cancel")
	if r.a.Password != "" {
		t.Fatal("the password stays on the form after a refusal")
	}
	r.keys("r").want(login) // locked them there: the same log-on again
	r.reply(login, nil, &Refusal{Code: "concurrent_session"})
	r.keys("e").want().sees("End your other sessions?", "[y] Yes, end them")
	force := login
	force.Force = true
	r.keys("y").want(force)
	r.reply(force, online("alice", false), nil).sees("Menu")
}

func TestTheLockButtonAndItsOptions(t *testing.T) {
	r := newRun(t, clerk).logOn()
	// On the menu: all three options.
	r.keys("f12").sees("[l] Lock", "[s] Suspend", "[r] Resume")
	if *r.a.Menu != (Options{Suspend: true, Resume: true, Lock: true}) {
		t.Fatalf("menu options %+v", *r.a.Menu)
	}
	r.keys("esc")
	// In a transaction with items: Suspend and Lock.
	r.keys("1", "a").keys("f12").sees("[r] Resume (not available)")
	r.keys("r").want()
	if r.a.Menu == nil {
		t.Fatal("a disabled option closed the box")
	}
	r.keys("s")
	if r.a.Suspended == nil || r.a.Screen.Transaction != nil {
		t.Fatal("suspend did not put the transaction aside")
	}
	r.keys("f12", "r")
	if r.a.Screen.Transaction == nil || len(r.a.Screen.Transaction.Basket) != 1 {
		t.Fatal("resume did not bring it back")
	}
	// A transient box disables the button.
	r.keys("p").sees("Printing…", "(Lock unavailable while a message shows)")
	r.keys("f12")
	if r.a.Menu != nil {
		t.Fatal("the lock box opened while printing")
	}
	r.tick(transientFor).sees("[F12] Lock")
	r.keys("f12")
	if r.a.Menu == nil {
		t.Fatal("the lock box did not open once the printing went away")
	}
	// Not serve-customer mode: Lock only.
	r2 := newRun(t, Config{Mode: ModeBackOffice, Clerk: Clerk{Transactions: true}}).logOn()
	r2.keys("f12")
	if *r2.a.Menu != (Options{Lock: true}) {
		t.Fatalf("back office: %+v", *r2.a.Menu)
	}
}

// The exact screen comes back: the transaction's third page, its basket.
func TestLockAndUnlockBringBackTheScreen(t *testing.T) {
	r := newRun(t, clerk).logOn()
	r.keys("2", "a", "a", "n", "n").sees("Bill payment — page 3", "Total")
	lockIn := Call{Op: OpLock, Reason: agent.LockManual, InTransaction: true}
	r.keys("f12", "l").want(lockIn)
	r.reply(lockIn, online("alice", true), nil).sees("THIS COUNTER IS LOCKED", "Locked by alice",
		"The Bill payment transaction in progress is paused: it comes back as it was.")
	r.keys("pw-a", "enter").want(unlock)
	r.reply(unlock, online("alice", false), nil).sees("Bill payment — page 3")
	if t2 := r.a.Screen.Transaction; t2 == nil || t2.Page != 2 || len(t2.Basket) != 2 {
		t.Fatalf("after unlock: %+v", r.a.Screen.Transaction)
	}
}

// EUM-CE-CL-30: a site that wants transactions completed first refuses
// the lock; the counter says so and stays on the transaction, unlocked;
// suspended, the lock goes through without a transaction.
func TestLockRefusedUntilTheTransactionIsCompleted(t *testing.T) {
	r := newRun(t, clerk).logOn()
	r.keys("2", "a", "n")
	lockIn := Call{Op: OpLock, Reason: agent.LockManual, InTransaction: true}
	r.keys("f12", "l").want(lockIn)
	r.reply(lockIn, nil, &Refusal{Code: "conflict", Details: RefusalDetails{Transaction: "must_complete"}})
	r.sees("Complete the transaction first", "This transaction must be completed before the counter is locked", "[o] OK")
	r.keys("enter")
	if r.a.Phase != PhaseServing || r.a.Screen.Transaction == nil || r.a.Screen.Transaction.Page != 1 {
		t.Fatalf("after the refusal: phase %v, %+v", r.a.Phase, r.a.Screen.Transaction)
	}
	r.keys("f12", "s")
	r.keys("f12", "l").want(lockMan)
}

func TestUnlockRefusals(t *testing.T) {
	r := newRun(t, clerk).logOn()
	r.keys("f12", "l").reply(lockMan, online("alice", true), nil)
	// The network is down: no options, the counter stays locked.
	r.keys("pw-a", "enter").reply(unlock, nil, &Refusal{Code: "unavailable", Details: RefusalDetails{Offline: true}})
	r.sees("The data centre cannot be reached, so the counter cannot be unlocked now.", "[o] OK")
	r.keys("enter").want()
	if r.a.Phase != PhaseLocked {
		t.Fatal("a failed unlock unlocked")
	}
	// Another counter unlocked: end it, after a confirmation.
	other := latchkey.SessionRef{ID: "ses_0", TerminalID: "term_3", StartedAt: t0}
	r.keys("pw-a", "enter").reply(unlock, nil, &Refusal{Code: "concurrent_session", Details: RefusalDetails{Sessions: []latchkey.SessionRef{other}}})
	r.sees("You are also logged on at term_3 (since 10:00)", "[e] End them")
	force := unlock
	force.Force = true
	r.keys("e", "y").want(force)
	r.reply(force, online("alice", false), nil)
	if r.a.Phase != PhaseServing {
		t.Fatal("not unlocked after ending the other session")
	}
}

func TestManualLockWithTheServerAway(t *testing.T) {
	r := newRun(t, clerk).logOn()
	r.keys("f12", "l").reply(lockMan, nil, &Refusal{Code: "conflict", Details: RefusalDetails{Offline: true}})
	r.sees("The lock could not be registered", "other counters will see your session as unlocked", "[l] Lock anyway", "[t] Try again", "[n] Do not lock",
		"STANDALONE") // an offline refusal: the header says so at once
	anyway := lockMan
	anyway.Choice = agent.ChoiceLockAnyway
	r.keys("l").want(anyway)
	st := online("alice", true)
	st.Mode, st.Session.LockedOffline = agent.ModeStandalone, true
	r.reply(anyway, st, nil).sees("STANDALONE", "THIS COUNTER IS LOCKED", "The data centre was not told of this lock")
}

func TestInactivityLockIsSilent(t *testing.T) {
	cfg := clerk
	cfg.InactivityLock = 5 * time.Minute
	r := newRun(t, cfg).logOn()
	r.tick(4 * time.Minute).want(Call{Op: OpStatus}) // how things stand, now and then
	r.tick(time.Second).want()
	inactivity := Call{Op: OpLock, Reason: agent.LockInactivity}
	r.tick(time.Minute - time.Second).want(inactivity)
	anyway := inactivity
	anyway.Choice = agent.ChoiceLockAnyway
	r.reply(inactivity, nil, &Refusal{Code: "conflict", Details: RefusalDetails{Offline: true}}).want(anyway)
	if r.a.Box != nil {
		t.Fatalf("an inactivity lock asked: %+v", r.a.Box)
	}
	r.reply(anyway, online("alice", true), nil).sees("THIS COUNTER IS LOCKED")
}

func TestActivityIsReported(t *testing.T) {
	r := newRun(t, clerk).logOn()
	r.keys("1").want(Call{Op: OpTouch})
	r.keys("a").want() // within a second: not again
	r.a.Now = r.at(time.Second)
	r.keys("a").want(Call{Op: OpTouch})
	r.reply(Call{Op: OpTouch}, nil, &Refusal{Code: "conflict"}).want()
	if r.a.Box != nil {
		t.Fatal("a refused touch showed a message")
	}
}

func TestLogOnNotice(t *testing.T) {
	r := newRun(t, clerk)
	r.keys("alice", "enter", "pw-a", "enter")
	st := online("alice", false)
	st.Notices = []latchkey.Notice{{Code: latchkey.NoticeInUseOtherBranch, Sessions: []latchkey.SessionRef{{ID: "ses_far", TerminalID: "term_far", StartedAt: t0}}}}
	r.reply(login, st, nil).sees("In use at another branch", "Your identity is also in use at another branch: at term_far (since 10:00).")
	r.keys("enter").sees("Menu")
	if r.a.Box != nil {
		t.Fatal("the notice stayed")
	}
}

func TestTheScreenFitsIn80By24(t *testing.T) {
	r := newRun(t, clerk).logOn()
	r.keys("1", "a", "a", "a", "n", "f12")
	st := online("alice", false)
	st.Warning = &agent.Warning{Reason: "quota", SecondsLeft: 75}
	r.a.Status = st
	lines := r.a.View(80)
	r.sees("WARNING: your time for today is used up in 1:15: this session ends then.")
	if len(lines) > 24 {
		t.Fatalf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 80 {
			t.Fatalf("a line of %d columns: %q", n, l)
		}
	}
}

// The agent's status is followed: a session in progress is taken up when
// the app starts, locked or not; a session the agent ended ends the
// app's, saying why.
func TestFollowsTheAgent(t *testing.T) {
	r := newRun(t, clerk)
	r.tick(0).want(Call{Op: OpStatus})
	r.reply(Call{Op: OpStatus}, online("alice", true), nil)
	if r.a.Phase != PhaseLocked {
		t.Fatalf("a locked session at start: phase %v", r.a.Phase)
	}
	r.keys("pw-a", "enter").reply(unlock, online("alice", false), nil)
	r.tick(statusEvery).want(Call{Op: OpStatus})
	ended := &agent.Status{Mode: agent.ModeStandalone, LastEnded: &agent.EndedSession{ID: "ses_1", Identity: "alice", Reason: "quota"}}
	r.reply(Call{Op: OpStatus}, ended, nil).sees("Your session has ended", "Your session is being ended: your time for today is used up.", "STANDALONE")
	if r.a.Phase != PhaseLogOn {
		t.Fatalf("after the agent ended the session: phase %v", r.a.Phase)
	}
}

func TestEndedWords(t *testing.T) {
	for reason, want := range map[string]string{
		"quota":            "Your session is being ended: your time for today is used up.",
		"max_session":      "Your session is being ended: it reached the longest time allowed at this site.",
		"reservation":      "Your session is being ended: this terminal is reserved for someone else now.",
		"forced_timeout":   "Your session was ended: it was not used for too long.",
		"forced":           "Your session was ended from another counter.",
		"failed":           "Your session was ended from another counter.",
		"terminal_cleanup": "Your session was ended by a new log-on at this counter.",
		"something":        "Your session was ended (something).",
		"quota_exceeded":   "Your session is being ended: your time for today is used up.",
		"invalid_identity": "Your session is being ended: the data centre did not accept the login ID or password it was started with.",
		"unchecked":        "Your session is being ended: the data centre cannot tell who started it while it could not be reached.",
		"not_allowed":      "Your session is being ended: this site does not allow logging on while the data centre cannot be reached.",
		"concurrent_session": "Your session is being ended: you were also logged on, not locked, at another counter while the data " +
			"centre could not be reached.",
		"logoff": "Your session is being ended by the data centre.",
	} {
		if got := EndedWords(reason); got != want {
			t.Errorf("%s: %q, want %q", reason, got, want)
		}
	}
}

// EUM-CE-CL-90/100: the forced timeout's warning is shown over the lock
// screen (saying to unlock), and its end is said after it, over the log-on
// form.
func TestForcedTimeoutOverTheLockScreen(t *testing.T) {
	r := newRun(t, clerk)
	r.tick(0).want(Call{Op: OpStatus})
	r.reply(Call{Op: OpStatus}, online("alice", true), nil)
	warned := online("alice", true)
	warned.Warning = &agent.Warning{Reason: agent.ReasonForcedTimeout, SecondsLeft: 42}
	r.tick(statusEvery).want(Call{Op: OpStatus})
	r.reply(Call{Op: OpStatus}, warned, nil).sees("THIS COUNTER IS LOCKED", "WARNING: your session is about to expire",
		"ends in 0:42 unless you unlock the counter to keep it.")
	r.tick(statusEvery).want(Call{Op: OpStatus})
	ended := &agent.Status{Mode: agent.ModeOnline, LastEnded: &agent.EndedSession{ID: "ses_1", Identity: "alice", Reason: "forced_timeout"}}
	r.reply(Call{Op: OpStatus}, ended, nil).sees("Your session has ended", "Your session was ended: it was not used for too long.", "Log on")
}

// Standalone, the log-on screen says who can log on until the data centre
// is reached (the site's standalone rules, from the agent's policy).
func TestStandaloneSaysWhoCanLogOn(t *testing.T) {
	r := newRun(t, clerk)
	r.tick(0).want(Call{Op: OpStatus})
	r.reply(Call{Op: OpStatus}, &agent.Status{Mode: agent.ModeStandalone, OfflineLogon: agent.OfflineLogonAdminsOnly}, nil).
		sees("nobody logged on · STANDALONE", "The data centre cannot be reached. Only administrators can log on until it is", "Log on")
	r.tick(statusEvery).want(Call{Op: OpStatus})
	r.reply(Call{Op: OpStatus}, &agent.Status{Mode: agent.ModeOnline, OfflineLogon: agent.OfflineLogonAdminsOnly}, nil)
	if strings.Contains(strings.Join(r.a.View(80), "\n"), "Only administrators") {
		t.Fatal("online, the standalone rules are still shown")
	}
}
