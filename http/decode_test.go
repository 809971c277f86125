package http_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"latchkey"
	lkhttp "latchkey/http"
)

func TestSiteCreateDefaults(t *testing.T) {
	t.Parallel()
	off, zero := false, 0
	tests := []struct {
		body string
		want func(s *latchkey.Site)
	}{
		{`{"name":"branch"}`, func(*latchkey.Site) {}},
		{`{"name":"branch","timezone":null}`, func(*latchkey.Site) {}},
		// Explicit false and 0 are kept, not replaced by defaults.
		{`{"name":"branch","concurrency_controls":false,"allow_standalone":false,"warning_seconds":0}`, func(s *latchkey.Site) {
			s.ConcurrencyControls, s.AllowStandalone, s.WarningSeconds = off, off, zero
		}},
		{`{"name":"branch","timezone":"Europe/Oslo","standalone_auth":"any","standalone_quotas":"off",
		  "max_session_minutes":480,"daily_quota_minutes":120,"inactivity_lock_minutes":5,"forced_timeout_minutes":30}`,
			func(s *latchkey.Site) {
				s.Timezone, s.StandaloneAuth, s.StandaloneQuotas = "Europe/Oslo", "any", "off"
				s.MaxSessionMinutes, s.DailyQuotaMinutes, s.InactivityLockMinutes, s.ForcedTimeoutMinutes = 480, 120, 5, 30
			}},
	}
	for _, tc := range tests {
		e := newEnv(t)
		w := e.do(req{method: "POST", path: "/v1/sites", token: adminToken, body: tc.body})
		if w.Code != 201 {
			t.Fatalf("%s: %d %s", tc.body, w.Code, w.Body)
		}
		want := latchkey.DefaultSite("branch")
		tc.want(&want)
		got := e.st.recorded("CreateSite")[0].args[0].(latchkey.Site)
		got.ID = ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.body, got, want)
		}
		if s := decodeJSON[latchkey.Site](t, w); s.ID != "s_new" || s.Name != "branch" {
			t.Errorf("answer %+v", s)
		}
	}
}

func TestPatchesSendOnlyWhatIsSet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if w := e.do(req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"inactivity_lock_minutes":0}`}); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	u := e.st.recorded("UpdateSite")[0].args[1].(latchkey.SiteUpdate)
	if u.InactivityLockMinutes == nil || *u.InactivityLockMinutes != 0 || u.Name != nil || u.Timezone != nil {
		t.Fatalf("site update %+v", u)
	}
	if w := e.do(req{method: "PATCH", path: "/v1/principals/p_1", token: adminToken, body: `{"role":"delegate"}`}); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	p := e.st.recorded("UpdatePrincipal")[0].args[1].(latchkey.PrincipalUpdate)
	if p.Role == nil || *p.Role != latchkey.RoleDelegate || p.Disabled != nil || p.Global != nil {
		t.Fatalf("principal update %+v", p)
	}
}

func TestSessionRequestsDecode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.do(req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken,
		body: `{"identity":"alice","password":"pw","time_sent":"2024-05-01T12:00:00.5+02:00"}`})
	if w.Code != 201 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// failed is [] (never null) when the login failed nothing.
	if !strings.Contains(w.Body.String(), `"failed":[]`) {
		t.Errorf("login answer %s: want failed []", w.Body)
	}
	c := e.st.recorded("StartSession")[0]
	want := latchkey.LoginRequest{Identity: "alice", Password: "pw", TimeSent: time.Date(2024, 5, 1, 10, 0, 0, 5e8, time.UTC)}
	if c.args[0] != "t_1" || !reflect.DeepEqual(c.args[1], want) {
		t.Fatalf("StartSession(%v, %+v), want t_1, %+v", c.args[0], c.args[1], want)
	}

	if w := e.do(req{method: "POST", path: "/v1/sessions/ss_1/lock", token: terminalToken, body: `{"time_sent":"` + validTime + `","reason":"inactivity"}`}); w.Code != 200 {
		t.Fatalf("lock: %d %s", w.Code, w.Body)
	}
	if got := e.st.recorded("LockSession")[0].args[1].(latchkey.LockRequest); got.Reason != "inactivity" || !got.TimeSent.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("lock request %+v", got)
	}
	// touch and DELETE take no body, or {}.
	for _, r := range []req{
		{method: "POST", path: "/v1/sessions/ss_1/touch", token: terminalToken},
		{method: "POST", path: "/v1/sessions/ss_1/touch", token: terminalToken, body: `{}`},
		{method: "POST", path: "/v1/sessions/ss_1/touch", token: terminalToken, body: ` {} `, contentType: "application/json; charset=utf-8"},
		{method: "DELETE", path: "/v1/sessions/ss_1", token: terminalToken},
	} {
		w := e.do(r)
		if w.Code != 200 {
			t.Fatalf("%s %s %q: %d %s", r.method, r.path, r.body, w.Code, w.Body)
		}
		if s := decodeJSON[latchkey.Session](t, w); s.ID != "ss_1" || s.Status != latchkey.SessionActive {
			t.Fatalf("answer is not the session: %s", w.Body)
		}
	}
}

func TestEventsDecode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.do(req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[
		{"id":"e1","event":24,"occurred_at":"` + validTime + `","identity":"alice"},
		{"event":26,"occurred_at":"` + validTime + `","reason":"attempts_exceeded"}]}`})
	if w.Code != 202 || strings.TrimSpace(w.Body.String()) != `{"accepted":2}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	got := e.st.recorded("RecordTerminalEvents")[0].args[1].([]latchkey.TerminalEvent)
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	want := []latchkey.TerminalEvent{
		{ID: "e1", Event: 24, OccurredAt: at, Identity: "alice"},
		{Event: 26, OccurredAt: at, Reason: "attempts_exceeded"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n got %+v\nwant %+v", got, want)
	}
}

func TestListsAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.do(req{method: "GET", path: "/v1/sites?limit=5&after=s_3", token: userToken})
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"items":[],"next":""}` {
		t.Fatalf("empty list: %d %s", w.Code, w.Body)
	}
	if p := e.st.recorded("ListSites")[0].args[0].(latchkey.Page); p != (latchkey.Page{Limit: 5, After: "s_3"}) {
		t.Fatalf("page %+v", p)
	}
	w = e.do(req{method: "GET", path: "/v1/terminals", token: adminToken})
	if !strings.Contains(w.Body.String(), `"locked_groups":[]`) || !strings.Contains(w.Body.String(), `"next":"t_1"`) {
		t.Fatalf("terminals: %s", w.Body)
	}
	w = e.do(req{method: "GET", path: "/v1/principals/p_user/sessions?status=active&limit=0", token: userToken})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if c := e.st.recorded("ListPrincipalSessions")[0]; c.args[0] != "p_user" || c.args[1] != latchkey.SessionActive {
		t.Fatalf("ListPrincipalSessions%v", c.args)
	}
}

func TestAuditListNext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type page struct {
		Items []latchkey.AuditRecord `json:"items"`
		Next  string                 `json:"next"`
	}
	// A full page names its last seq; a short one ends the list.
	w := e.do(req{method: "GET", path: "/v1/audit?after=10&limit=2&actor=p_1&action=session.login", token: adminToken})
	if p := decodeJSON[page](t, w); len(p.Items) != 2 || p.Next != "12" {
		t.Fatalf("full page: %s", w.Body)
	}
	f := e.st.recorded("ListAudit")[0].args[0].(latchkey.AuditFilter)
	if f != (latchkey.AuditFilter{After: 10, Limit: 2, Actor: "p_1", Action: "session.login"}) {
		t.Fatalf("filter %+v", f)
	}
	w = e.do(req{method: "GET", path: "/v1/audit", token: adminToken})
	if p := decodeJSON[page](t, w); len(p.Items) != 3 || p.Next != "" {
		t.Fatalf("short page: %s", w.Body)
	}
	if f := e.st.recorded("ListAudit")[1].args[0].(latchkey.AuditFilter); f.Limit != latchkey.DefaultPageLimit {
		t.Fatalf("default limit %d", f.Limit)
	}
	w = e.do(req{method: "GET", path: "/v1/audit/verify", token: adminToken})
	if strings.TrimSpace(w.Body.String()) != `{"ok":true,"records":3}` {
		t.Fatalf("verify: %s", w.Body)
	}
}

func TestMaxBodyBytesOption(t *testing.T) {
	t.Parallel()
	st := newStub()
	h := lkhttp.NewServer(st, lkhttp.Options{MaxBodyBytes: 64}).Handler()
	e := &env{t: t, st: st, h: h, logs: &syncBuffer{}}
	w := e.do(req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"` + strings.Repeat("b", 64) + `"}`})
	if w.Code != 400 || errorOf(t, w).Details["field"] != "body" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = e.do(req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`})
	if w.Code != 201 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
