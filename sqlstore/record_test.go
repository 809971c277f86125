package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// The store records only actions listed in latchkey.Actions: an operation
// that records any other fails whole, and leaves no record.
func TestRecordRefusesUnlistedAction(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(sqlstoretest.NewClock()))
		ctx := context.Background()
		err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			tx.RecordChecked("lock.nonsense", "x")
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "not in latchkey.Actions") {
			t.Fatalf("recording an unlisted action: err %v, want the operation refused", err)
		}
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			tx.RecordChecked(latchkey.ActionLockGrant, "y")
			return nil
		}); err != nil {
			t.Fatalf("recording a listed action: %v", err)
		}
		recs, err := s.ListAudit(ctx, admin, latchkey.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Target == "x" {
				t.Fatalf("the refused operation left a record: %+v", r)
			}
		}
		if last := recs[len(recs)-1]; last.Action != latchkey.ActionLockGrant || last.Target != "y" {
			t.Fatalf("last record %+v, want lock.grant y", last)
		}
	})
}
