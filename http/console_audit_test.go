package http

import (
	"encoding/json"
	"strings"
	"testing"

	"latchkey"
)

// What the Audit screen says of a record's details and of a check of the
// chain.
func TestAuditWords(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{`{}`, ""},
		{`{"reason":"manual","identity":"alice"}`, "identity: alice, reason: manual"},
		{`{"failed":[],"force":false,"n":3,"d":{"a":1}}`, `d: {"a":1}, failed: [], force: false, n: 3`},
		{`[1, 2]`, "[1,2]"},
		{`{"x":"` + strings.Repeat("é", 400) + `"}`, "x: " + strings.Repeat("é", 296) + "…"},
	} {
		if got := auditDetails(json.RawMessage(c.raw)); got != c.want {
			t.Errorf("%s: %q, want %q", c.raw, got, c.want)
		}
	}
	for _, c := range []struct {
		v    latchkey.AuditVerification
		want string
	}{
		{latchkey.AuditVerification{OK: true, Records: 12}, "The chain is whole: 12 records, from 1 to 12."},
		{latchkey.AuditVerification{OK: true}, "The chain is whole: it has no records yet."},
		{latchkey.AuditVerification{FirstBadSeq: 3, Reason: latchkey.BrokenChain}, "The chain is broken at record 3: its hash or its link does not follow from the records before it (it was edited, deleted, inserted or moved)."},
		{latchkey.AuditVerification{FirstBadSeq: 9, Reason: "other"}, "The chain is broken at record 9."},
	} {
		if got := verifyWords(&c.v); got != c.want {
			t.Errorf("%+v: %q, want %q", c.v, got, c.want)
		}
	}
}
