package counter

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
)

func TestWords(t *testing.T) {
	now := t0 // 10:00 UTC
	in := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	names := map[string]string{"term_3": "counter 3", "term_4": "counter 4"}
	two := []latchkey.SessionRef{
		{ID: "ses_a", TerminalID: "term_3", StartedAt: now.Add(-48 * time.Minute)},
		{ID: "ses_b", TerminalID: "term_4", StartedAt: now.Add(-20 * time.Minute)},
	}
	unnamed := []latchkey.SessionRef{{ID: "ses_c", TerminalID: "term_9", StartedAt: now.Add(-5 * time.Minute)}}
	for _, tc := range []struct {
		name    string
		a       Action
		r       Refusal
		text    string // the words, whole
		choices []Choice
	}{
		{"log on: concurrent sessions (EUM-CE-CL-10)", ActLogOn, Refusal{Code: "concurrent_session", Details: RefusalDetails{Sessions: two}},
			"You are logged on at counter 3 (since 09:12) and counter 4 (since 09:40), not locked. Please return and lock the previous session or remotely terminate it: lock it there and retry, or end it from here.",
			[]Choice{ChoiceRetry, ChoiceEndThem, ChoiceCancel}},
		{"log on: a terminal the app cannot name keeps its ID", ActLogOn, Refusal{Code: "concurrent_session", Details: RefusalDetails{Sessions: unnamed}},
			"You are logged on at term_9 (since 09:55), not locked. Please return and lock the previous session or remotely terminate it: lock it there and retry, or end it from here.",
			[]Choice{ChoiceRetry, ChoiceEndThem, ChoiceCancel}},
		{"log on: a terminal the app cannot name is named by the details", ActLogOn, Refusal{Code: "concurrent_session", Details: RefusalDetails{Sessions: []latchkey.SessionRef{{ID: "ses_c", TerminalID: "term_9", TerminalName: "counter 9", StartedAt: now.Add(-5 * time.Minute)}}}},
			"You are logged on at counter 9 (since 09:55), not locked. Please return and lock the previous session or remotely terminate it: lock it there and retry, or end it from here.",
			[]Choice{ChoiceRetry, ChoiceEndThem, ChoiceCancel}},
		{"unlock: another counter unlocked (2.1.1, 2)", ActUnlock, Refusal{Code: "concurrent_session", Details: RefusalDetails{Sessions: two[:1]}},
			"You are also logged on at counter 3 (since 09:12), and it is not locked. Please return and lock the previous session or remotely terminate it: end it from here to unlock this counter.",
			[]Choice{ChoiceEndThem, ChoiceCancel}},
		{"unlock: the network is down (2.1.1, 1): no options, stays locked", ActUnlock, Refusal{Code: "unavailable", Details: RefusalDetails{Offline: true}},
			"The data centre cannot be reached, so the counter cannot be unlocked now. It stays locked: try again when the network is back.",
			[]Choice{ChoiceOK}},
		{"manual lock: the network is down (2.1.1, 3): lock anyway?", ActLock, Refusal{Code: "conflict", Details: RefusalDetails{Offline: true, Choices: []string{"lock_anyway", "retry", "abandon"}}},
			"The data centre cannot be reached, so it cannot be told that this counter is locked: other counters will see your session as unlocked. Lock this counter anyway?",
			[]Choice{ChoiceLockAnyway, ChoiceTryAgain, ChoiceDontLock}},
		{"wrong password", ActLogOn, Refusal{Code: "invalid_credentials"}, "Wrong login ID or password.", []Choice{ChoiceOK}},
		{"wrong password, checked offline", ActLogOn, Refusal{Code: "invalid_credentials", Details: RefusalDetails{Offline: true}},
			"Wrong login ID or password. (The data centre cannot be reached: it was checked at this counter.)", []Choice{ChoiceOK}},
		{"locked out, with the time left", ActLogOn, Refusal{Code: "account_locked", Details: RefusalDetails{Until: in(12 * time.Minute)}},
			"Too many failed attempts: this login ID is locked until 10:12 (in 12 minutes).", []Choice{ChoiceOK}},
		{"locked out, no time known", ActUnlock, Refusal{Code: "account_locked"},
			"Too many failed attempts: this login ID is locked for now. Try again later.", []Choice{ChoiceOK}},
		{"disabled", ActLogOn, Refusal{Code: "account_disabled"}, "This account is disabled. Ask your administrator.", []Choice{ChoiceOK}},
		{"quota used up, with when it resets", ActLogOn, Refusal{Code: "quota_exceeded", Details: RefusalDetails{ResetAt: in(14 * time.Hour)}},
			"Your time at this site for today is used up. It starts again at 00:00 (in 14 hours).", []Choice{ChoiceOK}},
		{"a reservation holds the terminal", ActLogOn, Refusal{Code: "conflict", Details: RefusalDetails{Reservation: "res_1", Until: in(90 * time.Minute)}},
			"This terminal is reserved for someone else until 11:30 (in 90 minutes).", []Choice{ChoiceOK}},
		{"standalone: only administrators", ActLogOn, Refusal{Code: "forbidden", Details: RefusalDetails{Offline: true}},
			"The data centre cannot be reached and this site does not allow logging on without it: only administrators can log on now.", []Choice{ChoiceOK}},
		{"standalone: no rules yet", ActLogOn, Refusal{Code: "unavailable", Details: RefusalDetails{Offline: true}},
			"The data centre cannot be reached and this counter has not yet had its rules from it: nobody can log on until it is reached.", []Choice{ChoiceOK}},
		{"under another login ID", ActLogOn, Refusal{Code: "identity_in_use", Details: RefusalDetails{Sessions: two[1:]}},
			"You are logged on at counter 4 (since 09:40) under another login ID. Log off there first.", []Choice{ChoiceOK}},
		{"anything else: the agent's words", ActLogOn, Refusal{Code: "bad_request", Message: "identity must not be empty"},
			"Identity must not be empty.", []Choice{ChoiceOK}},
	} {
		got := Words(tc.a, tc.r, names, now, time.UTC)
		if got.Text != tc.text || !reflect.DeepEqual(got.Choices, tc.choices) || got.Title == "" {
			t.Errorf("%s:\n got %q %v (title %q)\nwant %q %v", tc.name, got.Text, got.Choices, got.Title, tc.text, tc.choices)
		}
	}
}

// Times are the counter's own: the same refusal reads in the terminal's
// time zone.
func TestWordsInTheCountersTimeZone(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip(err)
	}
	until := t0.Add(12 * time.Minute)
	got := Words(ActLogOn, Refusal{Code: "account_locked", Details: RefusalDetails{Until: &until}}, nil, t0, paris)
	if !strings.Contains(got.Text, "until 11:12 (in 12 minutes)") {
		t.Fatalf("%q", got.Text)
	}
}

func TestInWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Minute: "now", 0: "now", time.Second: "in a minute", time.Minute: "in a minute",
		61 * time.Second: "in 2 minutes", 119 * time.Minute: "in 119 minutes", 2 * time.Hour: "in 2 hours", 14*time.Hour + time.Second: "in 15 hours",
	} {
		if got := inWords(d); got != want {
			t.Errorf("inWords(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestNoticeWords(t *testing.T) {
	names := map[string]string{"term_far": "Hill Street counter 2"}
	far := latchkey.SessionRef{ID: "ses_far", TerminalID: "term_far", StartedAt: t0.Add(-30 * time.Minute)}
	for _, tc := range []struct {
		n    latchkey.Notice
		want string
	}{
		{latchkey.Notice{Code: latchkey.NoticeInUseOtherBranch, Sessions: []latchkey.SessionRef{far}},
			"Your identity is also in use at another branch: at Hill Street counter 2 (since 09:30)."},
		{latchkey.Notice{Code: "something_new", Message: "a notice the app does not know"}, "A notice the app does not know."},
	} {
		if got := NoticeWords(tc.n, names, time.UTC); got.Text != tc.want || !reflect.DeepEqual(got.Choices, []Choice{ChoiceOK}) {
			t.Errorf("%+v: %q %v, want %q", tc.n, got.Text, got.Choices, tc.want)
		}
	}
}

func TestWarningWords(t *testing.T) {
	for _, tc := range []struct {
		w      agent.Warning
		locked bool
		want   string
	}{
		{agent.Warning{Reason: "forced_timeout", SecondsLeft: 45}, false,
			"WARNING: your session is about to expire: it has not been used for a while. It ends in 0:45 unless you press any key to keep it."},
		{agent.Warning{Reason: "forced_timeout", SecondsLeft: 45}, true,
			"WARNING: your session is about to expire: it has not been used for a while. It ends in 0:45 unless you unlock the counter to keep it."},
		{agent.Warning{Reason: "forced_timeout", SecondsLeft: 0}, true, "Your session has expired: it was not used for too long."},
		{agent.Warning{Reason: "quota", SecondsLeft: 75}, false, "WARNING: your time for today is used up in 1:15: this session ends then. Finish what you are doing."},
		{agent.Warning{Reason: "quota_exceeded", SecondsLeft: 75}, false, "WARNING: your time for today is used up in 1:15: this session ends then. Finish what you are doing."},
		{agent.Warning{Reason: "max_session", SecondsLeft: 600}, false, "WARNING: this session reaches the longest time allowed here in 10:00 and ends then. Finish what you are doing."},
		{agent.Warning{Reason: "reservation", SecondsLeft: 61}, false, "WARNING: this terminal is reserved for someone else in 1:01: this session ends then. Finish what you are doing."},
		{agent.Warning{Reason: "something_new", SecondsLeft: 5}, false, "WARNING: this session ends in 0:05. Finish what you are doing."},
	} {
		if got := WarningWords(tc.w, tc.locked); got != tc.want {
			t.Errorf("%+v locked=%v:\n got %q\nwant %q", tc.w, tc.locked, got, tc.want)
		}
	}
}

func TestStandaloneWords(t *testing.T) {
	for in, want := range map[string]string{
		agent.OfflineLogonAdminsOnly: "Only administrators can log on until it is reached.",
		agent.OfflineLogonCached:     "Only people who have logged on at this counter before can log on until it is reached.",
		agent.OfflineLogonAny:        "Anyone can log on; each log-on is checked when it is reached.",
		agent.OfflineLogonNone:       "Nobody can log on until it is reached: this counter has not had its rules yet.",
		"":                           "",
	} {
		if got := StandaloneWords(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
