package latchkey_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"

	"latchkey"
)

// FuzzAuditSealFile: whatever a seal file holds, reading and verifying it
// never panics, and only a seal signed by its key verifies.
func FuzzAuditSealFile(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	good, _ := latchkey.SignSeal(key, 12, strings.Repeat("ab", 32), sealAt)
	b, _ := json.Marshal(good)
	f.Add(b)
	f.Add([]byte(`{"seq":-1,"hash":"","at":"2026-01-01T00:00:00Z","key":"","signature":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s latchkey.AuditSeal
		if json.Unmarshal(data, &s) != nil {
			return
		}
		if s.Verify("") == nil {
			if _, err := latchkey.SealMessage(s.Seq, s.Hash, s.At); err != nil {
				t.Fatalf("a seal verified with a malformed message: %v", err)
			}
		}
	})
}

// FuzzAuditLine: any export line either is refused or gives a record whose
// line is the same record again.
func FuzzAuditLine(f *testing.F) {
	b, _ := json.Marshal(buildChain(2)[1].ExportLine())
	f.Add(b)
	f.Add([]byte(`{"seq":1,"at":"x","at_us":-5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l latchkey.AuditLine
		if json.Unmarshal(data, &l) != nil {
			return
		}
		r, err := l.Record()
		if err != nil {
			return
		}
		back := r.ExportLine()
		if back.AtMicros != l.AtMicros || back.Details != l.Details || back.Seq != l.Seq {
			t.Fatalf("line %s came back as %+v", data, back)
		}
	})
}
