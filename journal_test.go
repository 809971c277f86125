package latchkey_test

import (
	"slices"
	"testing"
	"time"

	"latchkey"
)

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

func TestValidateJournal(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	ok := latchkey.JournalEntry{ID: "ses_1", Identity: "alice", StartedAt: now.Add(-time.Hour), Standalone: true}
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	if err := latchkey.ValidateJournal([]latchkey.JournalEntry{ok}, now); err != nil {
		t.Fatalf("a good entry: %v", err)
	}
	for name, c := range map[string]struct {
		edit  func(*latchkey.JournalEntry)
		field string
	}{
		"no id":              {func(e *latchkey.JournalEntry) { e.ID = "" }, "entries[0].id"},
		"id with a slash":    {func(e *latchkey.JournalEntry) { e.ID = "a/b" }, "entries[0].id"},
		"no identity":        {func(e *latchkey.JournalEntry) { e.Identity = "" }, "entries[0].identity"},
		"no start":           {func(e *latchkey.JournalEntry) { e.StartedAt = time.Time{} }, "entries[0].started_at"},
		"start in future":    {func(e *latchkey.JournalEntry) { e.StartedAt = now.Add(time.Hour) }, "entries[0].started_at"},
		"end before start":   {func(e *latchkey.JournalEntry) { e.EndedAt = at(-2 * time.Hour) }, "entries[0].ended_at"},
		"end in the future":  {func(e *latchkey.JournalEntry) { e.EndedAt = at(time.Hour) }, "entries[0].ended_at"},
		"bad session":        {func(e *latchkey.JournalEntry) { e.Session = "x y" }, "entries[0].session"},
		"oversized password": {func(e *latchkey.JournalEntry) { e.Password = string(make([]byte, 2000)) }, "entries[0].password"},
	} {
		e := ok
		c.edit(&e)
		err := latchkey.ValidateJournal([]latchkey.JournalEntry{e}, now)
		if latchkey.ErrorCode(err) != latchkey.EBADREQUEST || latchkey.ErrorDetails(err)["field"] != c.field {
			t.Errorf("%s: %v (%v), want bad_request on %s", name, err, latchkey.ErrorDetails(err), c.field)
		}
	}
	if err := latchkey.ValidateJournal([]latchkey.JournalEntry{ok, ok}, now); latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
		t.Errorf("a repeated id: %v", err)
	}
	if err := latchkey.ValidateJournal(nil, now); latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
		t.Errorf("no entries: %v", err)
	}
}

// An offline session still in progress meets, on reconnect, the rules of a
// logon at its terminal now: unlocked elsewhere (no clean-up then), another
// person's reservation, the maximum session from its start (users only).
func TestJournalSessionRules(t *testing.T) {
	t.Parallel()
	site := ccSite()
	site.MaxSessionMinutes = 60
	stale := sess("s-stale", thisTerm, "bob", false)
	stale.PrincipalID = "p-bob"
	res := &latchkey.Reservation{ID: "r1", Principal: "p-bob", Terminal: thisTerm, Start: t0.Add(-time.Minute), Minutes: 30}
	admin := user(false)
	admin.Role = latchkey.RoleAdmin
	for _, c := range []struct {
		name       string
		who        latchkey.Principal
		started    time.Time
		active     []latchkey.Session
		onTerminal *latchkey.Session
		holding    *latchkey.Reservation
		want       latchkey.JournalEntryCheck
		wantFail   []string
	}{
		{name: "nothing against it", who: user(false), started: t0.Add(-10 * time.Minute)},
		{name: "unlocked elsewhere", who: user(false), started: t0.Add(-10 * time.Minute),
			active: []latchkey.Session{sess("s-a", "term-a", "alice", false)}, want: latchkey.JournalEntryCheck{Concurrent: true}},
		{name: "locked elsewhere is fine", who: user(false), started: t0.Add(-10 * time.Minute),
			active: []latchkey.Session{sess("s-a", "term-a", "alice", true)}},
		{name: "a stale session on the terminal is cleaned up", who: user(false), started: t0.Add(-10 * time.Minute),
			onTerminal: &stale, wantFail: []string{"s-stale:terminal_cleanup"}},
		{name: "concurrent: no clean-up either", who: user(false), started: t0.Add(-10 * time.Minute), onTerminal: &stale,
			active: []latchkey.Session{sess("s-a", "term-a", "alice", false)}, want: latchkey.JournalEntryCheck{Concurrent: true}},
		{name: "another's reservation holds the terminal", who: user(false), started: t0.Add(-10 * time.Minute), holding: res,
			want: latchkey.JournalEntryCheck{Reserved: true}},
		{name: "past the maximum from its start", who: user(false), started: t0.Add(-time.Hour), want: latchkey.JournalEntryCheck{OverMax: true}},
		{name: "just within the maximum", who: user(false), started: t0.Add(-time.Hour + time.Second)},
		{name: "an admin: no maximum, no reservation", who: admin, started: t0.Add(-5 * time.Hour), holding: res},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			check, fail := latchkey.JournalSessionRules(latchkey.LoginInput{Principal: c.who, Identity: "alice", Terminal: thisTerm,
				Site: site, Now: t0, Active: c.active, OnTerminal: c.onTerminal, Holding: c.holding, Force: true}, c.started)
			if check != c.want {
				t.Fatalf("check %+v, want %+v", check, c.want)
			}
			if got := failList(fail); !slices.Equal(got, append([]string{}, c.wantFail...)) {
				t.Fatalf("fail %v, want %v", got, c.wantFail)
			}
		})
	}
}
