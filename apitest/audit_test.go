package apitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// Seal and export are for admins: other roles get 403, no token 401.
func TestAuditSealAndExportAdminOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		_, delegate := w.staff("dora", latchkey.RoleDelegate)
		user := w.userClient("alice")
		seal, err := w.admin.AuditSeal(ctx)
		if err != nil || seal.Verify("") != nil || seal.Seq < 5 {
			t.Fatalf("admin seal %+v %v", seal, err)
		}
		for _, path := range []string{"/v1/audit/seal", "/v1/audit/export", "/v1/audit/export?after=2"} {
			if st, body := w.rawAs(w.admin.Token(), "GET", path, ""); st != http.StatusOK {
				t.Fatalf("admin GET %s: %d %s", path, st, body)
			}
			for who, tok := range map[string]string{"delegate": delegate.Token(), "user": user.Token(), "terminal": w.tc[0].Token()} {
				if st, body := w.rawAs(tok, "GET", path, ""); st != http.StatusForbidden {
					t.Errorf("%s GET %s: %d %s, want 403", who, path, st, body)
				}
			}
			if st, body := w.rawAs("", "GET", path, ""); st != http.StatusUnauthorized {
				t.Errorf("no token GET %s: %d %s, want 401", path, st, body)
			}
		}
		_, err = delegate.AuditSeal(ctx)
		wantCode(t, err, latchkey.EFORBIDDEN)
		err = delegate.ExportAudit(ctx, 0, func(latchkey.AuditLine) error { return nil })
		wantCode(t, err, latchkey.EFORBIDDEN)
		st, body := w.rawAs(w.admin.Token(), "GET", "/v1/audit/export?after=-3", "")
		if st != http.StatusBadRequest {
			t.Fatalf("export after=-3: %d %s", st, body)
		}
	})
}

// TestAuditTamperCaughtBySeal is hole 13: someone who can write the
// database edits a record and recomputes the chain and the head. The
// server's own verify says ok (the hole); the seals kept outside catch it
// and name the record.
func TestAuditTamperCaughtBySeal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		before, err := w.admin.AuditSeal(ctx) // kept outside, before the login
		if err != nil {
			t.Fatal(err)
		}
		w.mustLogin(0, "alice", false)
		atLogin, err := w.admin.AuditSeal(ctx) // kept outside, just after it
		if err != nil {
			t.Fatal(err)
		}
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{After: before.Seq, Action: "session.login"})
		if err != nil || len(recs) != 1 || recs[0].Seq != atLogin.Seq {
			t.Fatalf("the login's record: %+v %v (seals %d, %d)", recs, err, before.Seq, atLogin.Seq)
		}
		login := recs[0].Seq
		w.mustLogin(1, "bob", false)
		later, err := w.admin.AuditSeal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w.person("carol", false, "carol") // the head moves on past every seal
		seals := []latchkey.AuditSeal{*before, *atLogin, *later}

		if v, err := w.admin.VerifyAuditSeals(ctx, seals, before.Key); err != nil || !v.OK || v.SealMatched != later.Seq {
			t.Fatalf("intact chain against the seals: %+v %v", v, err)
		}
		var kept bytes.Buffer // an export kept elsewhere
		enc := json.NewEncoder(&kept)
		if err := w.admin.ExportAudit(ctx, 0, func(l latchkey.AuditLine) error { return enc.Encode(l) }); err != nil {
			t.Fatal(err)
		}

		// The attack: the login is now someone else's, chain and head
		// recomputed.
		sqlstoretest.RewriteAudit(t, w.storeURL, login, func(r *latchkey.AuditRecord) { r.Actor = "mallory" })
		if v, err := w.admin.VerifyAudit(ctx); err != nil || !v.OK {
			t.Fatalf("plain verify after a recomputed rewrite: %+v %v (the chain alone cannot see it)", v, err)
		}
		v, err := w.admin.VerifyAuditSeals(ctx, seals, before.Key)
		if err != nil {
			t.Fatal(err)
		}
		if v.OK || v.FirstBadSeq != login || v.Reason != latchkey.BrokenSeal || v.SealMatched != before.Seq {
			t.Fatalf("verify against the seals: %+v; want record %d named (reason seal, last good seal %d)", v, login, before.Seq)
		}
		// With only the later seal, the rewrite is caught there: it lies
		// after the last seal that matched (none) and at or before it.
		v, err = w.admin.VerifyAuditSeals(ctx, []latchkey.AuditSeal{*later}, "")
		if err != nil || v.OK || v.FirstBadSeq != later.Seq || v.Reason != latchkey.BrokenSeal || v.SealMatched != 0 {
			t.Fatalf("verify against the later seal: %+v %v", v, err)
		}
		// The kept export names the rewritten record exactly, with no seal
		// near it.
		v, err = w.admin.VerifyAuditAgainst(ctx, client.AuditCheck{Seals: []latchkey.AuditSeal{*later}, Kept: bytes.NewReader(kept.Bytes())})
		if err != nil || v.OK || v.FirstBadSeq != login || v.Reason != latchkey.BrokenKept {
			t.Fatalf("verify against the kept export: %+v %v; want record %d", v, err, login)
		}
		// A damaged kept export is refused, not believed.
		damaged := strings.Replace(kept.String(), `"action":"auth.login"`, `"action":"auth.logout"`, 1)
		if _, err := w.admin.VerifyAuditAgainst(ctx, client.AuditCheck{Kept: strings.NewReader(damaged)}); err == nil || !strings.Contains(err.Error(), "kept export is itself broken") {
			t.Fatalf("damaged kept export: %v", err)
		}
		// A seal made now, by the same key, seals the rewritten chain:
		// only seals kept from before catch it.
		now, err := w.admin.AuditSeal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := w.admin.VerifyAuditSeals(ctx, []latchkey.AuditSeal{*now}, ""); err != nil || !v.OK {
			t.Fatalf("a fresh seal of the rewritten chain: %+v %v", v, err)
		}
	})
}

// A truncated chain whose head was set back, and a plain edit, are caught
// too; a seal under another key than the pinned one is refused.
func TestAuditTruncationAndEditCaughtBySeal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		w.mustLogin(0, "alice", false)
		seal, err := w.admin.AuditSeal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A plain edit (no recomputing) is named exactly, seal or not.
		sqlstoretest.Tamper(t, w.storeURL, "UPDATE audit SET target = 'x' WHERE seq = 3")
		v, err := w.admin.VerifyAuditSeals(ctx, []latchkey.AuditSeal{*seal}, "")
		if err != nil || v.OK || v.FirstBadSeq != 3 || v.Reason != latchkey.BrokenChain {
			t.Fatalf("edited record 3: %+v %v", v, err)
		}
		// The newest records deleted and the head set back: the chain
		// verifies alone, not against the seal.
		sqlstoretest.TruncateAudit(t, w.storeURL, 2)
		if v, err := w.admin.VerifyAudit(ctx); err != nil || !v.OK {
			t.Fatalf("plain verify after truncation: %+v %v", v, err)
		}
		v, err = w.admin.VerifyAuditSeals(ctx, []latchkey.AuditSeal{*seal}, "")
		if err != nil || v.OK || v.FirstBadSeq != 3 || v.Reason != latchkey.BrokenTruncated {
			t.Fatalf("truncated to 2 under a seal of %d: %+v %v", seal.Seq, v, err)
		}
		// Pinned to another key: the server's seals are refused.
		other := *seal
		other.Key = "bm90IHRoZSBzZXJ2ZXIncyBrZXkgYXQgYWxsIDMyYnl0ZXM="
		if _, err := w.admin.VerifyAuditSeals(ctx, []latchkey.AuditSeal{*seal}, other.Key); err == nil {
			t.Fatal("verify pinned to another key passed")
		}
		forged := *seal
		forged.Hash = latchkey.GenesisHash
		if _, err := w.admin.VerifyAuditSeals(ctx, []latchkey.AuditSeal{forged}, ""); err == nil {
			t.Fatal("a seal with a changed hash was taken")
		}
	})
}
