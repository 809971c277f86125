package latchkey

import (
	"encoding/json"
	"fmt"
	"time"
)

// AuditLine is one line of an audit export (GET /v1/audit/export, `latchkey
// audit export`): one record with every input of its hash in a form an
// outside program can hash without knowing latchkey's types. AtMicros is
// the time that is hashed (At is the same instant, for people); Details is
// the exact text that is hashed (a JSON document, as a string, so no JSON
// library's re-encoding can change its bytes). docs/security.md gives the
// hash rule.
type AuditLine struct {
	Seq      int64  `json:"seq"`
	At       string `json:"at"`
	AtMicros int64  `json:"at_us"`
	Actor    string `json:"actor"`
	Terminal string `json:"terminal"`
	Action   Action `json:"action"`
	Target   string `json:"target"`
	Details  string `json:"details"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// ExportLine returns r as an export line.
func (r AuditRecord) ExportLine() AuditLine {
	return AuditLine{Seq: r.Seq, At: r.At.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), AtMicros: r.At.UTC().UnixMicro(),
		Actor: r.Actor, Terminal: r.Terminal, Action: r.Action, Target: r.Target, Details: string(r.Details),
		PrevHash: r.PrevHash, Hash: r.Hash}
}

// Record returns the line as an audit record (the inverse of ExportLine).
// A line whose At and AtMicros disagree is refused: only one of them would
// be hashed.
func (l AuditLine) Record() (AuditRecord, error) {
	at := time.UnixMicro(l.AtMicros).UTC()
	if l.At != "" {
		t, err := time.Parse(time.RFC3339Nano, l.At)
		if err != nil || !t.Equal(at) {
			return AuditRecord{}, fmt.Errorf("audit line %d: at %q is not at_us %d", l.Seq, l.At, l.AtMicros)
		}
	}
	return AuditRecord{Seq: l.Seq, At: at, Actor: l.Actor, Terminal: l.Terminal, Action: l.Action,
		Target: l.Target, Details: json.RawMessage(l.Details), PrevHash: l.PrevHash, Hash: l.Hash}, nil
}
