package apitest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/passhash"
	"latchkey/sqlstore/sqlstoretest"
)

// GET /v1/agent/policy: the site's settings, the terminal's reservations
// of the next 24 hours, verifiers made for the agent (admins, reserved
// people, recent users; never the stored hash) that expire after the
// offline days and can be revoked, and a signed quota snapshot. Both
// stores.
func TestAgentPolicy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		quota := 60
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: &quota}}, 2)
		ctx := context.Background()
		carol := w.person("carol", false, "carol")
		s := w.mustLogin(0, "alice", false)
		w.clock.Advance(20 * time.Minute)
		if _, err := w.tc[0].EndSession(ctx, s.Session.ID); err != nil {
			t.Fatal(err)
		}
		bobRes, err := w.userClient("bob").CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[0].ID, Start: w.clock.Now().Add(2 * time.Hour), Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.userClient("bob").CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[0].ID, Start: w.clock.Now().Add(30 * time.Hour), Minutes: 30}); err != nil {
			t.Fatal(err)
		}

		p, err := w.tc[0].AgentPolicy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.Terminal != w.terms[0].ID || p.ID != w.site.ID || p.DailyQuotaMinutes != 60 || p.StandaloneAuth != "cached" || !p.AllowStandalone {
			t.Fatalf("policy settings: %+v", p.Site)
		}
		if p.ReservationGrace() != latchkey.DefaultReservationGrace {
			t.Fatalf("the policy's reservation grace: %d s", p.ReservationGraceSeconds)
		}
		if len(p.Reservations) != 1 || p.Reservations[0].ID != bobRes.ID {
			t.Fatalf("reservations of the next 24 hours: %+v, want only %s", p.Reservations, bobRes.ID)
		}
		logins := map[string]latchkey.CachedVerifier{}
		for _, v := range p.Verifiers {
			logins[v.Login] = v
		}
		for _, l := range []string{"admin", "alice", "bob"} {
			if _, ok := logins[l]; !ok {
				t.Fatalf("verifiers %v lack %s", keys(logins), l)
			}
		}
		if _, ok := logins["carol"]; ok {
			t.Fatalf("carol (no reservation, never here) has a verifier")
		}
		if p.Verifiers[0].Role != latchkey.RoleAdmin {
			t.Fatalf("admins come first: %+v", p.Verifiers[0])
		}
		alice := logins["alice"]
		if ok, err := passhash.Verify(pw("alice"), alice.Verifier); err != nil || !ok {
			t.Fatalf("alice's verifier does not check her password: %v", err)
		}
		if ok, _ := passhash.Verify("wrong", alice.Verifier); ok {
			t.Fatal("alice's verifier accepts a wrong password")
		}
		if want := w.clock.Now().Add(-20 * time.Minute).Add(14 * 24 * time.Hour); !alice.ExpiresAt.Equal(want) {
			t.Fatalf("alice's verifier expires %s, want 14 days after her last online logon (%s)", alice.ExpiresAt, want)
		}
		// The quota snapshot is signed and states what is left.
		q := p.QuotaSnapshot
		if q == nil {
			t.Fatal("no quota snapshot")
		}
		if err := q.Verify(""); err != nil {
			t.Fatalf("snapshot signature: %v", err)
		}
		left := map[string]int64{}
		for _, e := range q.Entries {
			left[e.Principal] = e.SecondsLeft
		}
		if left[w.alice.ID] != 40*60 || left[w.bob.ID] != 60*60 {
			t.Fatalf("snapshot entries %+v, want alice 2400 s and bob 3600 s", q.Entries)
		}
		if _, dayEnd := latchkey.QuotaDay(w.clock.Now(), time.UTC); !q.DayEnd.Equal(dayEnd) || q.ValidUntil.After(dayEnd) {
			t.Fatalf("snapshot day ends %s, valid until %s; want %s", q.DayEnd, q.ValidUntil, dayEnd)
		}
		p2, err := w.tc[1].AgentPolicy(ctx)
		if err != nil || p2.QuotaSnapshot.PublicKey != q.PublicKey {
			t.Fatalf("every policy is signed with the server's one key: %v", err)
		}

		// Revoked: gone at the next fetch; allowed again: back.
		if err := w.admin.SetOfflineLogon(ctx, w.alice.ID, false); err != nil {
			t.Fatal(err)
		}
		if has(t, w.tc[0], "alice") {
			t.Fatal("alice's verifier survives the revocation")
		}
		if err := w.userClient("bob").SetOfflineLogon(ctx, w.alice.ID, true); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a user re-enables offline logon: %v, want forbidden", err)
		}
		if err := w.admin.SetOfflineLogon(ctx, w.alice.ID, true); err != nil {
			t.Fatal(err)
		}
		if !has(t, w.tc[0], "alice") {
			t.Fatal("alice's verifier did not come back")
		}
		// A disabled person has none.
		if _, err := w.admin.UpdatePrincipal(ctx, carol.ID, latchkey.PrincipalUpdate{Disabled: ptrTo(true)}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.admin.UpdatePrincipal(ctx, w.bob.ID, latchkey.PrincipalUpdate{Disabled: ptrTo(true)}); err != nil {
			t.Fatal(err)
		}
		if has(t, w.tc[0], "bob") {
			t.Fatal("a disabled person's verifier is in the policy")
		}
		// People read no policy.
		if st, _ := w.adminRaw(http.MethodGet, "/v1/agent/policy", ""); st != http.StatusForbidden {
			t.Fatalf("an admin token reads the agent policy: %d, want 403", st)
		}
		// 15 days on, alice's verifier has expired (bob's reservation too).
		w.clock.Advance(15 * 24 * time.Hour)
		if has(t, w.tc[0], "alice") {
			t.Fatal("alice's verifier outlives the offline days")
		}
	})
}

func has(t *testing.T, c *client.Client, login string) bool {
	t.Helper()
	p, err := c.AgentPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range p.Verifiers {
		if v.Login == login {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// POST /v1/agent/status: coming back online the agent reports the
// standalone period that just ended; it is recorded once (a repeat changes
// nothing) and a period ending before it began is refused. Both stores.
func TestAgentStatusReport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		now := w.clock.Now()
		periods := func() []latchkey.AuditRecord {
			t.Helper()
			recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "terminal.standalone"})
			if err != nil {
				t.Fatal(err)
			}
			return recs
		}
		report := latchkey.AgentStatus{Standalone: false, Since: now, StandaloneFrom: now.Add(-5 * time.Minute)}
		for range 2 {
			term, err := w.tc[0].ReportAgentStatus(ctx, report)
			if err != nil || term.Standalone {
				t.Fatalf("report: %+v, %v", term, err)
			}
		}
		recs := periods()
		if len(recs) != 1 || recs[0].Target != w.terms[0].ID {
			t.Fatalf("standalone periods recorded: %+v, want one", recs)
		}
		var d struct {
			Seconds int `json:"seconds"`
		}
		if err := json.Unmarshal(recs[0].Details, &d); err != nil || d.Seconds != 300 {
			t.Fatalf("the period's details %s: want 300 seconds", recs[0].Details)
		}
		body := `{"standalone":false,"since":"2026-01-01T00:00:00Z","standalone_from":"2026-01-02T00:00:00Z"}`
		if st, _ := w.rawAs(w.terms[0].Token, http.MethodPost, "/v1/agent/status", body); st != http.StatusBadRequest {
			t.Fatalf("a period that ends before it begins: %d, want 400", st)
		}
		if len(periods()) != 1 {
			t.Fatal("a refused report changed something")
		}
	})
}
