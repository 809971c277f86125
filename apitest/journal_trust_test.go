package apitest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// Issue 10, hole 4: a terminal token's journal upload is no back door.
// With standalone_auth cached, `verified` counts only when THIS terminal
// was sent the login's verifier before the entry began: otherwise an
// in-progress entry is logged off at once (unchecked) and no entry is
// charged to the person's quota. A person from the policy is judged on
// identity and quota as before (over quota: warned, then logged off).
// Before the fix carol got an ACTIVE session and bob's quota was burnt by
// a fake 23-hour session. Both stores.
func TestJournalVerifiedNeedsSentVerifier(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		quota, warn := 60, 30
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: &quota, WarningSeconds: &warn, Timezone: client.Ptr("UTC")}}, 2)
		ctx := context.Background()
		w.person("carol", false, "carol")
		w.clock.Advance(23 * time.Hour) // 08:00 next day: the quota day has 23 hours behind it
		w.adminLogin()
		at := func(d time.Duration) *time.Time { x := w.clock.Now().Add(d); return &x }
		upload := func(term int, e latchkey.JournalEntry) latchkey.JournalResult {
			t.Helper()
			res, err := w.tc[term].UploadJournal(ctx, []latchkey.JournalEntry{e})
			if err != nil || len(res) != 1 {
				t.Fatalf("upload %s: %+v, %v", e.ID, res, err)
			}
			return res[0]
		}

		// Carol never logged on here: her `verified` entry proves nothing.
		r := upload(0, latchkey.JournalEntry{ID: "forged-1", Identity: "carol", StartedAt: *at(-time.Minute), Standalone: true, Verified: true})
		if r.Verdict != latchkey.VerdictLogoff || r.Reason != latchkey.JournalUnchecked {
			t.Fatalf("carol's forged session: %+v, want logoff (unchecked)", r)
		}
		if s := w.session("forged-1"); s.Status != latchkey.SessionEnded || !s.Unverified {
			t.Fatalf("carol's forged session: %+v, want ended and unverified", s)
		}
		// A fake 23-hour session of bob's is recorded, not charged: bob
		// logs on online with his whole quota.
		r = upload(0, latchkey.JournalEntry{ID: "forged-2", Identity: "bob", StartedAt: *at(-23 * time.Hour), EndedAt: at(-time.Minute), Standalone: true, Verified: true})
		if r.Verdict != latchkey.VerdictOK {
			t.Fatalf("bob's forged ended session: %+v", r)
		}
		s := w.mustLogin(1, "bob", false).Session
		if got := w.session(s.ID); got.EndsAt == nil || !got.EndsAt.Equal(w.clock.Now().Add(time.Hour)) {
			t.Fatalf("bob's quota after the forged entry: his session ends %v, want in 60 minutes", got.EndsAt)
		}
		if _, err := w.tc[1].EndSession(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := w.login(1, "carol", false); err != nil {
			t.Fatalf("carol online after the forged entry: %v", err)
		}

		// Alice used her 60 minutes online at terminal 1, then terminal 0
		// fetched its policy (with her verifier).
		s = w.mustLogin(1, "alice", true).Session
		w.clock.Advance(61 * time.Minute)
		if _, err := w.store.ApplyTimeouts(ctx); err != nil {
			t.Fatal(err)
		}
		if !has(t, w.tc[0], "alice") {
			t.Fatal("alice's verifier is not in terminal 0's policy")
		}
		w.clock.Advance(time.Minute)
		// An entry that began after the fetch is hers: over quota, warned.
		r = upload(0, latchkey.JournalEntry{ID: "alice-ok", Identity: "alice", StartedAt: *at(-30 * time.Second), Standalone: true, Verified: true})
		if r.Verdict != latchkey.VerdictWarnThenLogoff || r.Reason != latchkey.EQUOTAEXCEEDED || w.session("alice-ok").Unverified {
			t.Fatalf("alice from the policy, over quota: %+v, want warn_then_logoff (quota_exceeded), verified", r)
		}
		// One that began before the terminal held her verifier is not.
		r = upload(0, latchkey.JournalEntry{ID: "alice-early", Identity: "alice", StartedAt: *at(-5 * time.Minute), Standalone: true, Verified: true})
		if r.Verdict != latchkey.VerdictLogoff || r.Reason != latchkey.JournalUnchecked {
			t.Fatalf("alice before the verifier was sent: %+v, want logoff (unchecked)", r)
		}
		// Another terminal never fetched a policy: hers is unchecked there.
		r = upload(1, latchkey.JournalEntry{ID: "alice-elsewhere", Identity: "alice", StartedAt: *at(-30 * time.Second), Standalone: true, Verified: true})
		if r.Verdict != latchkey.VerdictLogoff || r.Reason != latchkey.JournalUnchecked {
			t.Fatalf("alice at a terminal that was never sent her verifier: %+v, want logoff (unchecked)", r)
		}
		// Revoked offline logon: the next policy leaves her out, and
		// entries begun after it are unchecked.
		if err := w.admin.SetOfflineLogon(ctx, w.alice.ID, false); err != nil {
			t.Fatal(err)
		}
		if has(t, w.tc[0], "alice") {
			t.Fatal("alice's verifier survives the revocation")
		}
		w.clock.Advance(time.Minute)
		r = upload(0, latchkey.JournalEntry{ID: "alice-revoked", Identity: "alice", StartedAt: *at(-30 * time.Second), Standalone: true, Verified: true})
		if r.Verdict != latchkey.VerdictLogoff || r.Reason != latchkey.JournalUnchecked {
			t.Fatalf("alice after her verifier was withdrawn: %+v, want logoff (unchecked)", r)
		}
	})
}

// Issue 10, hole 4: a journal entry never adds a person to any terminal's
// verifier set: only online sessions at the site make a recent user.
// Before the fix a forged entry at the site pulled carol's verifier into
// every policy of the site. Both stores.
func TestJournalNeverAddsVerifier(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		w.person("carol", false, "carol")
		end := w.clock.Now().Add(-time.Minute)
		for i, e := range []latchkey.JournalEntry{
			{ID: "pull-1", Identity: "carol", StartedAt: end.Add(-time.Hour), EndedAt: &end, Standalone: true, Verified: true},
			{ID: "pull-2", Identity: "carol", StartedAt: end, Standalone: true, Verified: true},
		} {
			if _, err := w.tc[0].UploadJournal(ctx, []latchkey.JournalEntry{e}); err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
		}
		for i := range w.tc {
			if has(t, w.tc[i], "carol") {
				t.Fatalf("terminal %d's policy caches carol after a journal entry", i)
			}
		}
		// Her first online logon at the site does.
		w.mustLogin(1, "carol", false)
		if !has(t, w.tc[0], "carol") {
			t.Fatal("carol's online logon did not cache her verifier")
		}
	})
}

// Issue 10, hole 4: an entry's times are bounded: never in the future
// (beyond JournalClockSkew the upload is refused; within it the time is
// taken as now), never before the standalone period the agent reported,
// and no longer than the site's maximum session (clipped); each clip is
// named in the session.standalone audit record. Before the fix the
// claimed times were stored as sent. Both stores.
func TestJournalTimesBounded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		maxMin := 120
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{MaxSessionMinutes: &maxMin}}, 2)
		ctx := context.Background()
		w.clock.Advance(30 * time.Hour)
		w.adminLogin()
		now := w.clock.Now()
		at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
		// Terminal 0's agent reports a standalone period that began an hour ago.
		if _, err := w.tc[0].ReportAgentStatus(ctx, latchkey.AgentStatus{Since: now, StandaloneFrom: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			term       int
			e          latchkey.JournalEntry
			start, end time.Time
			clipped    string
		}{
			{term: 0, e: latchkey.JournalEntry{ID: "before-period", Identity: "alice", StartedAt: *at(-5 * time.Hour), EndedAt: at(-30 * time.Minute)},
				start: *at(-time.Hour), end: *at(-30 * time.Minute), clipped: `["before_standalone"]`},
			{term: 1, e: latchkey.JournalEntry{ID: "too-long", Identity: "bob", StartedAt: *at(-23 * time.Hour), EndedAt: at(-time.Minute)},
				start: *at(-23 * time.Hour), end: *at(-21 * time.Hour), clipped: `["max_session"]`},
			{term: 1, e: latchkey.JournalEntry{ID: "ends-ahead", Identity: "bob", StartedAt: *at(-10 * time.Minute), EndedAt: at(5 * time.Minute)},
				start: *at(-10 * time.Minute), end: now, clipped: `["future"]`},
			{term: 1, e: latchkey.JournalEntry{ID: "running-long", Identity: "alice2", StartedAt: *at(-20 * time.Hour)},
				start: *at(-2 * time.Hour), end: time.Time{}, clipped: `["max_session"]`},
		} {
			c.e.Standalone = true
			if _, err := w.tc[c.term].UploadJournal(ctx, []latchkey.JournalEntry{c.e}); err != nil {
				t.Fatalf("%s: %v", c.e.ID, err)
			}
			s := w.session(c.e.ID)
			if !s.StartedAt.Equal(c.start) || (!c.end.IsZero() && (s.EndedAt == nil || !s.EndedAt.Equal(c.end))) {
				t.Fatalf("%s: recorded %s–%v, want %s–%s", c.e.ID, s.StartedAt, s.EndedAt, c.start, c.end)
			}
			recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "session.standalone", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range recs {
				if r.Target == c.e.ID {
					found = strings.Contains(string(r.Details), `"clipped":`+c.clipped) &&
						strings.Contains(string(r.Details), `"claimed_started_at":"`+c.e.StartedAt.UTC().Format(time.RFC3339))
				}
			}
			if !found {
				t.Fatalf("%s: no session.standalone record flags %s with the claimed times", c.e.ID, c.clipped)
			}
		}
		// Further ahead than the clock skew: refused, nothing recorded.
		audit := w.auditCount()
		_, err := w.tc[1].UploadJournal(ctx, []latchkey.JournalEntry{{ID: "far-ahead", Identity: "bob",
			StartedAt: now.Add(latchkey.JournalClockSkew + time.Minute), Standalone: true}})
		wantCode(t, err, latchkey.EBADREQUEST)
		if w.auditCount() != audit {
			t.Fatal("a refused upload changed something")
		}
	})
}

// Issue 10, hole 4: with standalone_auth any, passwords sent in an upload
// go through the failed-attempt accounting of an online logon (5 wrong in
// a row lock the identity), and one upload checks at most 20; the rest
// are judged unchecked (an entry in progress: logoff). Before the fix
// upload passwords were checked without counting, all of them. Both
// stores.
func TestJournalPasswordsCountFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{StandaloneAuth: client.Ptr(latchkey.StandaloneAuthAny)}}, 2)
		ctx := context.Background()
		start := w.clock.Now().Add(-time.Minute)
		var wrong []latchkey.JournalEntry
		for i := range 5 {
			wrong = append(wrong, latchkey.JournalEntry{ID: fmt.Sprintf("guess-%d", i), Identity: "bob", StartedAt: start, Standalone: true, Password: fmt.Sprintf("guess-%d", i)})
		}
		res, err := w.tc[0].UploadJournal(ctx, wrong)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Verdict != latchkey.VerdictLogoff || r.Reason != latchkey.JournalInvalidIdentity {
				t.Fatalf("a wrong password: %+v, want logoff (invalid_identity)", r)
			}
		}
		if _, err := w.login(1, "bob", false); latchkey.ErrorCode(err) != latchkey.EACCOUNTLOCKED {
			t.Fatalf("bob online after 5 wrong passwords in an upload: %v, want account_locked", err)
		}
		// Locked, even his right password is refused in an upload.
		r, err := w.tc[0].UploadJournal(ctx, []latchkey.JournalEntry{{ID: "bob-right", Identity: "bob", StartedAt: start, Standalone: true, Password: pw("bob")}})
		if err != nil || r[0].Verdict != latchkey.VerdictLogoff {
			t.Fatalf("bob's right password while locked: %+v, %v; want logoff", r, err)
		}

		// 25 entries with passwords: 20 are checked, 5 are not.
		var many []latchkey.JournalEntry
		for i := range 25 {
			many = append(many, latchkey.JournalEntry{ID: fmt.Sprintf("many-%02d", i), Identity: "alice", StartedAt: start, Standalone: true, Password: "wrong"})
		}
		many[0].Password = "pw-alice"
		res, err = w.tc[1].UploadJournal(ctx, many)
		if err != nil || len(res) != 25 {
			t.Fatalf("25 entries: %v", err)
		}
		if res[0].Verdict != latchkey.VerdictOK {
			t.Fatalf("alice's right password: %+v", res[0])
		}
		for i := 1; i < 20; i++ {
			if res[i].Reason == latchkey.JournalUnchecked {
				t.Fatalf("entry %d of 20 was not checked: %+v", i, res[i])
			}
		}
		for i := 20; i < 25; i++ {
			if res[i].Verdict != latchkey.VerdictLogoff || res[i].Reason != latchkey.JournalUnchecked {
				t.Fatalf("entry %d beyond the budget: %+v, want logoff (unchecked)", i, res[i])
			}
		}
	})
}

// adminLogin gives the world's admin client a fresh token (after the
// clock moved past the old one's expiry).
func (w *world) adminLogin() {
	w.t.Helper()
	tok, err := client.New(w.url).Login(context.Background(), "admin", adminPassword)
	if err != nil {
		w.t.Fatal(err)
	}
	w.admin = client.New(w.url, client.WithToken(tok.Token))
}
