package apitest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

const (
	crashTerminals = 8
	// The stream is killed once this many calls were acknowledged, or
	// after crashRunFor, whichever comes first (but never before every
	// terminal has an acknowledged session).
	crashTargetCalls = 400
	crashRunFor      = 1500 * time.Millisecond
)

// TestCrashKeepsAcknowledgedSessionCalls kills a `latchkey serve` process
// with SIGKILL in the middle of a stream of session calls from 8
// terminals, restarts it on the same store, and finds every acknowledged
// change: each session is in the state of its last acknowledged call, or,
// only where a call on it was in flight at the kill, in the state that
// call would have made. No acknowledged session is missing, no session
// appears that no call could have made, the audit chain verifies, and no
// person has two unlocked sessions. Both store backends.
func TestCrashKeepsAcknowledgedSessionCalls(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		runCrash(t, storeURL, dataDir)
	})
}

// tracked is what the client knows of one session it was told exists.
type tracked struct {
	term     int
	acked    latchkey.Session // the state the last acknowledged call answered
	inflight string           // "lock", "unlock", "touch" or "logout": a call with no answer
	lockSent time.Time        // time_sent of an in-flight lock
	calls    int              // acknowledged calls on it, login included
}

// crashWorker drives one terminal for one person.
type crashWorker struct {
	i             int
	termID        string
	login         string
	principal     string
	c             *client.Client
	mu            sync.Mutex // guards the fields below while the loop runs
	sessions      []*tracked
	loginInFlight bool
	err           error // an answer no call should get
}

type crashCounters struct {
	acked    atomic.Int64
	inFlight atomic.Int64 // calls sent and not yet answered
	killed   atomic.Bool
	byOp     [5]atomic.Int64 // login, lock, unlock, touch, logout
}

var crashOps = [5]string{"login", "lock", "unlock", "touch", "logout"}

func runCrash(t *testing.T, storeURL, dataDir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := startServer(t, storeURL, dataDir)
	admin := p.adminLogin(t)
	site, err := admin.CreateSite(ctx, client.SiteCreate{Name: "crash branch"})
	if err != nil {
		t.Fatal(err)
	}
	workers := make([]*crashWorker, crashTerminals)
	for i := range workers {
		tm, err := admin.RegisterTerminal(ctx, fmt.Sprintf("crash counter %d", i), site.ID)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: fmt.Sprintf("crash person %d", i), Role: latchkey.RoleUser})
		if err != nil {
			t.Fatal(err)
		}
		login := fmt.Sprintf("crash%d", i)
		if _, err := admin.AddIdentity(ctx, pr.ID, login, pw(login)); err != nil {
			t.Fatal(err)
		}
		workers[i] = &crashWorker{i: i, termID: tm.ID, login: login, principal: pr.ID, c: p.client(tm.Token)}
	}

	// The stream.
	var cnt crashCounters
	var wg sync.WaitGroup
	start := time.Now()
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, &cnt)
		}()
	}
	everyTerminalStarted := func() bool {
		for _, w := range workers {
			if w.sessionCount() == 0 {
				return false
			}
		}
		return true
	}
	for ctx.Err() == nil && !anyWorkerFailed(workers) &&
		(!everyTerminalStarted() || (cnt.acked.Load() < crashTargetCalls && time.Since(start) < crashRunFor)) {
		time.Sleep(2 * time.Millisecond)
	}
	// Kill while calls are in flight (there nearly always are: 8 loops).
	for deadline := time.Now().Add(time.Second); cnt.inFlight.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Microsecond)
	}
	inFlightAtKill := cnt.inFlight.Load()
	cnt.killed.Store(true)
	p.kill()
	ran := time.Since(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("terminal loops still running 30s after the kill")
	}
	for _, w := range workers {
		if w.err != nil {
			t.Errorf("terminal %d: %v", w.i, w.err)
		}
	}
	if inFlightAtKill == 0 {
		t.Errorf("no call was in flight at the kill: the test proves less than it should")
	}

	// Restart on the same data and compare.
	q := startServer(t, storeURL, dataDir)
	// The admin token issued before the kill must still be good.
	admin2 := q.client(admin.Token())
	if _, err := admin2.GetSite(ctx, site.ID); err != nil {
		t.Errorf("admin token issued before the kill, after restart: %v", err)
		admin2 = q.adminLogin(t)
	}

	var listFailures []string // reported once: the per-session checks stand without the lists
	var nSessions, nInflight, nApplied, nNotApplied, nLoginInflight, nLoginApplied int
	ackedByOp := map[string]int64{}
	inflightByOp := map[string]int64{}
	for _, w := range workers {
		if w.loginInFlight {
			inflightByOp["login"]++
			nLoginInflight++
		}
		known := map[string]*tracked{}
		for _, s := range w.sessions {
			nSessions++
			known[s.acked.ID] = s
			if s.inflight != "" {
				inflightByOp[s.inflight]++
				nInflight++
			}
			got, err := admin2.GetSession(ctx, s.acked.ID)
			if err != nil {
				t.Errorf("terminal %d: acknowledged session %s after restart: %v", w.i, s.acked.ID, err)
				continue
			}
			if diff := sessionDiff(*got, s.acked); diff == "" {
				if s.inflight != "" {
					nNotApplied++
				}
				continue
			} else if s.inflight == "" {
				t.Errorf("terminal %d: session %s lost an acknowledged change (%d calls acknowledged): %s\n got  %s\n want %s",
					w.i, s.acked.ID, s.calls, diff, fmtSession(*got), fmtSession(s.acked))
				continue
			} else if why := inflightDiff(*got, s); why != "" {
				t.Errorf("terminal %d: session %s is neither as last acknowledged nor as the in-flight %s would leave it: %s\n got   %s\n acked %s",
					w.i, s.acked.ID, s.inflight, why, fmtSession(*got), fmtSession(s.acked))
				continue
			}
			nApplied++
		}
		// Every session of the person was made by an acknowledged login,
		// or is the one the in-flight login made.
		all, _, listErr := admin2.ListPrincipalSessions(ctx, w.principal, "", latchkey.Page{Limit: latchkey.MaxPageLimit})
		if listErr != nil {
			listFailures = append(listFailures, fmt.Sprintf("all sessions of %s: %v", w.login, listErr))
		}
		listed := map[string]bool{}
		var unknown []latchkey.Session
		for _, s := range all {
			listed[s.ID] = true
			if known[s.ID] == nil {
				unknown = append(unknown, s)
			}
		}
		for id := range known {
			if listErr == nil && !listed[id] {
				t.Errorf("terminal %d: acknowledged session %s missing from the principal's session list", w.i, id)
			}
		}
		switch {
		case len(unknown) == 0:
		case len(unknown) == 1 && w.loginInFlight:
			u := unknown[0]
			if u.Status != latchkey.SessionActive || u.LockedAt != nil || u.TerminalID != w.termID || u.Identity != w.login {
				t.Errorf("terminal %d: the in-flight login left %s", w.i, fmtSession(u))
			}
			nLoginApplied++
		default:
			for _, u := range unknown {
				t.Errorf("terminal %d: session %s exists but no acknowledged or in-flight login made it: %s",
					w.i, u.ID, fmtSession(u))
			}
		}
		active, _, err := admin2.ListPrincipalSessions(ctx, w.principal, latchkey.SessionActive, latchkey.Page{Limit: latchkey.MaxPageLimit})
		if err != nil {
			listFailures = append(listFailures, fmt.Sprintf("active sessions of %s: %v", w.login, err))
		} else if n := procCountUnlocked(active); n > 1 {
			t.Errorf("%s has %d unlocked ACTIVE sessions after restart", w.login, n)
		}
		// The terminal's token was stored, not held in memory.
		if _, err := q.client(w.c.Token()).GetTerminal(ctx, w.termID); err != nil {
			t.Errorf("terminal %d token after restart: %v", w.i, err)
		}
	}
	if len(listFailures) > 0 {
		t.Errorf("GET /v1/principals/{id}/sessions after restart failed %d times, e.g. %s", len(listFailures), listFailures[0])
	}
	for i, op := range crashOps {
		ackedByOp[op] = cnt.byOp[i].Load()
	}

	// The audit trail: intact, and one state-change record per
	// acknowledged call (touch writes none), plus at most the in-flight ones.
	if v, err := admin2.VerifyAudit(ctx); err != nil || !v.OK {
		t.Errorf("audit verify after restart: %+v, %v", v, err)
	}
	counts := procAuditCounts(t, admin2)
	for _, op := range []string{"login", "lock", "unlock", "logout"} {
		n, lo, hi := counts["session."+op], ackedByOp[op], ackedByOp[op]+inflightByOp[op]
		if n < lo || n > hi {
			t.Errorf("%d session.%s audit records; %d acknowledged, %d in flight", n, op, lo, inflightByOp[op])
		}
	}
	if counts["session.failed"] != 0 {
		t.Errorf("%d session.failed records: no call in this stream fails a session", counts["session.failed"])
	}

	// The restarted server carries on: every terminal logs its person on
	// again, and the only session cleaned up is that terminal's own.
	if !t.Failed() {
		for _, w := range workers {
			tc := q.client(w.c.Token())
			r, err := tc.StartSession(ctx, w.termID, latchkey.LoginRequest{Identity: w.login, Password: pw(w.login),
				TimeSent: time.Now().UTC()})
			if err != nil {
				t.Errorf("terminal %d: login after restart: %v", w.i, err)
				continue
			}
			for _, id := range r.Failed {
				s, err := admin2.GetSession(ctx, id)
				if err != nil || s.TerminalID != w.termID {
					t.Errorf("terminal %d: login after restart failed session %s (%v, %+v)", w.i, id, err, s)
				}
			}
		}
		if v, err := admin2.VerifyAudit(ctx); err != nil || !v.OK {
			t.Errorf("audit verify after the post-restart logins: %+v, %v", v, err)
		}
	}

	t.Logf("%s: killed after %v with %d acknowledged calls (%s) and %d in flight; "+
		"checked %d sessions: %d with a call in flight at the kill (%d applied, %d not), in-flight logins %d (%d applied)",
		strings.SplitN(storeURL, ":", 2)[0], ran.Round(time.Millisecond), cnt.acked.Load(), fmtCounts(ackedByOp),
		inFlightAtKill, nSessions, nInflight, nApplied, nNotApplied, nLoginInflight, nLoginApplied)
}

// run loops login → lock → unlock → touch → logout until the server dies
// (a transport error once cnt.killed is set) or something unexpected
// answers.
func (w *crashWorker) run(ctx context.Context, cnt *crashCounters) {
	mu := &w.mu
	for ctx.Err() == nil && !cnt.killed.Load() {
		// login
		mu.Lock()
		w.loginInFlight = true
		mu.Unlock()
		cnt.inFlight.Add(1)
		r, err := w.c.StartSession(ctx, w.termID, latchkey.LoginRequest{Identity: w.login, Password: pw(w.login),
			TimeSent: time.Now().UTC().Truncate(time.Microsecond)})
		cnt.inFlight.Add(-1)
		if err != nil {
			w.stop(cnt, "login", err, func() { w.loginInFlight = false })
			return
		}
		s := &tracked{term: w.i, acked: r.Session, calls: 1}
		mu.Lock()
		w.loginInFlight = false
		w.sessions = append(w.sessions, s)
		mu.Unlock()
		cnt.acked.Add(1)
		cnt.byOp[0].Add(1)
		if d := loginAnswerDiff(r, w); d != "" {
			w.fail(fmt.Errorf("login answered %s failed=%v: %s", fmtSession(r.Session), r.Failed, d))
			return
		}

		steps := []struct {
			op   int
			call func(sent time.Time) (*latchkey.Session, error)
		}{
			{1, func(sent time.Time) (*latchkey.Session, error) {
				return w.c.LockSession(ctx, s.acked.ID, latchkey.LockRequest{TimeSent: sent, Reason: "manual"})
			}},
			{2, func(sent time.Time) (*latchkey.Session, error) {
				return w.c.UnlockSession(ctx, s.acked.ID, latchkey.UnlockRequest{Identity: w.login, Password: pw(w.login), TimeSent: sent})
			}},
			{3, func(time.Time) (*latchkey.Session, error) { return w.c.TouchSession(ctx, s.acked.ID) }},
			{4, func(time.Time) (*latchkey.Session, error) { return w.c.EndSession(ctx, s.acked.ID) }},
		}
		for _, st := range steps {
			if ctx.Err() != nil || cnt.killed.Load() {
				return
			}
			op := crashOps[st.op]
			sent := time.Now().UTC().Truncate(time.Microsecond)
			mu.Lock()
			s.inflight, s.lockSent = op, sent
			mu.Unlock()
			cnt.inFlight.Add(1)
			got, err := st.call(sent)
			cnt.inFlight.Add(-1)
			if err != nil {
				w.stop(cnt, op, err, func() { s.inflight = "" })
				return
			}
			mu.Lock()
			prev := s.acked
			s.acked, s.inflight, s.calls = *got, "", s.calls+1
			mu.Unlock()
			cnt.acked.Add(1)
			cnt.byOp[st.op].Add(1)
			// The answer itself must be what the call does.
			if d := inflightDiffFor(*got, prev, op, sent); d != "" {
				w.fail(fmt.Errorf("%s on %s answered %s: %s", op, prev.ID, fmtSession(*got), d))
				return
			}
		}
	}
}

func (w *crashWorker) sessionCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sessions)
}

func (w *crashWorker) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

func anyWorkerFailed(ws []*crashWorker) bool {
	for _, w := range ws {
		w.mu.Lock()
		failed := w.err != nil
		w.mu.Unlock()
		if failed {
			return true
		}
	}
	return false
}

// loginAnswerDiff checks a login's answer: a new ACTIVE unlocked session
// of the worker's person at its terminal, failing nothing (the terminal's
// previous session was logged out).
func loginAnswerDiff(r *latchkey.LoginResult, w *crashWorker) string {
	s := r.Session
	switch {
	case s.ID == "" || s.Status != latchkey.SessionActive || s.LockedAt != nil || s.EndedAt != nil:
		return "want a new active, unlocked session"
	case s.TerminalID != w.termID || s.Identity != w.login || s.PrincipalID != w.principal:
		return fmt.Sprintf("want terminal %s, identity %s, principal %s", w.termID, w.login, w.principal)
	case len(r.Failed) != 0:
		return "the terminal had no active session to clean up"
	}
	return ""
}

// stop ends the loop after a call got no success. After the kill a
// transport error leaves the call in flight (its outcome is unknown);
// anything else is an answer, so the call changed nothing (answered), and
// an error for the test.
func (w *crashWorker) stop(cnt *crashCounters, op string, err error, answered func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cnt.killed.Load() && isTransportError(err) {
		return
	}
	if !isTransportError(err) {
		answered()
	}
	w.err = fmt.Errorf("%s: %w (killed=%v)", op, err, cnt.killed.Load())
}

// inflightDiff checks got against the state the in-flight call on s
// would have made.
func inflightDiff(got latchkey.Session, s *tracked) string {
	return inflightDiffFor(got, s.acked, s.inflight, s.lockSent)
}

func inflightDiffFor(got, prev latchkey.Session, op string, lockSent time.Time) string {
	if d := identityDiff(got, prev); d != "" {
		return d
	}
	if got.LastActivityAt.Before(prev.LastActivityAt) {
		return fmt.Sprintf("last_activity_at went back from %s to %s", prev.LastActivityAt, got.LastActivityAt)
	}
	switch op {
	case "lock":
		if got.Status != latchkey.SessionActive || got.LockedAt == nil || !sameTime(*got.LockedAt, lockSent) || got.EndedAt != nil {
			return fmt.Sprintf("want active, locked at %s", lockSent.Format(time.RFC3339Nano))
		}
	case "unlock":
		if got.Status != latchkey.SessionActive || got.LockedAt != nil || got.EndedAt != nil {
			return "want active and unlocked"
		}
	case "touch":
		if got.Status != latchkey.SessionActive || !sameTimePtr(got.LockedAt, prev.LockedAt) || got.EndedAt != nil {
			return "want active with locked_at unchanged"
		}
	case "logout":
		if got.Status != latchkey.SessionEnded || got.EndedAt == nil || (got.LockedAt == nil) != (prev.LockedAt == nil) {
			return "want ended, locked or not as before"
		}
	default:
		return "unknown op " + op
	}
	return ""
}

// sessionDiff compares every field a call can change.
func sessionDiff(got, want latchkey.Session) string {
	var d []string
	if x := identityDiff(got, want); x != "" {
		d = append(d, x)
	}
	if got.Status != want.Status {
		d = append(d, fmt.Sprintf("status %s, want %s", got.Status, want.Status))
	}
	if !sameTimePtr(got.LockedAt, want.LockedAt) {
		d = append(d, fmt.Sprintf("locked_at %s, want %s", fmtTimePtr(got.LockedAt), fmtTimePtr(want.LockedAt)))
	}
	if !sameTimePtr(got.EndedAt, want.EndedAt) {
		d = append(d, fmt.Sprintf("ended_at %s, want %s", fmtTimePtr(got.EndedAt), fmtTimePtr(want.EndedAt)))
	}
	if !sameTime(got.LastActivityAt, want.LastActivityAt) {
		d = append(d, fmt.Sprintf("last_activity_at %s, want %s", got.LastActivityAt.Format(time.RFC3339Nano), want.LastActivityAt.Format(time.RFC3339Nano)))
	}
	if got.EndReason != want.EndReason {
		d = append(d, fmt.Sprintf("end_reason %q, want %q", got.EndReason, want.EndReason))
	}
	return strings.Join(d, "; ")
}

func identityDiff(got, want latchkey.Session) string {
	if got.ID != want.ID || got.PrincipalID != want.PrincipalID || got.Identity != want.Identity ||
		got.TerminalID != want.TerminalID || !sameTime(got.StartedAt, want.StartedAt) || got.Standalone != want.Standalone {
		return fmt.Sprintf("identity fields differ: %s vs %s", fmtSession(got), fmtSession(want))
	}
	return ""
}

// sameTime compares at the store's resolution (microseconds).
func sameTime(a, b time.Time) bool {
	return a.UTC().Truncate(time.Microsecond).Equal(b.UTC().Truncate(time.Microsecond))
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameTime(*a, *b)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "null"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func fmtSession(s latchkey.Session) string {
	return fmt.Sprintf("{%s %s/%s@%s %s started=%s locked=%s ended=%s activity=%s reason=%q}",
		s.ID, s.PrincipalID, s.Identity, s.TerminalID, s.Status, s.StartedAt.UTC().Format(time.RFC3339Nano),
		fmtTimePtr(s.LockedAt), fmtTimePtr(s.EndedAt), s.LastActivityAt.UTC().Format(time.RFC3339Nano), s.EndReason)
}

func fmtCounts(m map[string]int64) string {
	var parts []string
	for _, op := range crashOps {
		parts = append(parts, fmt.Sprintf("%s %d", op, m[op]))
	}
	return strings.Join(parts, ", ")
}

// procAuditCounts counts every audit record by action, paging through the
// whole log.
func procAuditCounts(t *testing.T, admin *client.Client) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	var after int64
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("audit log longer than 1000 pages")
		}
		recs, _, err := admin.ListAudit(context.Background(), latchkey.AuditFilter{After: after, Limit: latchkey.MaxPageLimit})
		if err != nil {
			t.Fatalf("list audit: %v", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			out[string(r.Action)]++
		}
		after = recs[len(recs)-1].Seq
	}
	return out
}

// procCountUnlocked counts the ACTIVE unlocked sessions among ss.
func procCountUnlocked(ss []latchkey.Session) int {
	n := 0
	for _, s := range ss {
		if s.Status == latchkey.SessionActive && s.LockedAt == nil {
			n++
		}
	}
	return n
}

// TestCrashJudge checks the crash test's judge itself: it accepts exactly
// the states an in-flight call may leave, and sees any lost change.
func TestCrashJudge(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	sent := t0.Add(time.Second)
	later := t0.Add(2 * time.Second)
	prev := latchkey.Session{ID: "ses_1", PrincipalID: "prn_1", Identity: "a", TerminalID: "trm_1",
		Status: latchkey.SessionActive, StartedAt: t0, LastActivityAt: t0}
	locked := prev
	locked.LockedAt, locked.LastActivityAt = &sent, later
	other := sent.Add(time.Microsecond)
	lockedElse := locked
	lockedElse.LockedAt = &other
	ended := prev
	ended.Status, ended.EndedAt, ended.EndReason = latchkey.SessionEnded, &later, latchkey.EndLogout
	touched := prev
	touched.LastActivityAt = later
	back := prev
	back.LastActivityAt = t0.Add(-time.Second)
	failed := prev
	failed.Status = latchkey.SessionFailed
	moved := prev
	moved.TerminalID = "trm_2"
	for _, tc := range []struct {
		op   string
		prev latchkey.Session
		got  latchkey.Session
		ok   bool
	}{
		{"lock", prev, locked, true},
		{"lock", prev, lockedElse, false},
		{"lock", prev, touched, false},
		{"unlock", locked, touched, true},
		{"unlock", locked, locked, false},
		{"touch", prev, touched, true},
		{"touch", prev, back, false},
		{"touch", prev, locked, false},
		{"logout", prev, ended, true},
		{"logout", prev, failed, false},
		{"logout", locked, ended, false}, // lost its lock on the way out
		{"logout", prev, moved, false},
	} {
		if d := inflightDiffFor(tc.got, tc.prev, tc.op, sent); (d == "") != tc.ok {
			t.Errorf("in-flight %s from %s to %s: judged %q, want ok=%v", tc.op, fmtSession(tc.prev), fmtSession(tc.got), d, tc.ok)
		}
	}
	if d := sessionDiff(prev, prev); d != "" {
		t.Errorf("a session differs from itself: %s", d)
	}
	for _, lost := range []latchkey.Session{locked, ended, touched, failed} {
		if sessionDiff(prev, lost) == "" {
			t.Errorf("sessionDiff misses the change to %s", fmtSession(lost))
		}
	}
}
