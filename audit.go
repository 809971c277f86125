package latchkey

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// AuditRecord is one entry of the append-only, hash-chained audit log. The
// same log, read in seq order, is the event stream.
type AuditRecord struct {
	Seq      int64           `json:"seq"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Terminal string          `json:"terminal,omitempty"`
	Action   Action          `json:"action"`
	Target   string          `json:"target"`
	Details  json.RawMessage `json:"details"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// GenesisHash is the chain's value before its first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ChainHash returns the hash of r chained onto prev: SHA-256 over a
// length-prefixed encoding of prev and every field but Hash, so no field's
// bytes can be moved into another's.
func ChainHash(prev string, r AuditRecord) string {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put([]byte(prev))
	binary.BigEndian.PutUint64(n[:], uint64(r.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(r.At.UTC().UnixMicro()))
	h.Write(n[:])
	put([]byte(r.Actor))
	put([]byte(r.Terminal))
	put([]byte(r.Action))
	put([]byte(r.Target))
	put(r.Details)
	return hex.EncodeToString(h.Sum(nil))
}

// ChainVerifier checks records fed to it in seq order and, after Expect,
// against seals kept outside the store.
type ChainVerifier struct {
	prev    string
	next    int64
	Records int64
	// FirstBad is the seq of the first record that does not verify, or 0.
	FirstBad int64
	// Reason says why FirstBad is bad (one of the Broken* constants).
	Reason string
	// SealMatched is the highest sealed seq whose record still matched its
	// seal (0: none yet): a record rewritten with the chain recomputed
	// after it lies between SealMatched+1 and FirstBad.
	SealMatched int64
	sealed      map[int64]string
	sealedTo    int64
}

// Why a chain does not verify (AuditVerification.Reason).
const (
	// BrokenChain: the record's stored hash or link does not follow from
	// the records before it (it was edited, deleted, reordered or
	// inserted): FirstBad is exactly the first such record.
	BrokenChain = "chain"
	// BrokenHead: the records chain correctly but the stored head (last
	// seq and hash) does not match their end: the newest records were
	// removed or rewritten.
	BrokenHead = "head"
	// BrokenSeal: the chain is self-consistent but the record at FirstBad
	// no longer hashes to what a seal says: the chain was rewritten at or
	// before FirstBad (after SealMatched) and recomputed.
	BrokenSeal = "seal"
	// BrokenTruncated: the chain ends before a sealed record: records from
	// FirstBad on were deleted.
	BrokenTruncated = "truncated"
	// BrokenKept: the record's hash differs from the same record's in an
	// earlier export kept elsewhere (AddKept): FirstBad is exactly the first
	// record a rewrite changed.
	BrokenKept = "kept"
)

// AddKept is Add for a record whose hash an earlier export, kept outside
// the store, gives as kept ("" when that export does not hold the record).
// A rewrite changes the hash of the record it edits and of every later one,
// so the first record whose hash differs from the kept one is exactly the
// first record changed.
func (v *ChainVerifier) AddKept(r AuditRecord, kept string) bool {
	if v.FirstBad != 0 {
		return false
	}
	if kept != "" && r.Seq == v.next && kept != r.Hash {
		v.FirstBad, v.Reason = r.Seq, BrokenKept
		return false
	}
	return v.Add(r)
}

// Expect makes the verifier check, besides the chain itself, that the
// record at each seal's seq hashes to the seal's hash. The seals' signatures
// are the caller's to check first (AuditSeal.Verify). Two seals of one seq
// with different hashes, or a seal of seq 0 other than the genesis, are an
// error: a chain cannot match both.
func (v *ChainVerifier) Expect(seals ...AuditSeal) error {
	if v.sealed == nil {
		v.sealed = map[int64]string{}
	}
	for _, s := range seals {
		if s.Seq == 0 {
			if s.Hash != GenesisHash {
				return fmt.Errorf("a seal of seq 0 must carry the genesis hash")
			}
			continue
		}
		if h, ok := v.sealed[s.Seq]; ok && h != s.Hash {
			return fmt.Errorf("two seals of seq %d disagree (%s, %s)", s.Seq, h, s.Hash)
		}
		v.sealed[s.Seq] = s.Hash
		v.sealedTo = max(v.sealedTo, s.Seq)
	}
	return nil
}

// NewChainVerifier starts a verification at the genesis record.
func NewChainVerifier() *ChainVerifier { return &ChainVerifier{prev: GenesisHash, next: 1} }

// Add checks r against the chain so far and reports whether all is still
// well. A missing seq, a changed field or a broken link marks r bad.
func (v *ChainVerifier) Add(r AuditRecord) bool {
	if v.FirstBad != 0 {
		return false
	}
	if r.Seq != v.next || r.PrevHash != v.prev || ChainHash(v.prev, r) != r.Hash {
		v.FirstBad, v.Reason = v.next, BrokenChain
		if r.Seq < v.next && r.Seq >= 1 { // a repeated or reordered record
			v.FirstBad = r.Seq
		}
		return false
	}
	if h, ok := v.sealed[r.Seq]; ok {
		if h != r.Hash {
			v.FirstBad, v.Reason = r.Seq, BrokenSeal
			return false
		}
		v.SealMatched = r.Seq
	}
	v.prev, v.next = r.Hash, r.Seq+1
	v.Records++
	return true
}

// Finish checks the chain's end against the recorded head (last seq and
// hash), so that deleting the newest records is found too, and that the
// chain reaches every sealed seq.
func (v *ChainVerifier) Finish(headSeq int64, headHash string) {
	if v.FirstBad != 0 {
		return
	}
	if v.next-1 < v.sealedTo {
		v.FirstBad, v.Reason = v.next, BrokenTruncated
		return
	}
	if headSeq != v.next-1 || (headSeq > 0 && headHash != v.prev) {
		v.FirstBad, v.Reason = v.next, BrokenHead
	}
}

// AuditVerification is the answer of GET /v1/audit/verify (and of
// `latchkey audit verify --seal`, which adds the seal fields).
type AuditVerification struct {
	OK          bool  `json:"ok"`
	Records     int64 `json:"records"`
	FirstBadSeq int64 `json:"first_bad_seq,omitempty"`
	// Reason is why FirstBadSeq is bad (BrokenChain, ...).
	Reason string `json:"reason,omitempty"`
	// Sealed is the highest seq checked against a seal; SealMatched the
	// highest sealed seq that still matched (verify --seal only).
	Sealed      int64 `json:"sealed,omitempty"`
	SealMatched int64 `json:"seal_matched,omitempty"`
}

// Verification returns the verifier's verdict.
func (v *ChainVerifier) Verification() *AuditVerification {
	return &AuditVerification{OK: v.FirstBad == 0, Records: v.Records, FirstBadSeq: v.FirstBad,
		Reason: v.Reason, Sealed: v.sealedTo, SealMatched: v.SealMatched}
}

// AuditService reads the audit log. Staff only (verify, seal and export:
// admin only; EFORBIDDEN otherwise).
type AuditService interface {
	ListAudit(ctx context.Context, c Caller, f AuditFilter) ([]AuditRecord, error)
	VerifyAudit(ctx context.Context, c Caller) (*AuditVerification, error)
	// SealAudit signs the chain's current head with the server's key.
	SealAudit(ctx context.Context, c Caller) (*AuditSeal, error)
	// ExportAudit calls fn for each record after seq after (EBADREQUEST
	// when negative), up to the head when it began, in seq order, reading
	// a page at a time; an error from fn stops it and is returned.
	ExportAudit(ctx context.Context, c Caller, after int64, fn func(AuditRecord) error) error
	// SealAuditIfDue is the periodic sealer's step: it seals the head and
	// records the seal as an `audit.seal` record when SealDue says so, and
	// returns the seal (nil when none was due).
	SealAuditIfDue(ctx context.Context, every time.Duration) (*AuditSeal, error)
}
