package sqlstore_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// appendRecords adds n audit records in one write.
func appendRecords(t *testing.T, s *sqlstore.Store, n int) {
	t.Helper()
	if err := s.Write(context.Background(), func(tx *sqlstore.Tx) error {
		for i := 0; i < n; i++ {
			tx.Record("test.filler", "x")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func exportAll(t *testing.T, s *sqlstore.Store, after int64) []latchkey.AuditRecord {
	t.Helper()
	var out []latchkey.AuditRecord
	if err := s.ExportAudit(context.Background(), admin, after, func(r latchkey.AuditRecord) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// The export reads the whole chain (several store pages) in order, from
// any seq, and only for admins; the seal signs its head.
func TestAuditExportAndSeal(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 1)
		ctx := context.Background()
		appendRecords(t, e.s, 2500) // more than two pages of the walk
		all := exportAll(t, e.s, 0)
		if len(all) < 2500 {
			t.Fatalf("exported %d records", len(all))
		}
		v := latchkey.NewChainVerifier()
		for i, r := range all {
			if r.Seq != int64(i+1) || !v.Add(r) {
				t.Fatalf("record %d: seq %d, chain ok %v", i, r.Seq, v.FirstBad == 0)
			}
		}
		headSeq := all[len(all)-1].Seq
		if tail := exportAll(t, e.s, headSeq-3); len(tail) != 3 || tail[0].Seq != headSeq-2 {
			t.Fatalf("export after %d: %d records", headSeq-3, len(tail))
		}
		if none := exportAll(t, e.s, headSeq+10); len(none) != 0 {
			t.Fatalf("export past the head: %d records", len(none))
		}
		wantCode(t, e.s.ExportAudit(ctx, admin, -1, func(latchkey.AuditRecord) error { return nil }), latchkey.EBADREQUEST)
		delegate := latchkey.Caller{Role: latchkey.RoleDelegate, PrincipalID: "x"}
		wantCode(t, e.s.ExportAudit(ctx, delegate, 0, func(latchkey.AuditRecord) error { return nil }), latchkey.EFORBIDDEN)

		seal, err := e.s.SealAudit(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		if seal.Seq != headSeq || seal.Hash != all[len(all)-1].Hash || seal.Verify("") != nil {
			t.Fatalf("seal %+v of head %d: verify %v", seal, headSeq, seal.Verify(""))
		}
		_, err = e.s.SealAudit(ctx, delegate)
		wantCode(t, err, latchkey.EFORBIDDEN)
		// A seal reads; it does not write.
		if again := exportAll(t, e.s, 0); len(again) != len(all) {
			t.Fatalf("sealing wrote %d records", len(again)-len(all))
		}
	})
}

// TestPeriodicSeal: a seal is made when the head moved past the last seal
// and none was made in the period, by the injected clock; each is an
// audit.seal record carrying a valid seal.
func TestPeriodicSeal(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 1)
		ctx := context.Background()
		due := func(want bool, what string) *latchkey.AuditSeal {
			t.Helper()
			s, err := e.s.SealAuditIfDue(ctx, time.Hour)
			if err != nil || (s != nil) != want {
				t.Fatalf("%s: seal %+v, %v; want one: %v", what, s, err, want)
			}
			return s
		}
		if s, err := e.s.SealAuditIfDue(ctx, 0); s != nil || err != nil {
			t.Fatalf("sealing off: %+v %v", s, err)
		}
		first := due(true, "never sealed")
		due(false, "just sealed")
		e.clock.Advance(2 * time.Hour)
		due(false, "a period later with nothing new but the seal itself")
		appendRecords(t, e.s, 1)
		second := due(true, "a period later with a new record")
		appendRecords(t, e.s, 1)
		e.clock.Advance(59 * time.Minute)
		due(false, "new record within the period")
		e.clock.Advance(time.Minute)
		third := due(true, "new record, period over")

		recs, err := e.s.ListAudit(ctx, admin, latchkey.AuditFilter{Action: "audit.seal"})
		if err != nil || len(recs) != 3 {
			t.Fatalf("audit.seal records: %d %v", len(recs), err)
		}
		for i, want := range []*latchkey.AuditSeal{first, second, third} {
			var got latchkey.AuditSeal
			if err := json.Unmarshal(recs[i].Details, &got); err != nil {
				t.Fatal(err)
			}
			if got.Seq != want.Seq || got.Hash != want.Hash || !got.At.Equal(want.At) || got.Verify(want.Key) != nil {
				t.Fatalf("record %d carries %+v, want %+v", recs[i].Seq, got, want)
			}
			if recs[i].Seq != want.Seq+1 {
				t.Fatalf("seal of %d recorded at %d, want right after it", want.Seq, recs[i].Seq)
			}
		}
		if v, err := e.s.VerifyAudit(ctx, admin); err != nil || !v.OK {
			t.Fatalf("verify: %+v %v", v, err)
		}
	})
}

// TestPeriodicSealOneAcrossNodes: nodes that try to seal at once (here 2
// stores on one database, 6 tries each) make one seal between them.
func TestPeriodicSealOneAcrossNodes(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 1)
		other := sqlstoretest.Open(t, e.url, sqlstoretest.Options(e.clock))
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		made := 0
		for i := 0; i < 12; i++ {
			s := e.s
			if i%2 == 1 {
				s = other
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				seal, err := s.SealAuditIfDue(ctx, time.Hour)
				if err != nil {
					t.Error(err)
				}
				if seal != nil {
					mu.Lock()
					made++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		recs, err := e.s.ListAudit(ctx, admin, latchkey.AuditFilter{Action: "audit.seal"})
		if err != nil || made != 1 || len(recs) != 1 {
			t.Fatalf("%d seals made, %d recorded (%v); want 1", made, len(recs), err)
		}
	})
}
