package latchkey

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// AuditSeal is the audit chain's head signed with the server's ed25519 key
// (GET /v1/audit/seal): the record at Seq hashed to Hash when the server
// signed it At. Kept outside latchkey, it lets `audit verify --seal` find a
// chain that was rewritten and recomputed later. Key and Signature are
// standard base64.
type AuditSeal struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	At        time.Time `json:"at"`
	Key       string    `json:"key"`
	Signature string    `json:"signature"`
}

// SealDomain opens every signed seal message, so that a seal's signature
// can never be taken for the signature of anything else the key signs.
const SealDomain = "latchkey audit seal v1"

// SealMessage is the canonical text a seal's signature covers:
//
//	latchkey audit seal v1\nseq=<seq>\nhash=<hash>\nat=<at_us>\n
//
// with seq and at_us (at in microseconds since the Unix epoch, UTC) in
// decimal and hash as 64 lowercase hex digits. It refuses a negative seq or
// a malformed hash, so no two seals share a message.
func SealMessage(seq int64, hash string, at time.Time) ([]byte, error) {
	if seq < 0 {
		return nil, fmt.Errorf("seal seq %d is negative", seq)
	}
	if !validChainHash(hash) {
		return nil, fmt.Errorf("seal hash %q is not 64 lowercase hex digits", hash)
	}
	b := make([]byte, 0, len(SealDomain)+110)
	b = append(b, SealDomain...)
	b = append(b, "\nseq="...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, "\nhash="...)
	b = append(b, hash...)
	b = append(b, "\nat="...)
	b = strconv.AppendInt(b, at.UTC().UnixMicro(), 10)
	b = append(b, '\n')
	return b, nil
}

func validChainHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// SignSeal seals the head (seq, hash) at time at with key.
func SignSeal(key ed25519.PrivateKey, seq int64, hash string, at time.Time) (AuditSeal, error) {
	at = at.UTC().Truncate(time.Microsecond)
	msg, err := SealMessage(seq, hash, at)
	if err != nil {
		return AuditSeal{}, err
	}
	return AuditSeal{Seq: seq, Hash: hash, At: at,
		Key:       base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))}, nil
}

// Seal verification failures.
var (
	ErrSealSignature = errors.New("the seal's signature does not verify under its key")
	ErrSealKey       = errors.New("the seal was signed with another key than the server's")
)

// Verify checks the seal's signature under its own key and, when pinned
// (base64) is not empty, that its key is the pinned one.
func (s AuditSeal) Verify(pinned string) error {
	pub, err := base64.StdEncoding.DecodeString(s.Key)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w (the key is not a base64 ed25519 public key)", ErrSealSignature)
	}
	if pinned != "" && pinned != s.Key {
		return fmt.Errorf("%w: seal key %s, expected %s", ErrSealKey, s.Key, pinned)
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w (the signature is not 64 base64 bytes)", ErrSealSignature)
	}
	msg, err := SealMessage(s.Seq, s.Hash, s.At)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSealSignature, err)
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), msg, sig) {
		return ErrSealSignature
	}
	return nil
}

// DefaultSealEvery is how often a server seals the audit head by default.
const DefaultSealEvery = time.Hour

// LastSeal is what the periodic sealer knows of the newest `audit.seal`
// record: its own seq and when it was made (zero values: none yet).
type LastSeal struct {
	RecordSeq int64
	At        time.Time
}

// SealDue reports whether the periodic sealer should seal a chain whose
// head is headSeq at now: sealing is on (every > 0), something other than
// the last seal's own record was appended since it (so an idle server adds
// no seal after seal), and no seal was made in the last period (so several
// nodes make one seal per period between them).
func SealDue(last LastSeal, headSeq int64, now time.Time, every time.Duration) bool {
	if every <= 0 || headSeq <= last.RecordSeq {
		return false
	}
	return last.At.IsZero() || !now.Before(last.At.Add(every))
}
