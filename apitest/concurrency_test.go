package apitest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

const (
	racers     = 64
	iterations = 4
)

// TestConcurrentLoginInvariant: 64 goroutines log the same principal on at
// 64 terminals at once, some with force, some locking and unlocking. At
// every observed instant and at the end at most one ACTIVE unlocked session
// exists, and every refused call changed nothing.
func TestConcurrentLoginInvariant(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		runRace(t, b, 1)
	})
}

// TestConcurrentLoginInvariantTwoNodes runs the same race with the calls
// spread over two server nodes sharing one PostgreSQL database.
func TestConcurrentLoginInvariantTwoNodes(t *testing.T) {
	t.Parallel()
	b := sqlstoretest.Postgres()
	runRace(t, b, 2)
}

type tally struct {
	logins, unlocks, locks, logouts atomic.Int64
	refused                         atomic.Int64
}

func runRace(t *testing.T, b sqlstoretest.Backend, nodes int) {
	w := newWorld(t, b, client.SiteCreate{}, racers)
	urls := []string{w.url}
	for i := 1; i < nodes; i++ {
		urls = append(urls, w.addNode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The observer: at every instant it sees, at most one unlocked session.
	var observed atomic.Int64
	stop := make(chan struct{})
	obsDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				obsDone <- nil
				return
			default:
			}
			items, _, err := w.admin.ListPrincipalSessions(ctx, w.alice.ID, latchkey.SessionActive, latchkey.Page{Limit: 1000})
			if err != nil {
				obsDone <- err
				return
			}
			if n := countUnlocked(items); n > 1 {
				obsDone <- fmt.Errorf("observed %d unlocked ACTIVE sessions at once: %+v", n, items)
				return
			}
			observed.Add(1)
		}
	}()

	var tl tally
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := client.New(urls[i%len(urls)], client.WithToken(w.terms[i].Token))
			if err := racer(ctx, w, c, i, &tl); err != nil {
				errs <- fmt.Errorf("racer %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(stop)
	if err := <-obsDone; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	items, _, err := w.admin.ListPrincipalSessions(ctx, w.alice.ID, "", latchkey.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if n := countUnlocked(items); n > 1 {
		t.Fatalf("%d unlocked ACTIVE sessions at the end", n)
	}
	// Refused calls changed nothing: every session was made by an
	// acknowledged login, and every state-change record by an acknowledged
	// call (a refusal that wrote would show up as an extra record).
	if int64(len(items)) != tl.logins.Load() {
		t.Fatalf("%d sessions exist, %d logins were acknowledged", len(items), tl.logins.Load())
	}
	counts := auditCounts(t, w)
	for action, want := range map[string]int64{"session.login": tl.logins.Load(), "session.unlock": tl.unlocks.Load(),
		"session.lock": tl.locks.Load(), "session.logout": tl.logouts.Load()} {
		if counts[action] != want {
			t.Errorf("%d %s records, %d acknowledged calls", counts[action], action, want)
		}
	}
	// Every failed session was failed by an acknowledged login or unlock.
	failedBy := failedByAudit(t, w)
	for _, s := range items {
		if s.Status == latchkey.SessionFailed && failedBy[s.ID] == "" {
			t.Errorf("session %s is failed with no session.failed record", s.ID)
		}
	}
	if v, err := w.admin.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit chain after the race: %+v %v", v, err)
	}
	t.Logf("%s, %d node(s): %d logins, %d locks, %d unlocks, %d logouts, %d refusals, %d observations",
		b.Name, nodes, tl.logins.Load(), tl.locks.Load(), tl.unlocks.Load(), tl.logouts.Load(), tl.refused.Load(), observed.Load())
	if tl.refused.Load() == 0 || tl.logins.Load() < racers/4 {
		t.Fatalf("the race did not contend (refused %d, logins %d)", tl.refused.Load(), tl.logins.Load())
	}
}

// racer drives one terminal: log on (a third of the time with force), then
// lock, unlock (sometimes with force) or log out, at random.
func racer(ctx context.Context, w *world, c *client.Client, i int, tl *tally) error {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	term := w.terms[i].ID
	expect := func(err error, codes ...string) error {
		code := latchkey.ErrorCode(err)
		for _, c := range codes {
			if code == c {
				tl.refused.Add(1)
				return nil
			}
		}
		return fmt.Errorf("unexpected %v", err)
	}
	for it := 0; it < iterations; it++ {
		r, err := c.StartSession(ctx, term, latchkey.LoginRequest{Identity: "alice", Password: pw("alice"),
			Force: rng.IntN(3) == 0, TimeSent: time.Now().UTC()})
		if err != nil {
			if e := expect(err, latchkey.ECONCURRENTSESSION); e != nil {
				return e
			}
			continue
		}
		tl.logins.Add(1)
		id := r.Session.ID
		for step := 0; step < 3; step++ {
			var err error
			switch rng.IntN(4) {
			case 0, 1:
				if _, err = c.LockSession(ctx, id, latchkey.LockRequest{TimeSent: time.Now().UTC(), Reason: "manual"}); err == nil {
					tl.locks.Add(1)
				}
			case 2:
				if _, err = c.UnlockSession(ctx, id, latchkey.UnlockRequest{Identity: "alice", Password: pw("alice"),
					Force: rng.IntN(2) == 0, TimeSent: time.Now().UTC()}); err == nil {
					tl.unlocks.Add(1)
				}
			case 3:
				if _, err = c.EndSession(ctx, id); err == nil {
					tl.logouts.Add(1)
					step = 3
				}
			}
			if err != nil {
				if e := expect(err, latchkey.ECONCURRENTSESSION, latchkey.ESESSIONFAILED); e != nil {
					return e
				}
				if latchkey.ErrorCode(err) == latchkey.ESESSIONFAILED {
					break
				}
			}
		}
	}
	return nil
}

func countUnlocked(items []latchkey.Session) int {
	n := 0
	for _, s := range items {
		if s.Status == latchkey.SessionActive && s.LockedAt == nil {
			n++
		}
	}
	return n
}

func allAudit(t *testing.T, w *world) []latchkey.AuditRecord {
	t.Helper()
	var out []latchkey.AuditRecord
	after := int64(0)
	for {
		recs, _, err := w.admin.ListAudit(context.Background(), latchkey.AuditFilter{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
		after = recs[len(recs)-1].Seq
	}
}

func auditCounts(t *testing.T, w *world) map[string]int64 {
	out := map[string]int64{}
	for _, r := range allAudit(t, w) {
		out[string(r.Action)]++
	}
	return out
}

func failedByAudit(t *testing.T, w *world) map[string]string {
	out := map[string]string{}
	for _, r := range allAudit(t, w) {
		if r.Action != "session.failed" {
			continue
		}
		var d struct {
			By string `json:"by"`
		}
		if err := json.Unmarshal(r.Details, &d); err != nil {
			t.Fatal(err)
		}
		out[r.Target] = d.By
	}
	return out
}
