package latchkey_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"latchkey"
)

func auditRec(seq int64) latchkey.AuditRecord {
	return latchkey.AuditRecord{
		Seq:      seq,
		At:       t0.Add(time.Duration(seq) * time.Second),
		Actor:    fmt.Sprintf("p-%d", seq%3),
		Terminal: "term-1",
		Action:   "session.login",
		Target:   fmt.Sprintf("ses_%d", seq),
		Details:  json.RawMessage(fmt.Sprintf(`{"n":%d}`, seq)),
	}
}

// buildChain returns n correctly chained records, seq 1..n.
func buildChain(n int) []latchkey.AuditRecord {
	out := make([]latchkey.AuditRecord, n)
	prev := latchkey.GenesisHash
	for i := range out {
		r := auditRec(int64(i + 1))
		r.PrevHash = prev
		r.Hash = latchkey.ChainHash(prev, r)
		prev = r.Hash
		out[i] = r
	}
	return out
}

// verify feeds recs to a new verifier, then Finish(headSeq, headHash).
func verify(recs []latchkey.AuditRecord, headSeq int64, headHash string) *latchkey.ChainVerifier {
	v := latchkey.NewChainVerifier()
	for _, r := range recs {
		if !v.Add(r) {
			break
		}
	}
	v.Finish(headSeq, headHash)
	return v
}

func head(recs []latchkey.AuditRecord) (int64, string) {
	if len(recs) == 0 {
		return 0, latchkey.GenesisHash
	}
	r := recs[len(recs)-1]
	return r.Seq, r.Hash
}

func TestChainHash(t *testing.T) {
	t.Parallel()
	base := auditRec(7)
	prev := latchkey.ChainHash(latchkey.GenesisHash, auditRec(6))
	h := latchkey.ChainHash(prev, base)

	if len(h) != 64 {
		t.Fatalf("hash %q is not 64 hex digits", h)
	}
	if _, err := hex.DecodeString(h); err != nil {
		t.Fatalf("hash %q is not hex: %v", h, err)
	}
	if h2 := latchkey.ChainHash(prev, base); h2 != h {
		t.Fatalf("not deterministic: %s vs %s", h, h2)
	}
	if len(latchkey.GenesisHash) != 64 {
		t.Fatalf("GenesisHash has %d characters", len(latchkey.GenesisHash))
	}

	t.Run("deterministic across zones and ignores Hash/PrevHash fields", func(t *testing.T) {
		t.Parallel()
		r := base
		r.At = r.At.In(cet)
		r.Hash = "something"
		r.PrevHash = "stored prev is checked by the verifier, not hashed"
		if got := latchkey.ChainHash(prev, r); got != h {
			t.Fatalf("hash changed: %s vs %s", got, h)
		}
	})

	mutations := []struct {
		name string
		prev string
		f    func(r *latchkey.AuditRecord)
	}{
		{"seq", prev, func(r *latchkey.AuditRecord) { r.Seq++ }},
		{"at +1s", prev, func(r *latchkey.AuditRecord) { r.At = r.At.Add(time.Second) }},
		{"at +1µs", prev, func(r *latchkey.AuditRecord) { r.At = r.At.Add(time.Microsecond) }},
		{"actor", prev, func(r *latchkey.AuditRecord) { r.Actor = "p-evil" }},
		{"actor empty", prev, func(r *latchkey.AuditRecord) { r.Actor = "" }},
		{"terminal", prev, func(r *latchkey.AuditRecord) { r.Terminal = "term-2" }},
		{"terminal empty", prev, func(r *latchkey.AuditRecord) { r.Terminal = "" }},
		{"action", prev, func(r *latchkey.AuditRecord) { r.Action = "session.logout" }},
		{"target", prev, func(r *latchkey.AuditRecord) { r.Target = "ses_other" }},
		{"details", prev, func(r *latchkey.AuditRecord) { r.Details = json.RawMessage(`{"n":8}`) }},
		{"details one byte", prev, func(r *latchkey.AuditRecord) { r.Details = append(json.RawMessage{}, append(r.Details, ' ')...) }},
		{"details nil", prev, func(r *latchkey.AuditRecord) { r.Details = nil }},
		{"prev", latchkey.GenesisHash, func(r *latchkey.AuditRecord) {}},
		{"prev one char", prev[:63] + "x", func(r *latchkey.AuditRecord) {}},
		// Length prefixes: bytes cannot move between adjacent fields.
		{"actor/terminal boundary", prev, func(r *latchkey.AuditRecord) {
			r.Actor, r.Terminal = r.Actor+r.Terminal[:1], r.Terminal[1:]
		}},
		{"action/target boundary", prev, func(r *latchkey.AuditRecord) {
			r.Action, r.Target = r.Action+latchkey.Action(r.Target), ""
		}},
		{"target/details boundary", prev, func(r *latchkey.AuditRecord) {
			r.Target, r.Details = r.Target+string(r.Details[:1]), append(json.RawMessage{}, r.Details[1:]...)
		}},
		{"fields swapped", prev, func(r *latchkey.AuditRecord) { r.Actor, r.Target = r.Target, r.Actor }},
	}
	for _, m := range mutations {
		t.Run("changes with "+m.name, func(t *testing.T) {
			t.Parallel()
			r := base
			r.Details = append(json.RawMessage{}, base.Details...)
			m.f(&r)
			if got := latchkey.ChainHash(m.prev, r); got == h {
				t.Fatalf("hash unchanged after changing %s", m.name)
			}
		})
	}
}

func TestChainVerifier(t *testing.T) {
	t.Parallel()
	const n = 10
	type tc struct {
		name         string
		tamper       func(recs []latchkey.AuditRecord) []latchkey.AuditRecord
		head         func(orig []latchkey.AuditRecord) (int64, string) // nil = the original head
		wantBad      int64                                             // 0 = ok
		anyBad       bool                                              // only require FirstBad != 0
		wantRecords  int64
		checkRecords bool
	}
	edit := func(k int, f func(r *latchkey.AuditRecord)) func([]latchkey.AuditRecord) []latchkey.AuditRecord {
		return func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			f(&recs[k-1])
			return recs
		}
	}
	cases := []tc{
		{name: "intact chain", wantBad: 0, wantRecords: n, checkRecords: true},
		{name: "edit details of 4", tamper: edit(4, func(r *latchkey.AuditRecord) { r.Details = json.RawMessage(`{"n":999}`) }),
			wantBad: 4, wantRecords: 3, checkRecords: true},
		{name: "edit actor of 7", tamper: edit(7, func(r *latchkey.AuditRecord) { r.Actor = "p-evil" }),
			wantBad: 7, wantRecords: 6, checkRecords: true},
		{name: "edit at of 1", tamper: edit(1, func(r *latchkey.AuditRecord) { r.At = r.At.Add(-time.Hour) }),
			wantBad: 1, wantRecords: 0, checkRecords: true},
		{name: "edit action of last", tamper: edit(n, func(r *latchkey.AuditRecord) { r.Action = "lock.force" }),
			wantBad: n, wantRecords: n - 1, checkRecords: true},
		{name: "edit terminal of 5", tamper: edit(5, func(r *latchkey.AuditRecord) { r.Terminal = "" }), wantBad: 5},
		{name: "edit target of 6", tamper: edit(6, func(r *latchkey.AuditRecord) { r.Target = "x" }), wantBad: 6},
		{name: "edit stored hash of 3", tamper: edit(3, func(r *latchkey.AuditRecord) { r.Hash = latchkey.GenesisHash }), wantBad: 3},
		{name: "edit stored prev_hash of 8", tamper: edit(8, func(r *latchkey.AuditRecord) { r.PrevHash = latchkey.GenesisHash }), wantBad: 8},
		{name: "edit 5 and recompute its hash (breaks 6's link)", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			recs[4].Actor = "p-evil"
			recs[4].Hash = latchkey.ChainHash(recs[4].PrevHash, recs[4])
			return recs
		}, wantBad: 6},
		{name: "edit 5, recompute and relink 6 (breaks 6's hash)", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			recs[4].Actor = "p-evil"
			recs[4].Hash = latchkey.ChainHash(recs[4].PrevHash, recs[4])
			recs[5].PrevHash = recs[4].Hash
			return recs
		}, wantBad: 6},
		{name: "edit two records: the first is reported", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			recs[8].Actor = "x"
			recs[2].Actor = "x"
			return recs
		}, wantBad: 3},
		{name: "delete middle record 5", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			return append(recs[:4:4], recs[5:]...)
		}, wantBad: 5, wantRecords: 4, checkRecords: true},
		{name: "delete first record", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			return recs[1:]
		}, wantBad: 1, wantRecords: 0, checkRecords: true},
		{name: "delete middle record and renumber the rest", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			out := append(recs[:4:4], recs[5:]...)
			for i := 4; i < len(out); i++ {
				out[i].Seq--
			}
			return out
		}, wantBad: 5},
		{name: "swap records 3 and 4 in order", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			recs[2], recs[3] = recs[3], recs[2]
			return recs
		}, wantBad: 3},
		{name: "swap contents of 3 and 4 keeping seqs", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			a, b := recs[2], recs[3]
			a.Seq, b.Seq = 4, 3
			recs[2], recs[3] = b, a
			return recs
		}, wantBad: 3},
		{name: "swap details of 2 and 9", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			recs[1].Details, recs[8].Details = recs[8].Details, recs[1].Details
			return recs
		}, wantBad: 2},
		{name: "tail deleted (8 of 10 left), head still 10", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			return recs[:8]
		}, wantBad: 9, wantRecords: 8, checkRecords: true},
		{name: "record 9 deleted and 10 relinked onto 8 with a recomputed hash: the seq gap is found", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			r := recs[9]
			r.PrevHash = recs[7].Hash
			r.Hash = latchkey.ChainHash(r.PrevHash, r)
			return append(recs[:8:8], r)
		}, head: func(orig []latchkey.AuditRecord) (int64, string) {
			r := orig[9]
			return r.Seq, latchkey.ChainHash(orig[7].Hash, r)
		}, wantBad: 9, wantRecords: 8, checkRecords: true},
		{name: "tail deleted, head seq beyond the last record but with its hash", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			return recs[:8]
		}, head: func(orig []latchkey.AuditRecord) (int64, string) { return n, orig[7].Hash }, wantBad: 9, wantRecords: 8, checkRecords: true},
		{name: "everything deleted, head seq 10 with the genesis hash", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			return nil
		}, head: func(orig []latchkey.AuditRecord) (int64, string) { return n, latchkey.GenesisHash }, wantBad: 1, wantRecords: 0, checkRecords: true},
		{name: "everything deleted, head still 10", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			return nil
		}, wantBad: 1, wantRecords: 0, checkRecords: true},
		{name: "right head on a shortened chain (head rewritten too) is ok", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			return recs[:8]
		}, head: func(orig []latchkey.AuditRecord) (int64, string) { return head(orig[:8]) }, wantBad: 0, wantRecords: 8, checkRecords: true},
		{name: "head hash differs from the last record", head: func(orig []latchkey.AuditRecord) (int64, string) {
			return n, latchkey.GenesisHash
		}, anyBad: true},
		{name: "last record rewritten with a recomputed hash: head mismatch", tamper: func(recs []latchkey.AuditRecord) []latchkey.AuditRecord {
			recs[n-1].Details = json.RawMessage(`{"forged":true}`)
			recs[n-1].Hash = latchkey.ChainHash(recs[n-1].PrevHash, recs[n-1])
			return recs
		}, anyBad: true},
		{name: "head behind the records", head: func(orig []latchkey.AuditRecord) (int64, string) { return head(orig[:5]) }, anyBad: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			orig := buildChain(n)
			recs := buildChain(n)
			if c.tamper != nil {
				recs = c.tamper(recs)
			}
			hs, hh := head(orig)
			if c.head != nil {
				hs, hh = c.head(orig)
			}
			v := verify(recs, hs, hh)
			switch {
			case c.anyBad:
				if v.FirstBad == 0 {
					t.Fatal("tampering not detected")
				}
			case v.FirstBad != c.wantBad:
				t.Fatalf("FirstBad = %d, want %d (Records %d)", v.FirstBad, c.wantBad, v.Records)
			}
			if c.checkRecords && v.Records != c.wantRecords {
				t.Fatalf("Records = %d, want %d", v.Records, c.wantRecords)
			}
		})
	}
}

func TestChainVerifierEmpty(t *testing.T) {
	t.Parallel()
	v := latchkey.NewChainVerifier()
	v.Finish(0, latchkey.GenesisHash)
	if v.FirstBad != 0 || v.Records != 0 {
		t.Fatalf("empty chain: FirstBad %d Records %d, want 0 0", v.FirstBad, v.Records)
	}
	v = latchkey.NewChainVerifier()
	v.Finish(0, "")
	if v.FirstBad != 0 {
		t.Fatalf("empty chain with an empty head hash: FirstBad %d", v.FirstBad)
	}
}

// Add reports each record's verdict and, once bad, stays bad.
func TestChainVerifierAddResults(t *testing.T) {
	t.Parallel()
	recs := buildChain(5)
	recs[2].Actor = "x"
	v := latchkey.NewChainVerifier()
	want := []bool{true, true, false, false, false}
	for i, r := range recs {
		if got := v.Add(r); got != want[i] {
			t.Fatalf("Add(seq %d) = %v, want %v", r.Seq, got, want[i])
		}
	}
	if v.FirstBad != 3 || v.Records != 2 {
		t.Fatalf("FirstBad %d Records %d, want 3 2", v.FirstBad, v.Records)
	}
	// Finish does not overwrite an earlier verdict.
	v.Finish(99, "x")
	if v.FirstBad != 3 {
		t.Fatalf("Finish overwrote FirstBad: %d", v.FirstBad)
	}
	// A later good record (even the untampered 3 itself) is not accepted
	// once the chain is broken.
	good := buildChain(5)
	for _, r := range good[2:] {
		if v.Add(r) {
			t.Fatalf("verifier accepted seq %d after a bad record", r.Seq)
		}
	}
	if v.FirstBad != 3 || v.Records != 2 {
		t.Fatalf("verifier changed after a bad record: FirstBad %d Records %d, want 3 2", v.FirstBad, v.Records)
	}
}

// A duplicated record (same seq again) is bad.
func TestChainVerifierDuplicate(t *testing.T) {
	t.Parallel()
	recs := buildChain(5)
	dup := append(recs[:3:3], recs[2], recs[3], recs[4])
	v := verify(dup, 5, recs[4].Hash)
	// The duplicate is reported by its own seq (3), and Finish, run after
	// the bad record, must not overwrite that verdict.
	if v.FirstBad != 3 || v.Records != 3 {
		t.Fatalf("duplicated record: FirstBad %d Records %d, want 3 3", v.FirstBad, v.Records)
	}
}

// A record whose seq is 0 (or negative) must not read as "all is well"
// (FirstBad 0) and let verification carry on.
func TestChainVerifierSeqZeroRecordIsBad(t *testing.T) {
	t.Parallel()
	recs := buildChain(5)
	bogus := auditRec(0)
	bogus.PrevHash = latchkey.GenesisHash
	bogus.Hash = latchkey.ChainHash(latchkey.GenesisHash, bogus)
	v := latchkey.NewChainVerifier()
	ok := v.Add(bogus)
	for _, r := range recs {
		v.Add(r)
	}
	v.Finish(5, recs[4].Hash)
	if ok || v.FirstBad == 0 {
		t.Fatalf("record with seq 0 accepted: Add = %v, FirstBad = %d, Records = %d", ok, v.FirstBad, v.Records)
	}
}
