package latchkey

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"time"
)

// AuditRecord is one entry of the append-only, hash-chained audit log. The
// same log, read in seq order, is the event stream.
type AuditRecord struct {
	Seq      int64           `json:"seq"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Terminal string          `json:"terminal,omitempty"`
	Action   string          `json:"action"`
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

// ChainVerifier checks records fed to it in seq order.
type ChainVerifier struct {
	prev    string
	next    int64
	Records int64
	// FirstBad is the seq of the first record that does not verify, or 0.
	FirstBad int64
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
		v.FirstBad = v.next
		if r.Seq < v.next && r.Seq >= 1 { // a repeated or reordered record
			v.FirstBad = r.Seq
		}
		return false
	}
	v.prev, v.next = r.Hash, r.Seq+1
	v.Records++
	return true
}

// Finish checks the chain's end against the recorded head (last seq and
// hash), so that deleting the newest records is found too.
func (v *ChainVerifier) Finish(headSeq int64, headHash string) {
	if v.FirstBad != 0 {
		return
	}
	if headSeq != v.next-1 || (headSeq > 0 && headHash != v.prev) {
		v.FirstBad = v.next
	}
}

// AuditVerification is the answer of GET /v1/audit/verify.
type AuditVerification struct {
	OK          bool  `json:"ok"`
	Records     int64 `json:"records"`
	FirstBadSeq int64 `json:"first_bad_seq,omitempty"`
}

// AuditFilter selects audit records.
type AuditFilter struct {
	After  int64
	Limit  int
	Actor  string
	Action string
}
