package latchkey_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"latchkey"
)

var sealAt = time.Date(2026, 11, 23, 9, 30, 0, 123456000, time.UTC)

func TestSealMessage(t *testing.T) {
	t.Parallel()
	h := strings.Repeat("ab", 32)
	cases := []struct {
		name    string
		seq     int64
		hash    string
		at      time.Time
		want    string
		wantErr bool
	}{
		{name: "a head", seq: 42, hash: h, at: sealAt,
			want: "latchkey audit seal v1\nseq=42\nhash=" + h + "\nat=1795426200123456\n"},
		{name: "the empty chain", seq: 0, hash: latchkey.GenesisHash, at: sealAt,
			want: "latchkey audit seal v1\nseq=0\nhash=" + latchkey.GenesisHash + "\nat=1795426200123456\n"},
		{name: "zone does not matter", seq: 42, hash: h, at: sealAt.In(time.FixedZone("X", 3600)),
			want: "latchkey audit seal v1\nseq=42\nhash=" + h + "\nat=1795426200123456\n"},
		{name: "big seq", seq: 1<<62 + 1, hash: h, at: time.UnixMicro(0),
			want: "latchkey audit seal v1\nseq=4611686018427387905\nhash=" + h + "\nat=0\n"},
		{name: "negative seq", seq: -1, hash: h, at: sealAt, wantErr: true},
		{name: "short hash", seq: 1, hash: h[:62], at: sealAt, wantErr: true},
		{name: "upper-case hash", seq: 1, hash: strings.ToUpper(h), at: sealAt, wantErr: true},
		{name: "hash with a newline (field injection)", seq: 1, hash: h[:63] + "\n", at: sealAt, wantErr: true},
		{name: "empty hash", seq: 1, hash: "", at: sealAt, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := latchkey.SealMessage(c.seq, c.hash, c.at)
			if c.wantErr {
				if err == nil {
					t.Fatalf("SealMessage = %q, want an error", got)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("SealMessage = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	// Different heads never share a message.
	a, _ := latchkey.SealMessage(1, h, sealAt)
	b, _ := latchkey.SealMessage(11, h, sealAt)
	c, _ := latchkey.SealMessage(1, h, sealAt.Add(time.Microsecond))
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("distinct seals share a message")
	}
}

func TestSealSignAndVerify(t *testing.T) {
	t.Parallel()
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	otherPub := base64.StdEncoding.EncodeToString(other.Public().(ed25519.PublicKey))
	h := strings.Repeat("0f", 32)
	seal, err := latchkey.SignSeal(key, 9, h, sealAt.Add(789*time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	if !seal.At.Equal(sealAt) {
		t.Fatalf("seal at %v, want it at microseconds %v", seal.At, sealAt)
	}
	if _, err := latchkey.SignSeal(key, 9, "nothex", sealAt); err == nil {
		t.Fatal("SignSeal accepted a malformed hash")
	}
	cases := []struct {
		name   string
		change func(s *latchkey.AuditSeal)
		pinned string
		want   error // nil: valid
	}{
		{name: "as signed", change: func(*latchkey.AuditSeal) {}},
		{name: "pinned to its key", change: func(*latchkey.AuditSeal) {}, pinned: seal.Key},
		{name: "pinned to another key", change: func(*latchkey.AuditSeal) {}, pinned: otherPub, want: latchkey.ErrSealKey},
		{name: "seq changed", change: func(s *latchkey.AuditSeal) { s.Seq++ }, want: latchkey.ErrSealSignature},
		{name: "hash changed", change: func(s *latchkey.AuditSeal) { s.Hash = strings.Repeat("0e", 32) }, want: latchkey.ErrSealSignature},
		{name: "at changed", change: func(s *latchkey.AuditSeal) { s.At = s.At.Add(time.Microsecond) }, want: latchkey.ErrSealSignature},
		{name: "key swapped for another (re-signed by nobody)", change: func(s *latchkey.AuditSeal) { s.Key = otherPub }, want: latchkey.ErrSealSignature},
		{name: "signature garbled", change: func(s *latchkey.AuditSeal) { s.Signature = "AAAA" + s.Signature[4:] }, want: latchkey.ErrSealSignature},
		{name: "signature not base64", change: func(s *latchkey.AuditSeal) { s.Signature = "!!" }, want: latchkey.ErrSealSignature},
		{name: "key not base64", change: func(s *latchkey.AuditSeal) { s.Key = "!!" }, want: latchkey.ErrSealSignature},
		{name: "signed by another key, honestly", change: func(s *latchkey.AuditSeal) {
			*s, _ = latchkey.SignSeal(other, s.Seq, s.Hash, s.At)
		}, pinned: seal.Key, want: latchkey.ErrSealKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := seal
			c.change(&s)
			err := s.Verify(c.pinned)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
	// A seal survives a JSON round trip (what the seal files hold).
	b, _ := json.Marshal(seal)
	var back latchkey.AuditSeal
	if err := json.Unmarshal(b, &back); err != nil || back.Verify(seal.Key) != nil {
		t.Fatalf("seal after JSON: %v %v", err, back.Verify(seal.Key))
	}
}

func TestSealDue(t *testing.T) {
	t.Parallel()
	now := sealAt
	cases := []struct {
		name  string
		last  latchkey.LastSeal
		head  int64
		every time.Duration
		want  bool
	}{
		{name: "never sealed, records exist", head: 5, every: time.Hour, want: true},
		{name: "never sealed, empty chain", head: 0, every: time.Hour, want: false},
		{name: "sealing off", head: 5, every: 0, want: false},
		{name: "sealing off (negative)", head: 5, every: -time.Second, want: false},
		{name: "period passed, head moved", last: latchkey.LastSeal{RecordSeq: 10, At: now.Add(-time.Hour)}, head: 11, every: time.Hour, want: true},
		{name: "period passed long ago, head moved", last: latchkey.LastSeal{RecordSeq: 10, At: now.Add(-48 * time.Hour)}, head: 30, every: time.Hour, want: true},
		{name: "period passed, only the seal's own record since", last: latchkey.LastSeal{RecordSeq: 10, At: now.Add(-2 * time.Hour)}, head: 10, every: time.Hour, want: false},
		{name: "within the period, head moved (another node sealed)", last: latchkey.LastSeal{RecordSeq: 10, At: now.Add(-59 * time.Minute)}, head: 50, every: time.Hour, want: false},
		{name: "one microsecond short", last: latchkey.LastSeal{RecordSeq: 10, At: now.Add(-time.Hour + time.Microsecond)}, head: 50, every: time.Hour, want: false},
		{name: "last seal in the future (clock stepped back)", last: latchkey.LastSeal{RecordSeq: 10, At: now.Add(time.Hour)}, head: 50, every: time.Hour, want: false},
		{name: "short period", last: latchkey.LastSeal{RecordSeq: 3, At: now.Add(-time.Second)}, head: 4, every: time.Second, want: true},
	}
	for _, c := range cases {
		if got := latchkey.SealDue(c.last, c.head, now, c.every); got != c.want {
			t.Errorf("%s: SealDue = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestChainVerifierSeals: a chain rewritten and recomputed from some record
// on (what anyone who can write the database can do) passes the chain check
// but not the seals; a truncated chain with a rewritten head neither.
func TestChainVerifierSeals(t *testing.T) {
	t.Parallel()
	const n = 12
	seal := func(recs []latchkey.AuditRecord, seq int64) latchkey.AuditSeal {
		if seq == 0 {
			return latchkey.AuditSeal{Seq: 0, Hash: latchkey.GenesisHash}
		}
		return latchkey.AuditSeal{Seq: seq, Hash: recs[seq-1].Hash}
	}
	// rewrite edits record k and recomputes the chain and head from it.
	rewrite := func(recs []latchkey.AuditRecord, k int64) []latchkey.AuditRecord {
		out := append([]latchkey.AuditRecord(nil), recs...)
		out[k-1].Details = json.RawMessage(`{"forged":true}`)
		for i := k - 1; i < int64(len(out)); i++ {
			if i > 0 {
				out[i].PrevHash = out[i-1].Hash
			}
			out[i].Hash = latchkey.ChainHash(out[i].PrevHash, out[i])
		}
		return out
	}
	cases := []struct {
		name        string
		seals       []int64
		tamper      func([]latchkey.AuditRecord) []latchkey.AuditRecord
		wantBad     int64
		wantReason  string
		wantMatched int64
	}{
		{name: "intact, sealed at the head", seals: []int64{n}, wantMatched: n},
		{name: "intact, several seals", seals: []int64{0, 3, 7, n}, wantMatched: n},
		{name: "intact, head beyond the seal", seals: []int64{5}, wantMatched: 5},
		{name: "record 4 rewritten and recomputed, seal at 12", seals: []int64{n},
			tamper:  func(r []latchkey.AuditRecord) []latchkey.AuditRecord { return rewrite(r, 4) },
			wantBad: n, wantReason: latchkey.BrokenSeal},
		{name: "record 4 rewritten, seals at 3 and 7: found between them", seals: []int64{3, 7, n},
			tamper:  func(r []latchkey.AuditRecord) []latchkey.AuditRecord { return rewrite(r, 4) },
			wantBad: 7, wantReason: latchkey.BrokenSeal, wantMatched: 3},
		{name: "record 4 rewritten, sealed exactly at 4", seals: []int64{4},
			tamper:  func(r []latchkey.AuditRecord) []latchkey.AuditRecord { return rewrite(r, 4) },
			wantBad: 4, wantReason: latchkey.BrokenSeal},
		{name: "record 9 rewritten after the seal at 7: not the seal's to find", seals: []int64{7},
			tamper: func(r []latchkey.AuditRecord) []latchkey.AuditRecord { return rewrite(r, 9) }, wantMatched: 7},
		{name: "record 4 edited without recomputing: the exact record", seals: []int64{n},
			tamper:  func(r []latchkey.AuditRecord) []latchkey.AuditRecord { r[3].Actor = "x"; return r },
			wantBad: 4, wantReason: latchkey.BrokenChain},
		{name: "truncated to 8 with a rewritten head, seal at 10", seals: []int64{10},
			tamper:  func(r []latchkey.AuditRecord) []latchkey.AuditRecord { return r[:8] },
			wantBad: 9, wantReason: latchkey.BrokenTruncated},
		{name: "truncated to 0, seal at 1", seals: []int64{1},
			tamper:  func(r []latchkey.AuditRecord) []latchkey.AuditRecord { return nil },
			wantBad: 1, wantReason: latchkey.BrokenTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			orig := buildChain(n)
			var seals []latchkey.AuditSeal
			for _, s := range c.seals {
				seals = append(seals, seal(orig, s))
			}
			recs := buildChain(n)
			if c.tamper != nil {
				recs = c.tamper(recs)
			}
			// The head is always rewritten to match: the attacker's best.
			v := latchkey.NewChainVerifier()
			if err := v.Expect(seals...); err != nil {
				t.Fatal(err)
			}
			plain := latchkey.NewChainVerifier()
			for _, r := range recs {
				plain.Add(r)
				v.Add(r)
			}
			hs, hh := head(recs)
			v.Finish(hs, hh)
			plain.Finish(hs, hh)
			got := v.Verification()
			if got.FirstBadSeq != c.wantBad || got.Reason != c.wantReason || got.SealMatched != c.wantMatched {
				t.Fatalf("verification %+v; want first bad %d reason %q matched %d", got, c.wantBad, c.wantReason, c.wantMatched)
			}
			if got.OK != (c.wantBad == 0) {
				t.Fatalf("OK = %v with first bad %d", got.OK, got.FirstBadSeq)
			}
			if c.wantReason != latchkey.BrokenChain && plain.FirstBad != 0 {
				t.Fatalf("the chain alone should look fine here (the hole seals close), got first bad %d", plain.FirstBad)
			}
		})
	}
}

func TestChainVerifierExpectRefusesContradictions(t *testing.T) {
	t.Parallel()
	h1, h2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	if err := latchkey.NewChainVerifier().Expect(latchkey.AuditSeal{Seq: 3, Hash: h1}, latchkey.AuditSeal{Seq: 3, Hash: h2}); err == nil {
		t.Fatal("two different hashes for seq 3 accepted")
	}
	if err := latchkey.NewChainVerifier().Expect(latchkey.AuditSeal{Seq: 0, Hash: h1}); err == nil {
		t.Fatal("a seal of seq 0 with a non-genesis hash accepted")
	}
	if err := latchkey.NewChainVerifier().Expect(latchkey.AuditSeal{Seq: 3, Hash: h1}, latchkey.AuditSeal{Seq: 3, Hash: h1}); err != nil {
		t.Fatalf("the same seal twice: %v", err)
	}
}

func TestAuditExportLineRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range buildChain(3) {
		r.Details = json.RawMessage(`{"a": "<b>",  "c":1}`) // not compact, HTML: kept byte for byte
		r.Hash = latchkey.ChainHash(r.PrevHash, r)
		b, err := json.Marshal(r.ExportLine())
		if err != nil {
			t.Fatal(err)
		}
		var l latchkey.AuditLine
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		back, err := l.Record()
		if err != nil {
			t.Fatal(err)
		}
		if latchkey.ChainHash(back.PrevHash, back) != r.Hash || !bytes.Equal(back.Details, r.Details) || !back.At.Equal(r.At) {
			t.Fatalf("line %s does not round-trip: %+v", b, back)
		}
	}
	bad := buildChain(1)[0].ExportLine()
	bad.AtMicros++
	if _, err := bad.Record(); err == nil {
		t.Fatal("a line whose at and at_us disagree was accepted")
	}
}

// TestChainVerifierKept: an earlier export kept elsewhere names exactly
// the first record a recomputed rewrite changed, where seals only bound it.
func TestChainVerifierKept(t *testing.T) {
	t.Parallel()
	const n = 10
	orig := buildChain(n)
	rewritten := buildChain(n)
	rewritten[5].Actor = "mallory" // record 6
	for i := 5; i < n; i++ {
		rewritten[i].PrevHash = rewritten[i-1].Hash
		rewritten[i].Hash = latchkey.ChainHash(rewritten[i].PrevHash, rewritten[i])
	}
	cases := []struct {
		name       string
		recs       []latchkey.AuditRecord
		keptUpTo   int64 // the kept export holds records 1..keptUpTo
		wantBad    int64
		wantReason string
	}{
		{name: "intact", recs: orig, keptUpTo: n},
		{name: "intact, export shorter than the chain", recs: orig, keptUpTo: 4},
		{name: "rewritten at 6, export up to 8", recs: rewritten, keptUpTo: 8, wantBad: 6, wantReason: latchkey.BrokenKept},
		{name: "rewritten at 6, export up to 6", recs: rewritten, keptUpTo: 6, wantBad: 6, wantReason: latchkey.BrokenKept},
		{name: "rewritten at 6, export up to 5: not the export's to find", recs: rewritten, keptUpTo: 5},
	}
	for _, c := range cases {
		v := latchkey.NewChainVerifier()
		for _, r := range c.recs {
			kept := ""
			if r.Seq <= c.keptUpTo {
				kept = orig[r.Seq-1].Hash
			}
			v.AddKept(r, kept)
		}
		hs, hh := head(c.recs)
		v.Finish(hs, hh)
		if v.FirstBad != c.wantBad || v.Reason != c.wantReason {
			t.Errorf("%s: first bad %d (%q), want %d (%q)", c.name, v.FirstBad, v.Reason, c.wantBad, c.wantReason)
		}
	}
}
