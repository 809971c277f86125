package apitest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	lkhttp "latchkey/http"
	"latchkey/sqlstore/sqlstoretest"
)

// who is one kind of caller of the authorization matrix. The target of a
// row belongs to "self" (the user alice) at the "own" terminal (terminal
// 0 of the world's site) unless the row's target says otherwise; "other"
// is the user bob; the other terminal is at another site.
type who int

const (
	nobody who = iota
	userSelf
	userOther
	delegate
	admin
	ownTerminal
	otherTerminal
)

var everyone = []who{nobody, userSelf, userOther, delegate, admin, ownTerminal, otherTerminal}

func (k who) String() string {
	return [...]string{"no token", "user (self)", "user (other)", "delegate", "admin", "own terminal", "other terminal"}[k]
}

var (
	staffCallers  = []who{delegate, admin}
	anyPerson     = []who{userSelf, userOther, delegate, admin}
	selfOrStaff   = []who{userSelf, delegate, admin}
	anyTerminal   = []who{ownTerminal, otherTerminal}
	publicCallers = everyone
)

// mreq is one request of a matrix cell. ownToken, when set, is the token
// the "own terminal" caller uses for this cell (a row that rotates or
// makes terminals).
type mreq struct {
	method, path, body string
	ownToken           string
}

// mrow is one row of the matrix: a route, the target it acts on, how to
// make a fresh request for each cell, the status of success, the callers
// allowed, and the refusals that differ from the default (401 without a
// token, 403 otherwise).
type mrow struct {
	route   string
	target  string
	prepare func(m *mworld) mreq
	ok      int
	allow   []who
	refuse  map[who]int
}

// mworld is a world with a delegate and a second site with its own
// terminal.
type mworld struct {
	*world
	dee       *latchkey.Principal
	otherTerm *latchkey.Terminal
	n         int
}

func newMWorld(t *testing.T, b sqlstoretest.Backend) *mworld {
	t.Helper()
	ctx := context.Background()
	m := &mworld{world: newWorld(t, b, client.SiteCreate{}, 1)}
	m.dee, _ = m.staffMember("deeds", latchkey.RoleDelegate)
	site, err := m.admin.CreateSite(ctx, client.SiteCreate{Name: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if m.otherTerm, err = m.admin.RegisterTerminal(ctx, "far counter", site.ID); err != nil {
		t.Fatal(err)
	}
	return m
}

// token returns a token for the caller kind k (logging people on anew,
// so that a cell that revoked tokens does not spoil the next).
func (m *mworld) token(k who, r mreq) string {
	m.t.Helper()
	login := map[who][2]string{userSelf: {"alice", pw("alice")}, userOther: {"bob", pw("bob")},
		delegate: {"deeds", pw("deeds")}, admin: {"admin", adminPassword}}
	switch k {
	case nobody:
		return ""
	case ownTerminal:
		if r.ownToken != "" {
			return r.ownToken
		}
		return m.terms[0].Token
	case otherTerminal:
		return m.otherTerm.Token
	}
	return m.logOn(login[k][0], login[k][1]).Token()
}

func (m *mworld) uniq(prefix string) string {
	m.n++
	return fmt.Sprintf("%s-%d", prefix, m.n)
}

func (m *mworld) must(err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
}

// session logs alice on at the own terminal and returns the session.
func (m *mworld) session() string {
	r, err := m.tc[0].StartSession(context.Background(), m.terms[0].ID,
		latchkey.LoginRequest{Identity: "alice", Password: "pw-alice", Force: true, TimeSent: m.clock.Now()})
	m.must(err)
	return r.Session.ID
}

// groupSet makes a group set (its own group) that alice may check out.
func (m *mworld) groupSet() string {
	g, err := m.admin.CreateGroupSet(context.Background(), latchkey.GroupSet{Name: m.uniq("set"),
		Groups: []string{m.uniq("grp")}, MaxMinutes: 60, Eligible: []string{m.alice.ID}})
	m.must(err)
	return g.ID
}

// checkout checks a fresh group set out for alice at the own terminal,
// where she is logged on (she has two identities: her session says which).
func (m *mworld) checkout() string {
	m.session()
	co, err := m.admin.CreateCheckout(context.Background(), latchkey.CheckoutCreate{GroupSet: m.groupSet(),
		Terminal: m.terms[0].ID, Principal: m.alice.ID, Minutes: 10})
	m.must(err)
	return co.ID
}

// instruction delivers a fresh check-out's instruction to the own
// terminal and returns its ID (the group set's group names it).
func (m *mworld) instruction() string {
	co, err := m.admin.GetCheckout(context.Background(), m.checkout())
	m.must(err)
	ins, err := m.tc[0].PollInstructions(context.Background(), 0)
	m.must(err)
	for _, in := range ins {
		if slices.Equal(in.Groups, co.Groups) {
			return in.ID
		}
	}
	m.t.Fatalf("check-out %s: no instruction delivered", co.ID)
	return ""
}

// reservation books the own terminal for alice, each one later than the
// one before.
func (m *mworld) reservation() string {
	m.n++
	r, err := m.admin.CreateReservation(context.Background(), latchkey.Reservation{Terminal: m.terms[0].ID,
		Principal: m.alice.ID, Start: m.clock.Now().Add(time.Duration(m.n) * 2 * time.Hour), Minutes: 30})
	m.must(err)
	return r.ID
}

// request has alice request a fresh group set needing approval (by any
// admin or delegate) at the own terminal.
func (m *mworld) request() *latchkey.Request {
	ctx := context.Background()
	g, err := m.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: m.uniq("set"), Groups: []string{m.uniq("grp")},
		MaxMinutes: 60, Eligible: []string{m.alice.ID}, Approval: true})
	m.must(err)
	r, err := m.logOn("alice", pw("alice")).CreateRequest(ctx, latchkey.RequestCreate{GroupSet: g.ID, Terminals: []string{m.terms[0].ID}, Minutes: 5})
	m.must(err)
	return r
}

// workItem is the approval work item of a fresh request of alice's.
func (m *mworld) workItem() string {
	r := m.request()
	items, _, err := m.admin.ListWorkItems(context.Background(), latchkey.WorkItemOpen, latchkey.Page{Limit: 500})
	m.must(err)
	for _, it := range items {
		if it.Request == r.ID {
			return it.ID
		}
	}
	m.t.Fatalf("request %s: no work item", r.ID)
	return ""
}

// job enqueues a job nobody runs (kind "noop"); failed, it has failed its
// one attempt.
func (m *mworld) job(failed bool) string {
	ctx := context.Background()
	j, err := m.store.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop", MaxAttempts: 1})
	m.must(err)
	if !failed {
		return j.ID
	}
	claims, err := m.store.ClaimJobs(ctx, "node_test", []latchkey.JobKind{"noop"}, 1000, time.Minute)
	m.must(err)
	for _, c := range claims {
		m.must(m.store.FailJob(ctx, c, fmt.Errorf("test failure")))
	}
	return j.ID
}

// report runs a report task of today and returns its ID.
func (m *mworld) report() string {
	ctx := context.Background()
	day := m.clock.Now().Format(latchkey.TaskDateLayout)
	x, err := m.store.CreateTask(ctx, latchkey.Caller{PrincipalID: "prn_matrix", Role: latchkey.RoleAdmin},
		latchkey.TaskCreate{Kind: latchkey.TaskReport, Params: []byte(`{"from":"` + day + `","to":"` + day + `"}`)})
	m.must(err)
	m.must(m.store.RunDueJobs(ctx, "node_matrix", latchkey.JobTask))
	return x.ID
}

// task schedules a seal task; done, it has run (the test world has no
// runner: its due jobs are run here).
func (m *mworld) task(done bool) string {
	ctx := context.Background()
	x, err := m.store.CreateTask(ctx, latchkey.Caller{PrincipalID: "prn_matrix", Role: latchkey.RoleAdmin}, latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal})
	m.must(err)
	if done {
		m.must(m.store.RunDueJobs(ctx, "node_matrix", latchkey.JobTask))
	}
	return x.ID
}

// otherAdmin makes a second admin with one identity.
func (m *mworld) otherAdmin() (*latchkey.Principal, string) {
	login := m.uniq("adm")
	p, err := m.admin.CreatePrincipal(context.Background(), latchkey.Principal{Name: login, Role: latchkey.RoleAdmin})
	m.must(err)
	_, err = m.admin.AddIdentity(context.Background(), p.ID, login, pw(login))
	m.must(err)
	return p, login
}

func fixed(method, path, body string) func(*mworld) mreq {
	return func(*mworld) mreq { return mreq{method: method, path: path, body: body} }
}

func (m *mworld) now() string { return m.clock.Now().UTC().Format(time.RFC3339Nano) }

// matrix is every route × target. TestAuthorizationMatrix fails when a
// route the server registers has no row here.
var matrix = []mrow{
	{route: "GET /healthz", target: "-", prepare: fixed("GET", "/healthz", ""), ok: 200, allow: publicCallers},
	{route: "GET /readyz", target: "-", prepare: fixed("GET", "/readyz", ""), ok: 200, allow: publicCallers},
	// The console authenticates by its session cookie only: a bearer token
	// opens nothing there, so every caller here is a browser without a
	// session (sent on to the log-on page, which the client follows).
	{route: "GET /{$}", target: "the start page", prepare: fixed("GET", "/", ""), ok: 200, allow: publicCallers},
	{route: "GET /login", target: "-", prepare: fixed("GET", "/login", ""), ok: 200, allow: publicCallers},
	{route: "POST /login", target: "a JSON body, not a form", prepare: fixed("POST", "/login", `{"identity":"alice","password":"x"}`), ok: 400, allow: publicCallers},
	{route: "POST /logout", target: "no session", prepare: fixed("POST", "/logout", `{}`), ok: 200, allow: publicCallers},
	{route: "GET /console/static/", target: "the style sheet", prepare: fixed("GET", "/console/static/console.css", ""), ok: 200, allow: publicCallers},
	{route: "GET /admin/users", target: "the dialog", prepare: fixed("GET", "/admin/users", ""), ok: 200, allow: publicCallers},
	{route: "POST /admin/users", target: "a change", prepare: fixed("POST", "/admin/users", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /admin/users/lock", target: "REQ LOCK", prepare: fixed("POST", "/admin/users/lock", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /admin/users/state", target: "the badge", prepare: fixed("POST", "/admin/users/state", `{}`), ok: 200, allow: publicCallers},
	{route: "GET /admin/signup", target: "the dialog", prepare: fixed("GET", "/admin/signup", ""), ok: 200, allow: publicCallers},
	{route: "GET /admin/trusts", target: "the dialog", prepare: fixed("GET", "/admin/trusts", ""), ok: 200, allow: publicCallers},
	{route: "POST /admin/trusts", target: "a change", prepare: fixed("POST", "/admin/trusts", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /admin/trusts/lock", target: "REQ LOCK", prepare: fixed("POST", "/admin/trusts/lock", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /admin/trusts/state", target: "the badge", prepare: fixed("POST", "/admin/trusts/state", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /admin/signup", target: "a change", prepare: fixed("POST", "/admin/signup", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /admin/signup/lock", target: "REQ LOCK", prepare: fixed("POST", "/admin/signup/lock", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /admin/signup/state", target: "the badge", prepare: fixed("POST", "/admin/signup/state", `{}`), ok: 200, allow: publicCallers},
	{route: "GET /console/events", target: "the pages' stream", prepare: fixed("GET", "/console/events", ""), ok: 200, allow: publicCallers},
	{route: "GET /access", target: "My access", prepare: fixed("GET", "/access", ""), ok: 200, allow: publicCallers},
	{route: "GET /approvals", target: "the inbox", prepare: fixed("GET", "/approvals", ""), ok: 200, allow: publicCallers},
	{route: "POST /approvals/{id}", target: "a decision", prepare: fixed("POST", "/approvals/wi_x", `{}`), ok: 200, allow: publicCallers},
	{route: "GET /requests/{id}", target: "a request's page", prepare: fixed("GET", "/requests/req_x", ""), ok: 200, allow: publicCallers},
	{route: "POST /access", target: "a check-out", prepare: fixed("POST", "/access", `{}`), ok: 200, allow: publicCallers},
	{route: "GET /checkouts/{id}", target: "a check-out's page", prepare: fixed("GET", "/checkouts/co_x", ""), ok: 200, allow: publicCallers},
	{route: "GET /checkouts/{id}/state", target: "its state", prepare: fixed("GET", "/checkouts/co_x/state", ""), ok: 200, allow: publicCallers},
	{route: "POST /checkouts/{id}/checkin", target: "check in", prepare: fixed("POST", "/checkouts/co_x/checkin", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /checkouts/{id}/extend", target: "extend", prepare: fixed("POST", "/checkouts/co_x/extend", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /requests/{id}/cancel", target: "cancel a request", prepare: fixed("POST", "/requests/req_x/cancel", `{}`), ok: 200, allow: publicCallers},
	{route: "GET /requests/{id}/live", target: "its live part", prepare: fixed("GET", "/requests/req_x/live", ""), ok: 200, allow: publicCallers},
	// Sessions board (screen 5): a bearer token opens nothing here either
	// (the staff-only rule and the own-page rule are proved with browser
	// sessions in TestConsoleSessionsBoard).
	{route: "GET /sessions", target: "the board", prepare: fixed("GET", "/sessions", ""), ok: 200, allow: publicCallers},
	{route: "GET /sessions/rows", target: "its rows", prepare: fixed("GET", "/sessions/rows", ""), ok: 200, allow: publicCallers},
	{route: "GET /people/{id}", target: "alice's page", ok: 200, allow: publicCallers,
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/people/" + m.alice.ID} }},
	// Cluster and tasks (screen 8): the console's session only, as above;
	// apitest/console_cluster_test.go checks that a delegate's and a
	// user's sessions are refused there.
	{route: "GET /cluster", target: "the screen", prepare: fixed("GET", "/cluster", ""), ok: 200, allow: publicCallers},
	{route: "POST /cluster", target: "a task", prepare: fixed("POST", "/cluster", `{}`), ok: 200, allow: publicCallers},
	{route: "GET /cluster/live", target: "its live part", prepare: fixed("GET", "/cluster/live", ""), ok: 200, allow: publicCallers},
	{route: "GET /tasks/{id}", target: "a task's page", prepare: fixed("GET", "/tasks/task_x", ""), ok: 200, allow: publicCallers},
	{route: "GET /tasks/{id}/live", target: "its live part", prepare: fixed("GET", "/tasks/task_x/live", ""), ok: 200, allow: publicCallers},
	{route: "GET /tasks/{id}/result", target: "its result", prepare: fixed("GET", "/tasks/task_x/result", ""), ok: 200, allow: publicCallers},
	{route: "GET /tasks/{id}/chart", target: "its chart", prepare: fixed("GET", "/tasks/task_x/chart", ""), ok: 200, allow: publicCallers},
	// Reservations (console screen 6): the day view, booking, cancelling.
	{route: "GET /reservations", target: "the day view", prepare: fixed("GET", "/reservations", ""), ok: 200, allow: publicCallers},
	{route: "POST /reservations", target: "a booking", prepare: fixed("POST", "/reservations", `{}`), ok: 200, allow: publicCallers},
	{route: "POST /reservations/{id}/cancel", target: "a cancel", prepare: fixed("POST", "/reservations/res_x/cancel", `{}`), ok: 200, allow: publicCallers},
	// Audit (screen 7): like every console route, a bearer token opens
	// nothing (the roles are checked on the session: TestConsoleAudit).
	{route: "GET /audit", target: "the screen", prepare: fixed("GET", "/audit?action=session.login", ""), ok: 200, allow: publicCallers},
	{route: "POST /audit/verify", target: "verify", prepare: fixed("POST", "/audit/verify", `{}`), ok: 200, allow: publicCallers},
	{route: "GET /audit/seal", target: "a seal's file", prepare: fixed("GET", "/audit/seal", ""), ok: 200, allow: publicCallers},
	{route: "GET /audit/export", target: "an export's file", prepare: fixed("GET", "/audit/export?after=0", ""), ok: 200, allow: publicCallers},
	{route: "GET /v1/cluster/nodes", target: "-", prepare: fixed("GET", "/v1/cluster/nodes", ""), ok: 200, allow: []who{admin}},
	{route: "POST /v1/tasks", target: "a seal now", prepare: fixed("POST", "/v1/tasks", `{"kind":"audit_seal"}`), ok: 201, allow: []who{admin}},
	{route: "GET /v1/tasks", target: "-", prepare: fixed("GET", "/v1/tasks", ""), ok: 200, allow: []who{admin}},
	{route: "GET /v1/tasks/{id}", target: "a task", ok: 200, allow: []who{admin},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/tasks/" + m.task(false)} }},
	{route: "GET /v1/tasks/{id}/result", target: "a done task", ok: 200, allow: []who{admin},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/tasks/" + m.task(true) + "/result"} }},
	{route: "GET /v1/tasks/{id}/chart", target: "a done report", ok: 200, allow: []who{admin},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/tasks/" + m.report() + "/chart"} }},
	{route: "GET /v1/jobs", target: "-", prepare: fixed("GET", "/v1/jobs", ""), ok: 200, allow: []who{admin}},
	{route: "GET /v1/jobs/{id}", target: "a job", ok: 200, allow: []who{admin},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/jobs/" + m.job(false)} }},
	{route: "POST /v1/jobs/{id}/retry", target: "a failed job", ok: 200, allow: []who{admin},
		prepare: func(m *mworld) mreq { return mreq{method: "POST", path: "/v1/jobs/" + m.job(true) + "/retry"} }},
	{route: "POST /v1/jobs/{id}/cancel", target: "a waiting job", ok: 200, allow: []who{admin},
		prepare: func(m *mworld) mreq { return mreq{method: "POST", path: "/v1/jobs/" + m.job(false) + "/cancel"} }},
	// Staff only: the test's server is not told it listens on loopback
	// (serve makes /metrics public there, or with --metrics-public).
	{route: "GET /metrics", target: "-", prepare: fixed("GET", "/metrics", ""), ok: 200, allow: staffCallers},
	{route: "POST /v1/auth/login", target: "alice's identity",
		prepare: fixed("POST", "/v1/auth/login", `{"identity":"alice","password":"pw-alice"}`), ok: 200, allow: publicCallers},
	{route: "POST /v1/auth/logout", target: "the caller's token", prepare: fixed("POST", "/v1/auth/logout", ""), ok: 204, allow: anyPerson},

	{route: "POST /v1/principals", target: "a new user", ok: 201, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/principals", body: fmt.Sprintf(`{"name":%q,"role":"user"}`, m.uniq("pn"))}
		}},
	{route: "POST /v1/principals", target: "a new admin", ok: 201, allow: []who{admin},
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/principals", body: fmt.Sprintf(`{"name":%q,"role":"admin"}`, m.uniq("pn"))}
		}},
	{route: "GET /v1/principals", target: "-", prepare: fixed("GET", "/v1/principals", ""), ok: 200, allow: staffCallers},
	{route: "GET /v1/principals/{id}", target: "alice", ok: 200, allow: selfOrStaff,
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/principals/" + m.alice.ID} }},
	{route: "PATCH /v1/principals/{id}", target: "alice", ok: 200, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "PATCH", path: "/v1/principals/" + m.alice.ID, body: `{"global":false}`}
		}},
	{route: "PATCH /v1/principals/{id}", target: "an admin", ok: 200, allow: []who{admin},
		prepare: func(m *mworld) mreq {
			p, _ := m.otherAdmin()
			return mreq{method: "PATCH", path: "/v1/principals/" + p.ID, body: `{"global":false}`}
		}},
	{route: "POST /v1/principals/{id}/identities", target: "alice", ok: 201, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/principals/" + m.alice.ID + "/identities",
				body: fmt.Sprintf(`{"login":%q,"password":"a-long-password"}`, m.uniq("al"))}
		}},
	{route: "POST /v1/principals/{id}/identities", target: "an admin", ok: 201, allow: []who{admin},
		prepare: func(m *mworld) mreq {
			p, _ := m.otherAdmin()
			return mreq{method: "POST", path: "/v1/principals/" + p.ID + "/identities",
				body: fmt.Sprintf(`{"login":%q,"password":"a-long-password"}`, m.uniq("ad"))}
		}},
	{route: "GET /v1/principals/{id}/sessions", target: "alice", ok: 200, allow: selfOrStaff,
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/principals/" + m.alice.ID + "/sessions"} }},
	{route: "POST /v1/identities/{login}/password", target: "alice's identity", ok: 204, allow: selfOrStaff,
		prepare: func(m *mworld) mreq {
			login := m.uniq("alpw")
			_, err := m.admin.AddIdentity(context.Background(), m.alice.ID, login, pw(login))
			m.must(err)
			return mreq{method: "POST", path: "/v1/identities/" + login + "/password",
				body: fmt.Sprintf(`{"old_password":%q,"new_password":"a-new-password"}`, pw(login))}
		}},
	{route: "POST /v1/identities/{login}/password", target: "an admin's identity", ok: 204, allow: []who{admin},
		prepare: func(m *mworld) mreq {
			_, login := m.otherAdmin()
			return mreq{method: "POST", path: "/v1/identities/" + login + "/password", body: `{"new_password":"a-new-password"}`}
		}},
	{route: "POST /v1/principals/{id}/revoke-tokens", target: "alice", ok: 204, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/principals/" + m.alice.ID + "/revoke-tokens"}
		}},
	{route: "POST /v1/principals/{id}/revoke-tokens", target: "an admin", ok: 204, allow: []who{admin},
		prepare: func(m *mworld) mreq {
			p, _ := m.otherAdmin()
			return mreq{method: "POST", path: "/v1/principals/" + p.ID + "/revoke-tokens"}
		}},
	{route: "PUT /v1/principals/{id}/offline-logon", target: "alice", ok: 200, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "PUT", path: "/v1/principals/" + m.alice.ID + "/offline-logon", body: `{"enabled":true}`}
		}},

	{route: "POST /v1/sites", target: "a new site", ok: 201, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/sites", body: fmt.Sprintf(`{"name":%q}`, m.uniq("site"))}
		}},
	{route: "GET /v1/sites", target: "-", prepare: fixed("GET", "/v1/sites", ""), ok: 200, allow: anyPerson},
	{route: "GET /v1/sites/{id}", target: "the own terminal's site", ok: 200, allow: append([]who{ownTerminal}, anyPerson...),
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/sites/" + m.site.ID} }},
	{route: "PATCH /v1/sites/{id}", target: "the own terminal's site", ok: 200, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "PATCH", path: "/v1/sites/" + m.site.ID, body: `{"warning_seconds":60}`}
		}},

	{route: "POST /v1/terminals", target: "a new terminal", ok: 201, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/terminals", body: fmt.Sprintf(`{"name":%q,"site":%q}`, m.uniq("t"), m.site.ID)}
		}},
	{route: "POST /v1/terminals/{id}/token", target: "a terminal of the site", ok: 201, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			tm, err := m.admin.RegisterTerminal(context.Background(), m.uniq("t"), m.site.ID)
			m.must(err)
			return mreq{method: "POST", path: "/v1/terminals/" + tm.ID + "/token", ownToken: tm.Token}
		}},
	{route: "GET /v1/terminals", target: "-", prepare: fixed("GET", "/v1/terminals", ""), ok: 200, allow: anyPerson},
	{route: "GET /v1/terminals/{id}", target: "the own terminal", ok: 200, allow: append([]who{ownTerminal}, anyPerson...),
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/terminals/" + m.terms[0].ID} }},
	{route: "POST /v1/terminals/{id}/events", target: "the own terminal", ok: 202, allow: []who{ownTerminal},
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/terminals/" + m.terms[0].ID + "/events",
				body: fmt.Sprintf(`{"events":[{"event":24,"occurred_at":%q}]}`, m.now())}
		}},
	{route: "GET /v1/terminals/{id}/events", target: "the own terminal", ok: 200, allow: []who{ownTerminal, delegate, admin},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/terminals/" + m.terms[0].ID + "/events"} }},
	{route: "GET /v1/terminals/{id}/instructions", target: "the own terminal", ok: 200, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "GET", path: "/v1/terminals/" + m.terms[0].ID + "/instructions"}
		}},

	{route: "POST /v1/terminals/{id}/sessions", target: "alice at the own terminal", ok: 201, allow: []who{ownTerminal},
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/terminals/" + m.terms[0].ID + "/sessions",
				body: fmt.Sprintf(`{"identity":"alice","password":"pw-alice","force":true,"time_sent":%q}`, m.now())}
		}},
	{route: "GET /v1/sessions/{id}", target: "alice's session", ok: 200, allow: []who{userSelf, delegate, admin, ownTerminal},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/sessions/" + m.session()} }},
	{route: "POST /v1/sessions/{id}/lock", target: "alice's session", ok: 200, allow: []who{ownTerminal},
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/sessions/" + m.session() + "/lock",
				body: fmt.Sprintf(`{"time_sent":%q,"reason":"manual"}`, m.now())}
		}},
	{route: "POST /v1/sessions/{id}/unlock", target: "alice's locked session", ok: 200, allow: []who{ownTerminal},
		prepare: func(m *mworld) mreq {
			id := m.session()
			_, err := m.tc[0].LockSession(context.Background(), id, latchkey.LockRequest{TimeSent: m.clock.Now(), Reason: "manual"})
			m.must(err)
			return mreq{method: "POST", path: "/v1/sessions/" + id + "/unlock",
				body: fmt.Sprintf(`{"identity":"alice","password":"pw-alice","time_sent":%q}`, m.now())}
		}},
	{route: "POST /v1/sessions/{id}/touch", target: "alice's session", ok: 200, allow: []who{ownTerminal},
		prepare: func(m *mworld) mreq { return mreq{method: "POST", path: "/v1/sessions/" + m.session() + "/touch"} }},
	{route: "DELETE /v1/sessions/{id}", target: "alice's session", ok: 200, allow: []who{ownTerminal},
		prepare: func(m *mworld) mreq { return mreq{method: "DELETE", path: "/v1/sessions/" + m.session()} }},

	{route: "POST /v1/groupsets", target: "a new group set", ok: 201, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/groupsets", body: fmt.Sprintf(`{"name":%q,"groups":["wheel"]}`, m.uniq("gs"))}
		}},
	{route: "GET /v1/groupsets", target: "-", prepare: fixed("GET", "/v1/groupsets", ""), ok: 200, allow: anyPerson},
	{route: "GET /v1/groupsets/{id}", target: "a group set", ok: 200, allow: anyPerson,
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/groupsets/" + m.groupSet()} }},
	{route: "POST /v1/checkouts", target: "for oneself, at the own terminal", ok: 202, allow: selfOrStaff,
		prepare: func(m *mworld) mreq {
			m.session()
			return mreq{method: "POST", path: "/v1/checkouts",
				body: fmt.Sprintf(`{"groupset":%q,"terminal":%q,"minutes":5}`, m.groupSet(), m.terms[0].ID)}
		}},
	{route: "POST /v1/checkouts", target: "for alice, at the own terminal", ok: 202, allow: selfOrStaff,
		prepare: func(m *mworld) mreq {
			m.session()
			return mreq{method: "POST", path: "/v1/checkouts",
				body: fmt.Sprintf(`{"groupset":%q,"terminal":%q,"principal":%q,"minutes":5}`, m.groupSet(), m.terms[0].ID, m.alice.ID)}
		}},
	{route: "GET /v1/checkouts/{id}", target: "alice's check-out", ok: 200, allow: []who{userSelf, delegate, admin, ownTerminal},
		refuse:  map[who]int{userOther: 404, otherTerminal: 404},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/checkouts/" + m.checkout()} }},
	{route: "POST /v1/checkouts/{id}/checkin", target: "alice's check-out", ok: 200, allow: selfOrStaff,
		refuse:  map[who]int{userOther: 404},
		prepare: func(m *mworld) mreq { return mreq{method: "POST", path: "/v1/checkouts/" + m.checkout() + "/checkin"} }},
	{route: "POST /v1/checkouts/{id}/extend", target: "alice's check-out", ok: 200, allow: selfOrStaff,
		refuse: map[who]int{userOther: 404},
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/checkouts/" + m.checkout() + "/extend", body: `{"minutes":30}`}
		}},
	{route: "GET /v1/agent/instructions", target: "the caller's own", prepare: fixed("GET", "/v1/agent/instructions?wait=0s", ""),
		ok: 200, allow: anyTerminal},
	{route: "POST /v1/agent/instructions/{id}/reply", target: "an instruction to the own terminal", ok: 200, allow: []who{ownTerminal},
		refuse: map[who]int{otherTerminal: 404},
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/agent/instructions/" + m.instruction() + "/reply", body: `{"result":"ok"}`}
		}},

	{route: "POST /v1/requests", target: "for oneself, at the own terminal", ok: 202, allow: selfOrStaff,
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/requests",
				body: fmt.Sprintf(`{"groupset":%q,"terminals":[%q],"minutes":5,"reason":"r"}`, m.groupSet(), m.terms[0].ID)}
		}},
	{route: "GET /v1/requests", target: "the caller's (staff: all)", prepare: fixed("GET", "/v1/requests", ""), ok: 200, allow: anyPerson},
	{route: "GET /v1/requests/{id}", target: "alice's request", ok: 200, allow: selfOrStaff, refuse: map[who]int{userOther: 404},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/requests/" + m.request().ID} }},
	{route: "POST /v1/requests/{id}/cancel", target: "alice's request", ok: 200, allow: selfOrStaff, refuse: map[who]int{userOther: 404},
		prepare: func(m *mworld) mreq { return mreq{method: "POST", path: "/v1/requests/" + m.request().ID + "/cancel"} }},
	{route: "GET /v1/workitems", target: "the caller's inbox", prepare: fixed("GET", "/v1/workitems", ""), ok: 200, allow: anyPerson},
	{route: "POST /v1/workitems/{id}/decide", target: "the approval of alice's request (any staff)", ok: 200, allow: staffCallers,
		refuse: map[who]int{userOther: 404},
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/workitems/" + m.workItem() + "/decide", body: `{"decision":"approve"}`}
		}},
	{route: "GET /v1/workflows/{id}", target: "alice's request's workflow", ok: 200, allow: selfOrStaff, refuse: map[who]int{userOther: 404},
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/workflows/" + m.request().Workflow} }},

	{route: "POST /v1/reservations", target: "for oneself, at the own terminal", ok: 201, allow: anyPerson,
		prepare: func(m *mworld) mreq {
			m.n++
			start := m.clock.Now().Add(time.Duration(m.n) * 2 * time.Hour).UTC().Format(time.RFC3339)
			return mreq{method: "POST", path: "/v1/reservations",
				body: fmt.Sprintf(`{"terminal":%q,"start":%q,"minutes":30}`, m.terms[0].ID, start)}
		}},
	{route: "POST /v1/reservations", target: "for alice, at the own terminal", ok: 201, allow: selfOrStaff,
		prepare: func(m *mworld) mreq {
			m.n++
			start := m.clock.Now().Add(time.Duration(m.n) * 2 * time.Hour).UTC().Format(time.RFC3339)
			return mreq{method: "POST", path: "/v1/reservations",
				body: fmt.Sprintf(`{"terminal":%q,"principal":%q,"start":%q,"minutes":30}`, m.terms[0].ID, m.alice.ID, start)}
		}},
	{route: "GET /v1/reservations", target: "the own terminal's", ok: 200, allow: append([]who{ownTerminal}, anyPerson...),
		prepare: func(m *mworld) mreq { return mreq{method: "GET", path: "/v1/reservations?terminal=" + m.terms[0].ID} }},
	{route: "DELETE /v1/reservations/{id}", target: "alice's reservation", ok: 204, allow: selfOrStaff,
		refuse:  map[who]int{userOther: 404},
		prepare: func(m *mworld) mreq { return mreq{method: "DELETE", path: "/v1/reservations/" + m.reservation()} }},

	{route: "GET /v1/agent/policy", target: "the caller's own", prepare: fixed("GET", "/v1/agent/policy", ""), ok: 200, allow: anyTerminal},
	{route: "POST /v1/agent/journal", target: "the caller's own", ok: 200, allow: anyTerminal,
		prepare: func(m *mworld) mreq {
			start := m.clock.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339)
			end := m.clock.Now().Add(-5 * time.Minute).UTC().Format(time.RFC3339)
			return mreq{method: "POST", path: "/v1/agent/journal", body: fmt.Sprintf(
				`{"entries":[{"id":%q,"identity":"alice","started_at":%q,"ended_at":%q,"standalone":true}]}`, m.uniq("je"), start, end)}
		}},
	{route: "POST /v1/agent/status", target: "the caller's own", prepare: fixed("POST", "/v1/agent/status", `{"standalone":false}`),
		ok: 200, allow: anyTerminal},

	{route: "POST /v1/locks/{rest...}", target: "a lock", ok: 200, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			return mreq{method: "POST", path: "/v1/locks/" + m.uniq("admin/x") + "/acquire", body: `{}`}
		}},
	{route: "GET /v1/locks/{rest...}", target: "a held lock", ok: 200, allow: staffCallers,
		prepare: func(m *mworld) mreq {
			name := m.uniq("admin/y")
			_, err := m.admin.AcquireLock(context.Background(), name, latchkey.AcquireRequest{})
			m.must(err)
			return mreq{method: "GET", path: "/v1/locks/" + name}
		}},
	{route: "GET /v1/locks", target: "-", prepare: fixed("GET", "/v1/locks", ""), ok: 200, allow: staffCallers},
	{route: "GET /v1/config/{domain...}", target: "an unmanaged domain", prepare: fixed("GET", "/v1/config/ui/theme", ""), ok: 200, allow: staffCallers},
	{route: "PUT /v1/config/{domain...}", target: "an unmanaged domain", prepare: fixed("PUT", "/v1/config/ui/theme", `{"items":{"color":"blue"}}`),
		ok: 200, allow: staffCallers},
	{route: "PUT /v1/config/{domain...}", target: "security/2fa", prepare: fixed("PUT", "/v1/config/security/2fa", `{"items":{"required":"false"}}`),
		ok: 200, allow: []who{admin}},

	{route: "GET /v1/events", target: "the topics the caller may see", prepare: fixed("GET", "/v1/events", ""), ok: 200,
		allow: append([]who{ownTerminal, otherTerminal}, anyPerson...)},
	{route: "GET /v1/events", target: "the locks topic", prepare: fixed("GET", "/v1/events?topics=locks", ""), ok: 200,
		allow: staffCallers},
	{route: "GET /v1/audit", target: "-", prepare: fixed("GET", "/v1/audit", ""), ok: 200, allow: staffCallers},
	// The filters beyond API.md (terminal, from, to, before, order) change
	// nobody's access.
	{route: "GET /v1/audit", target: "filtered, newest first", ok: 200, allow: staffCallers,
		prepare: fixed("GET", "/v1/audit?terminal=term_x&from=2026-01-01T00:00:00Z&to=2099-01-01T00:00:00Z&before=1000&action=session.login&actor=prn_x", "")},
	{route: "GET /v1/audit/verify", target: "-", prepare: fixed("GET", "/v1/audit/verify", ""), ok: 200, allow: []who{admin}},
	{route: "GET /v1/audit/seal", target: "-", prepare: fixed("GET", "/v1/audit/seal", ""), ok: 200, allow: []who{admin}},
	{route: "GET /v1/audit/export", target: "-", prepare: fixed("GET", "/v1/audit/export?after=0", ""), ok: 200, allow: []who{admin}},
}

// TestAuthorizationMatrix calls every route, for every target of the
// matrix, as every kind of caller, on both stores, and checks each cell's
// status: success for the callers allowed, else 401 without a token and
// 403 (or the row's refusal) with one. A route the server registers
// without rows here fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	routes := lkhttp.NewServer(nil, lkhttp.Options{}).Routes()
	covered := map[string]bool{}
	for _, r := range matrix {
		if !slices.Contains(routes, r.route) {
			t.Errorf("matrix row for %q: the server has no such route", r.route)
		}
		covered[r.route] = true
	}
	for _, r := range routes {
		if !covered[r] {
			t.Errorf("route %q has no rows in the authorization matrix (apitest/authz_matrix_test.go)", r)
		}
	}
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		for _, row := range matrix {
			t.Run(row.route+" "+row.target, func(t *testing.T) {
				t.Parallel()
				m := newMWorld(t, b)
				for _, k := range everyone {
					r := row.prepare(m)
					got, body := m.call(m.token(k, r), r)
					want := 403
					switch {
					case slices.Contains(row.allow, k):
						want = row.ok
					case row.refuse[k] != 0:
						want = row.refuse[k]
					case k == nobody:
						want = 401
					}
					if got != want {
						t.Errorf("%s %s as %s: %d %s, want %d", r.method, r.path, k, got, body, want)
					}
				}
			})
		}
	})
}

// call sends r with token and returns the status and (for a refusal) the
// body. An event stream is cut off once its status is known.
func (m *mworld) call(token string, r mreq) (int, string) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.method, m.url+r.path, strings.NewReader(r.body))
	m.must(err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	m.must(err)
	defer resp.Body.Close()
	if resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b)
}
