package apitest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// EUM-CE-CL-30 through the API, on both stores: a site whose
// transaction_on_lock is complete refuses a manual lock during a
// transaction (conflict, details.transaction must_complete) and changes
// nothing; an inactivity lock and a lock outside a transaction go
// through; once the site pauses transactions, the lock goes through and
// its audit record says the transaction was paused. A bad setting is a
// 400 naming the field.
func TestLockDuringATransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		complete := latchkey.TransactionComplete
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{TransactionOnLock: &complete}}, 1)
		if w.site.TransactionOnLock != latchkey.TransactionComplete {
			t.Fatalf("the site: %+v", w.site)
		}
		id := w.mustLogin(0, "alice", false).Session.ID
		before := w.snapshot()
		lockIn := func(reason latchkey.LockReason) (*latchkey.Session, error) {
			return w.tc[0].LockSession(ctx, id, latchkey.LockRequest{TimeSent: w.clock.Now(), Reason: reason, InTransaction: true})
		}
		_, err := lockIn(latchkey.LockManual)
		wantCode(t, err, latchkey.ECONFLICT)
		if le := err.(*latchkey.Error); le.Details["transaction"] != "must_complete" {
			t.Fatalf("details: %v", le.Details)
		}
		w.assertUnchanged(before, "a lock refused during a transaction")

		if s, err := lockIn(latchkey.LockInactivity); err != nil || s.LockedAt == nil {
			t.Fatalf("an inactivity lock during a transaction: %+v, %v", s, err)
		}
		if _, err := w.unlock(0, id, "alice", false); err != nil {
			t.Fatal(err)
		}
		w.mustLock(0, id) // no transaction
		if _, err := w.unlock(0, id, "alice", false); err != nil {
			t.Fatal(err)
		}

		pause := latchkey.TransactionPause
		if _, err := w.admin.UpdateSite(ctx, w.site.ID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{TransactionOnLock: &pause}}); err != nil {
			t.Fatal(err)
		}
		if s, err := lockIn(latchkey.LockManual); err != nil || s.LockedAt == nil {
			t.Fatalf("a manual lock during a transaction at a site that pauses them: %+v, %v", s, err)
		}
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "session.lock"})
		if err != nil || len(recs) == 0 || !strings.Contains(string(recs[0].Details), `"transaction":"paused"`) {
			t.Fatalf("the lock's audit record: %+v, %v", recs, err)
		}

		status, body := w.adminRaw(http.MethodPatch, "/v1/sites/"+w.site.ID, `{"transaction_on_lock":"maybe"}`)
		if status != http.StatusBadRequest || !strings.Contains(body, `"field":"transaction_on_lock"`) {
			t.Fatalf("a bad transaction_on_lock: %d %s", status, body)
		}
	})
}
