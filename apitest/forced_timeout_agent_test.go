package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// EUM-CE-CL-100 through a real agent: at a site whose forced timeout is a
// minute with a 55-second warning, an unused session at the terminal
// shows the warning (reason forced_timeout) in the agent's status about
// five seconds after its last activity, over the lock too; activity takes
// it away. (The end after the timeout is TestGatewayForcedTimeout's, with
// a fake clock: a real one would take a minute here.)
func TestAgentWarnsBeforeTheForcedTimeout(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		ctx := context.Background()
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		site := admin.site(client.SiteCreate{Name: "counters", SiteSettings: latchkey.SiteSettings{
			ForcedTimeoutMinutes: client.Ptr(1), WarningSeconds: client.Ptr(55)}})
		term := admin.terminal(site.ID, "counter 1")
		admin.user("alice")
		g := newGatewayAgent(t, srv.URL, term.Token)
		logon := time.Now()
		g.mustLogin("alice", pw("alice"))
		st := g.waitFor("the forced timeout's warning", func(s *agent.Status) bool { return s.Warning != nil })
		if since := time.Since(logon); st.Warning.Reason != agent.ReasonForcedTimeout || since < 4*time.Second ||
			st.Warning.SecondsLeft > 56 || st.Warning.SecondsLeft < 40 {
			t.Fatalf("the warning %+v, %s after the log-on", st.Warning, since)
		}
		if _, err := g.gw.Touch(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := g.gw.Status(ctx); st.Warning != nil {
			t.Fatalf("after activity: %+v", st.Warning)
		}
		if _, err := g.gw.Lock(ctx, agent.LockRequest{Reason: agent.LockManual}); err != nil {
			t.Fatal(err)
		}
		st = g.waitFor("the warning over the lock", func(s *agent.Status) bool { return s.Warning != nil })
		if st.Session.LockedAt == nil || st.Warning.Reason != agent.ReasonForcedTimeout {
			t.Fatalf("locked: %+v, %+v", st.Session, st.Warning)
		}
	})
}
