package apitest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// gatewayAgent is a real `latchkey agent` process serving its terminal's
// gateway on a unix socket, talking to the server through a proxy the
// test can cut.
type gatewayAgent struct {
	t        testing.TB
	proxy    *faultProxy
	token    string
	stateDir string
	socket   string
	proc     *agentProc
	gw       *agent.GatewayClient
}

func newGatewayAgent(t testing.TB, server, token string) *gatewayAgent {
	dir := t.TempDir()
	g := &gatewayAgent{t: t, proxy: newFaultProxy(t, server), token: token, stateDir: filepath.Join(dir, "state"),
		socket: filepath.Join(dir, "terminal.sock")}
	g.gw = agent.NewGatewayClient(g.socket)
	g.start()
	g.waitFor("online with a policy", func(s *agent.Status) bool { return s.Mode == agent.ModeOnline && !s.PolicyIssuedAt.IsZero() })
	return g
}

// start runs the agent (again, on the same state directory).
func (g *gatewayAgent) start() {
	a := &agentProc{done: make(chan struct{}), out: newProcOutput()}
	a.cmd = exec.Command(latchkeyBinary(g.t), "agent", "--server", g.proxy.srv.URL, "--token", g.token,
		"--state-dir", g.stateDir, "--executor", "file:"+filepath.Join(g.stateDir, "..", "groups"), "--wait", "2s",
		"--socket", g.socket, "--probe-every", "200ms", "--policy-every", "500ms")
	a.cmd.Env = append(os.Environ(), "LOG_LEVEL=info", "LOG_FORMAT=text", "LATCHKEY_TOKEN_FILE="+filepath.Join(g.stateDir, "no-token"))
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{}
	setParentDeathSignal(a.cmd.SysProcAttr)
	if err := a.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	g.t.Cleanup(func() {
		a.kill()
		if g.t.Failed() {
			g.t.Logf("agent output:\n%s", a.out.tail(8<<10))
		}
	})
	g.proc = a
}

// waitFor polls the gateway's status until ok holds (30 s at most).
func (g *gatewayAgent) waitFor(what string, ok func(*agent.Status) bool) *agent.Status {
	g.t.Helper()
	return waitGatewayStatus(g.t, g.gw, 30*time.Second, what, ok)
}

// waitGatewayStatus polls gw's status until ok holds, failing t after d.
func waitGatewayStatus(t testing.TB, gw *agent.GatewayClient, d time.Duration, what string, ok func(*agent.Status) bool) *agent.Status {
	t.Helper()
	var st *agent.Status
	var err error
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		st, err = gw.Status(context.Background())
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last status %+v, %v", what, st, err)
		}
	}
}

func (g *gatewayAgent) waitMode(mode string) {
	g.t.Helper()
	g.waitFor("mode "+mode, func(s *agent.Status) bool { return s.Mode == mode })
}

// cut takes the link down and waits until the agent is standalone;
// restore brings it back and waits until every offline session is
// uploaded.
func (g *gatewayAgent) cut() {
	g.t.Helper()
	g.proxy.down.Store(true)
	g.waitMode(agent.ModeStandalone)
}

func (g *gatewayAgent) restore() {
	g.t.Helper()
	g.proxy.down.Store(false)
	g.waitFor("online with nothing left to upload", func(s *agent.Status) bool { return s.Mode == agent.ModeOnline && s.PendingUploads == 0 })
}

func (g *gatewayAgent) login(identity, password string) (*agent.Status, error) {
	return g.gw.Login(context.Background(), agent.LoginRequest{Identity: identity, Password: password})
}

func (g *gatewayAgent) mustLogin(identity, password string) *agent.SessionStatus {
	g.t.Helper()
	st, err := g.login(identity, password)
	if err != nil || st.Session == nil {
		g.t.Fatalf("%s logs on: %+v, %v", identity, st, err)
	}
	return st.Session
}

func (g *gatewayAgent) logout() {
	g.t.Helper()
	if st, err := g.gw.Logout(context.Background()); err != nil || st.Session != nil {
		g.t.Fatalf("log out: %+v, %v", st, err)
	}
}

// Standalone mode end to end, with real server and agent processes on
// both store backends and the link cut by a proxy:
//   - cached: wrong and unknown passwords are refused offline; a
//     reservation known before the cut comes due offline (the immediate
//     session before it is cut short, then only its person gets in);
//     sessions started and ended offline reach the server once each, also
//     when the agent is SIGKILLed and restarted while offline;
//   - allow_standalone false: a session in progress at the cut goes on,
//     then only admins may log on;
//   - any: any login and password are accepted offline; an invalid
//     identity still logged on at reconnect is logged off at once; an
//     over-quota person is warned, then logged off.
func TestStandaloneEndToEnd(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		ctx := context.Background()
		server := startServer(t, storeURL, dataDir, "--sweep-interval", "200ms")
		admin := server.adminLogin(t)
		person := func(name string) *latchkey.Principal {
			t.Helper()
			p, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: name, Role: latchkey.RoleUser})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := admin.AddIdentity(ctx, p.ID, name, pw(name)); err != nil {
				t.Fatal(err)
			}
			return p
		}
		alice, bob, dave := person("alice"), person("bob"), person("dave")
		terminal := func(site client.SiteCreate) (*latchkey.Terminal, *client.Client) {
			t.Helper()
			s, err := admin.CreateSite(ctx, site)
			if err != nil {
				t.Fatal(err)
			}
			tm, err := admin.RegisterTerminal(ctx, site.Name+" pc", s.ID)
			if err != nil {
				t.Fatal(err)
			}
			return tm, server.client(tm.Token)
		}
		// Online sessions make alice and bob recent users of a site: the
		// policy caches their verifiers.
		visit := func(tc *client.Client, term, who string) {
			t.Helper()
			r, err := tc.StartSession(ctx, term, latchkey.LoginRequest{Identity: who, Password: pw(who), TimeSent: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tc.EndSession(ctx, r.Session.ID); err != nil {
				t.Fatal(err)
			}
		}
		standalone := func(p *latchkey.Principal, term string) []latchkey.Session {
			t.Helper()
			all, _, err := admin.ListPrincipalSessions(ctx, p.ID, "", latchkey.Page{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var out []latchkey.Session
			for _, s := range all {
				if s.Standalone && s.TerminalID == term {
					out = append(out, s)
				}
			}
			return out
		}

		t.Run("cached", func(t *testing.T) {
			term, tc := terminal(client.SiteCreate{Name: "cached"})
			visit(tc, term.ID, "alice")
			visit(tc, term.ID, "bob")
			due := time.Now().Add(15 * time.Second).Truncate(time.Second)
			if _, err := admin.CreateReservation(ctx, latchkey.Reservation{Terminal: term.ID, Principal: bob.ID, Start: due, Minutes: 30}); err != nil {
				t.Fatal(err)
			}
			g := newGatewayAgent(t, server.URL, term.Token)
			g.cut()
			for _, c := range [][2]string{{"alice", "wrong"}, {"zed", pw("zed")}} {
				if _, err := g.login(c[0], c[1]); latchkey.ErrorCode(err) != latchkey.EINVALIDCREDENTIALS {
					t.Fatalf("offline logon %s/%s: %v, want invalid_credentials", c[0], c[1], err)
				}
			}
			// Before the reservation: alice's immediate session ends at its start.
			s := g.mustLogin("alice", pw("alice"))
			if !s.Standalone || s.EndsAt == nil || !s.EndsAt.Equal(due) {
				t.Fatalf("alice's offline session: %+v, want standalone, ending at %s", s, due)
			}
			g.waitFor("alice logged off at the reservation", func(st *agent.Status) bool {
				return st.Session == nil && st.LastEnded != nil && st.LastEnded.Identity == "alice"
			})
			if _, err := g.login("alice", pw("alice")); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
				t.Fatalf("alice during bob's reservation, offline: %v, want conflict", err)
			}
			g.mustLogin("bob", pw("bob"))
			g.logout()
			// SIGKILL while offline with a session in progress; the restarted
			// agent still has it, and its end is journalled.
			g.mustLogin("bob", pw("bob"))
			g.proc.kill()
			g.start()
			st := g.waitFor("the restarted agent standalone with bob's session", func(st *agent.Status) bool {
				return st.Mode == agent.ModeStandalone && st.Session != nil
			})
			if st.Session.Identity != "bob" || !st.Session.Standalone {
				t.Fatalf("after the restart: %+v", st.Session)
			}
			g.logout()
			g.restore()
			if n := len(standalone(alice, term.ID)); n != 1 {
				t.Fatalf("alice has %d standalone sessions on the server, want 1", n)
			}
			bs := standalone(bob, term.ID)
			if len(bs) != 2 {
				t.Fatalf("bob has %d standalone sessions on the server, want 2: %+v", len(bs), bs)
			}
			for _, s := range bs {
				if s.Status != latchkey.SessionEnded || s.EndedAt == nil {
					t.Fatalf("bob's offline session on the server: %+v, want ended", s)
				}
			}
			// A re-upload after reconnect changes nothing (the agent may
			// retry): still exactly these.
			g.cut()
			g.restore()
			if len(standalone(bob, term.ID)) != 2 || len(standalone(alice, term.ID)) != 1 {
				t.Fatal("a second reconnect duplicated offline sessions")
			}
			// A server whose store is down (503 unavailable) also sends the
			// agent standalone; it comes back by itself, and the periods it
			// spent standalone are on record.
			g.proxy.unavailable.Store(true)
			g.waitMode(agent.ModeStandalone)
			g.mustLogin("bob", pw("bob"))
			g.logout()
			g.proxy.unavailable.Store(false)
			g.waitFor("online with nothing left to upload", func(s *agent.Status) bool { return s.Mode == agent.ModeOnline && s.PendingUploads == 0 })
			if n := len(standalone(bob, term.ID)); n != 3 {
				t.Fatalf("bob has %d standalone sessions, want 3", n)
			}
			recs, _, err := admin.ListAudit(ctx, latchkey.AuditFilter{Action: "terminal.standalone", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			periods := 0
			for _, r := range recs {
				if r.Target == term.ID && strings.Contains(string(r.Details), "standalone_from") {
					periods++
				}
			}
			if periods < 3 {
				t.Fatalf("standalone periods of the terminal on record: %d, want at least 3", periods)
			}
		})

		t.Run("disallowed", func(t *testing.T) {
			term, tc := terminal(client.SiteCreate{Name: "disallowed", SiteSettings: latchkey.SiteSettings{AllowStandalone: client.Ptr(false)}})
			visit(tc, term.ID, "alice")
			g := newGatewayAgent(t, server.URL, term.Token)
			online := g.mustLogin("alice", pw("alice"))
			g.cut()
			if st := g.waitFor("status", func(*agent.Status) bool { return true }); st.Session == nil || st.Session.ID != online.ID {
				t.Fatalf("the session in progress at the cut: %+v, want it to go on", st.Session)
			}
			g.logout()
			if _, err := g.login("alice", pw("alice")); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
				t.Fatalf("alice offline at a disallowed site: %v, want forbidden", err)
			}
			if _, err := g.login("admin", "wrong"); latchkey.ErrorCode(err) != latchkey.EINVALIDCREDENTIALS {
				t.Fatalf("the admin with a wrong password: %v, want invalid_credentials", err)
			}
			g.mustLogin("admin", procAdminPassword)
			g.logout()
			g.restore()
			s, err := admin.GetSession(ctx, online.ID)
			if err != nil || s.Status != latchkey.SessionEnded || s.Standalone {
				t.Fatalf("alice's online session ended offline: %+v, %v; want ended", s, err)
			}
		})

		t.Run("locks", func(t *testing.T) {
			term, tc := terminal(client.SiteCreate{Name: "locks"})
			visit(tc, term.ID, "alice")
			g := newGatewayAgent(t, server.URL, term.Token)
			s := g.mustLogin("alice", pw("alice"))
			g.cut()
			// A manual lock with no server: the person chooses.
			_, err := g.gw.Lock(ctx, agent.LockRequest{Reason: agent.LockManual})
			choices, _ := latchkey.ErrorDetails(err)["choices"].([]any)
			if latchkey.ErrorCode(err) != latchkey.ECONFLICT || len(choices) != 3 {
				t.Fatalf("an offline manual lock: %v (%v), want conflict with three choices", err, latchkey.ErrorDetails(err))
			}
			if st, err := g.gw.Lock(ctx, agent.LockRequest{Reason: agent.LockManual, Choice: "abandon"}); err != nil || st.Session.LockedAt != nil {
				t.Fatalf("abandon: %+v, %v; want not locked", st, err)
			}
			st, err := g.gw.Lock(ctx, agent.LockRequest{Reason: agent.LockManual, Choice: "lock_anyway"})
			if err != nil || st.Session.LockedAt == nil || !st.Session.LockedOffline {
				t.Fatalf("lock anyway: %+v, %v; want locked offline", st, err)
			}
			lockedAt := st.Session.LockedAt.Truncate(time.Microsecond) // the store keeps microseconds
			// The server does not consider it locked: alice elsewhere is a
			// concurrent session.
			if srv, err := admin.GetSession(ctx, s.ID); err != nil || srv.LockedAt != nil {
				t.Fatalf("the server's view of the offline lock: %+v, %v; want unlocked", srv, err)
			}
			second, err := admin.RegisterTerminal(ctx, "locks pc 2", term.SiteID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = server.client(second.Token).StartSession(ctx, second.ID, latchkey.LoginRequest{Identity: "alice", Password: pw("alice"), TimeSent: time.Now()})
			if latchkey.ErrorCode(err) != latchkey.ECONCURRENTSESSION {
				t.Fatalf("alice at another terminal while locked offline: %v, want concurrent_session", err)
			}
			// An unlock with no server fails and the terminal stays locked.
			if _, err := g.gw.Unlock(ctx, agent.UnlockRequest{Password: pw("alice")}); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
				t.Fatalf("an offline unlock: %v, want unavailable", err)
			}
			if st := g.waitFor("status", func(*agent.Status) bool { return true }); st.Session == nil || st.Session.LockedAt == nil {
				t.Fatalf("after the failed unlock: %+v, want still locked", st.Session)
			}
			// Back online, the agent reports the lock with its own time.
			g.restore()
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				srv, err := admin.GetSession(ctx, s.ID)
				if err == nil && srv.LockedAt != nil {
					if !srv.LockedAt.Equal(lockedAt) {
						t.Fatalf("the reported lock: locked_at %s, want the local lock time %s", srv.LockedAt, lockedAt)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the server never learned of the offline lock: %+v, %v", srv, err)
				}
			}
			// With the deferred event 24 at the lock's own time (it is sent
			// before the lock's report).
			evs, _, err := admin.ListTerminalEvents(ctx, term.ID, latchkey.Page{Limit: 10})
			if err != nil || len(evs) != 1 || evs[0].Event != latchkey.EventPositionLocked || !evs[0].OccurredAt.Equal(lockedAt) ||
				evs[0].Identity != "alice" || !evs[0].ReceivedAt.After(lockedAt) {
				t.Fatalf("the terminal's deferred events: %+v, %v; want one 24 at %s", evs, err, lockedAt)
			}
			if st, err := g.gw.Unlock(ctx, agent.UnlockRequest{Password: pw("alice")}); err != nil || st.Session.LockedAt != nil {
				t.Fatalf("an online unlock: %+v, %v", st, err)
			}
			if srv, _ := admin.GetSession(ctx, s.ID); srv == nil || srv.LockedAt != nil {
				t.Fatalf("the server after the unlock: %+v", srv)
			}
			g.logout()
		})

		t.Run("snapshot", func(t *testing.T) {
			quota := 1
			term, tc := terminal(client.SiteCreate{Name: "snapshot", SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: &quota, Timezone: client.Ptr(zoneAwayFromMidnight(t))}})
			visit(tc, term.ID, "alice")
			// Dave logged on online at the site (so he is a recent user,
			// cached), and his minute for today is used: an offline session
			// uploaded by another terminal while the site took any name
			// offline (an ended entry then counts on the name; with cached
			// it would count only if that terminal had held his verifier).
			other, err := admin.RegisterTerminal(ctx, "snapshot pc 2", term.SiteID)
			if err != nil {
				t.Fatal(err)
			}
			visit(server.client(other.Token), other.ID, "dave")
			if _, err := admin.UpdateSite(ctx, term.SiteID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{StandaloneAuth: client.Ptr(latchkey.StandaloneAuthAny)}}); err != nil {
				t.Fatal(err)
			}
			end := time.Now().Add(-5 * time.Second)
			if _, err := server.client(other.Token).UploadJournal(ctx, []latchkey.JournalEntry{{ID: "dave-snap", Identity: "dave",
				StartedAt: end.Add(-70 * time.Second), EndedAt: &end, Standalone: true}}); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.UpdateSite(ctx, term.SiteID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{StandaloneAuth: client.Ptr(latchkey.StandaloneAuthCached)}}); err != nil {
				t.Fatal(err)
			}
			g := newGatewayAgent(t, server.URL, term.Token)
			g.cut()
			// Offline, the signed snapshot still holds dave to his quota.
			if _, err := g.login("dave", pw("dave")); latchkey.ErrorCode(err) != latchkey.EQUOTAEXCEEDED {
				t.Fatalf("dave offline with his quota used: %v, want quota_exceeded", err)
			}
			// Alice has most of hers: her session ends when it runs out.
			s := g.mustLogin("alice", pw("alice"))
			if s.EndsAt == nil || s.Limit != string(latchkey.LimitQuota) {
				t.Fatalf("alice's offline session: %+v, want her quota as its limit", s)
			}
			g.logout()
			g.restore()
		})

		t.Run("any", func(t *testing.T) {
			quota, warn := 1, 3
			site := client.SiteCreate{Name: "any", SiteSettings: latchkey.SiteSettings{StandaloneAuth: client.Ptr(latchkey.StandaloneAuthAny), StandaloneQuotas: client.Ptr(latchkey.StandaloneQuotasOff), DailyQuotaMinutes: &quota, WarningSeconds: &warn, Timezone: client.Ptr(zoneAwayFromMidnight(t))}}
			term, _ := terminal(site)
			other, err := admin.RegisterTerminal(ctx, "any pc 2", term.SiteID)
			if err != nil {
				t.Fatal(err)
			}
			otc := server.client(other.Token)
			// Dave's minute for today is used (an offline session uploaded
			// by another terminal of the site).
			end := time.Now().Add(-5 * time.Second)
			if _, err := otc.UploadJournal(ctx, []latchkey.JournalEntry{{ID: "dave-earlier", Identity: "dave",
				StartedAt: end.Add(-70 * time.Second), EndedAt: &end, Standalone: true, Verified: true}}); err != nil {
				t.Fatal(err)
			}
			if _, err := otc.StartSession(ctx, other.ID, latchkey.LoginRequest{Identity: "dave", Password: pw("dave"), TimeSent: time.Now()}); latchkey.ErrorCode(err) != latchkey.EQUOTAEXCEEDED {
				t.Fatalf("dave online: %v, want quota_exceeded", err)
			}
			g := newGatewayAgent(t, server.URL, term.Token)
			g.cut()
			g.mustLogin("bob", "not bob's password")
			g.logout()
			mallory := g.mustLogin("mallory", "anything")
			g.restore()
			st := g.waitFor("mallory logged off", func(st *agent.Status) bool { return st.Session == nil && st.LastEnded != nil })
			if st.LastEnded.ID != mallory.ID || st.LastEnded.Reason != "invalid_identity" {
				t.Fatalf("mallory's end: %+v, want invalid_identity", st.LastEnded)
			}
			if bs := standalone(bob, term.ID); len(bs) != 1 || bs[0].Status != latchkey.SessionEnded {
				t.Fatalf("bob's offline session (ended, with a wrong password): %+v", bs)
			}

			// Over quota: warned, then logged off.
			g.cut()
			g.mustLogin("dave", pw("dave")) // auth any: the server checks it on reconnect
			g.proxy.down.Store(false)
			st = g.waitFor("dave's warning", func(st *agent.Status) bool { return st.Warning != nil || st.Session == nil })
			if st.Warning == nil || st.Warning.Reason != latchkey.EQUOTAEXCEEDED {
				t.Fatalf("dave after reconnect: %+v, want the quota warning", st)
			}
			g.waitFor("dave logged off", func(st *agent.Status) bool { return st.Session == nil })
			ds := standalone(dave, term.ID)
			if len(ds) != 1 || ds[0].Status == latchkey.SessionActive || ds[0].EndReason != latchkey.EQUOTAEXCEEDED {
				t.Fatalf("dave's offline session on the server: %+v, want one, ended for quota_exceeded", ds)
			}
		})
	})
}

// zoneAwayFromMidnight picks a time zone where it is now between 01:00
// and 23:00, so a minute of quota used a moment ago is today's.
func zoneAwayFromMidnight(t *testing.T) string {
	for _, z := range []string{"UTC", "Asia/Tokyo", "America/New_York"} {
		loc, err := time.LoadLocation(z)
		if err != nil {
			continue
		}
		if h := time.Now().In(loc).Hour(); h >= 1 && h < 23 {
			return z
		}
	}
	t.Skip("no time zone data")
	return ""
}
