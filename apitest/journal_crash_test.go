package apitest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// An agent's journal uploads while the server is SIGKILLed and restarted
// again and again: the agent retries every batch until it is answered, and
// in the end every offline session is on the server exactly once, none
// lost, none twice (an upload is one transaction, and a re-upload of a
// batch that did commit changes nothing). Both store backends.
func TestCrashJournalUploadExactlyOnce(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		const entries, batch, kills = 3000, 250, 3
		ctx := context.Background()
		p := startServer(t, storeURL, dataDir)
		admin := p.adminLogin(t)
		token := admin.Token()
		site, err := admin.CreateSite(ctx, client.SiteCreate{Name: "crash"})
		if err != nil {
			t.Fatal(err)
		}
		term, err := admin.RegisterTerminal(ctx, "crash pc", site.ID)
		if err != nil {
			t.Fatal(err)
		}
		var people []*latchkey.Principal
		for i := range 5 {
			name := fmt.Sprintf("crash%d", i)
			pr, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: name, Role: latchkey.RoleUser})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := admin.AddIdentity(ctx, pr.ID, name, pw(name)); err != nil {
				t.Fatal(err)
			}
			people = append(people, pr)
		}
		base := time.Now().Add(-10 * time.Hour)
		var journal []latchkey.JournalEntry
		for i := range entries {
			start := base.Add(time.Duration(i) * 10 * time.Second)
			end := start.Add(5 * time.Second)
			journal = append(journal, latchkey.JournalEntry{ID: fmt.Sprintf("crash-%04d", i), Identity: fmt.Sprintf("crash%d", i%len(people)),
				StartedAt: start, EndedAt: &end, Standalone: true, Verified: true})
		}

		var current atomic.Pointer[proc]
		current.Store(p)
		var cutOff, answered atomic.Int32 // uploads that got no answer; batches answered
		done := make(chan error, 1)
		go func() { // the agent: each batch until it is answered
			for from := 0; from < entries; from += batch {
				for attempt := 0; ; attempt++ {
					tc := current.Load().client(term.Token)
					res, err := tc.UploadJournal(ctx, journal[from:from+batch])
					if err == nil {
						answered.Add(1)
						for i, r := range res {
							if r.Verdict != latchkey.VerdictOK || r.Session != journal[from+i].ID {
								done <- fmt.Errorf("entry %s: %+v", journal[from+i].ID, r)
								return
							}
						}
						break
					}
					cutOff.Add(1)
					if !isTransportError(err) || attempt > 2000 {
						done <- fmt.Errorf("batch at %d: %v", from, err)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			done <- nil
		}()
		for k := range kills {
			time.Sleep(time.Duration(60+k*40) * time.Millisecond)
			if k == 0 && answered.Load() == entries/batch {
				t.Fatal("every batch was answered before the first kill: the test did not exercise a crash")
			}
			current.Load().kill()
			current.Store(startServer(t, storeURL, dataDir))
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("the uploads did not finish")
		}

		if cutOff.Load() == 0 {
			t.Fatal("no upload was cut off by a kill")
		}
		t.Logf("%d upload attempts cut off by %d kills", cutOff.Load(), kills)
		admin = current.Load().client(token)
		seen := map[string]int{}
		for _, pr := range people {
			after := ""
			for {
				items, next, err := admin.ListPrincipalSessions(ctx, pr.ID, "", latchkey.Page{Limit: 1000, After: after})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range items {
					seen[s.ID]++
				}
				if next == "" {
					break
				}
				after = next
			}
		}
		for _, e := range journal {
			if seen[e.ID] != 1 {
				t.Fatalf("entry %s is on the server %d times, want once", e.ID, seen[e.ID])
			}
		}
		if len(seen) != entries {
			t.Fatalf("%d sessions on the server, want %d", len(seen), entries)
		}
	})
}
