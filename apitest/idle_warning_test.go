package apitest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// EUM-CE-CL-100 through the API, both stores: a session idle until a
// minute before its site's forced timeout gets one session.warn (limit
// forced_timeout, the time left, when it ends), on the terminal's event
// stream; the sweep gives it once per idle spell; activity starts a new
// spell, warned again; past the timeout the session expires.
func TestWarningBeforeTheForcedTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{ForcedTimeoutMinutes: client.Ptr(10), WarningSeconds: client.Ptr(60)}}, 1)
		ctx := context.Background()
		id := w.mustLogin(0, "alice", false).Session.ID
		warns := func() []latchkey.AuditRecord {
			t.Helper()
			recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: string(latchkey.ActionSessionWarn), Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return recs
		}
		sweep := func() {
			t.Helper()
			if _, err := w.store.ApplyTimeouts(ctx); err != nil {
				t.Fatal(err)
			}
		}
		w.clock.Advance(8 * time.Minute)
		sweep()
		if n := len(warns()); n != 0 {
			t.Fatalf("%d warnings 2 minutes before the timeout", n)
		}
		w.clock.Advance(time.Minute + 15*time.Second)
		sweep()
		sweep() // once per idle spell
		got := warns()
		if len(got) != 1 || got[0].Target != id || got[0].Terminal != w.terms[0].ID {
			t.Fatalf("warnings 45 s before the timeout: %+v", got)
		}
		var d map[string]any
		if err := json.Unmarshal(got[0].Details, &d); err != nil {
			t.Fatal(err)
		}
		if d["limit"] != latchkey.EndForcedTimeout || d["seconds_left"] != float64(45) || d["principal"] != w.alice.ID {
			t.Fatalf("the warning's details: %v", d)
		}
		// Activity: a new spell, warned again a minute before its end.
		if _, err := w.tc[0].TouchSession(ctx, id); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(9 * time.Minute)
		sweep()
		if n := len(warns()); n != 2 {
			t.Fatalf("%d warnings after a new idle spell, want 2", n)
		}
		w.clock.Advance(time.Minute)
		sweep()
		if s := w.session(id); s.Status != latchkey.SessionExpired || s.EndReason != latchkey.EndForcedTimeout {
			t.Fatalf("past the timeout: %+v", s)
		}
		if n := len(warns()); n != 2 {
			t.Fatalf("%d warnings after the expiry, want 2", n)
		}
	})
}
