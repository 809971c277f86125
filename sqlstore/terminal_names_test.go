package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// TerminalNames names many terminals in one read (a reconciliation's
// drift table on the console names up to 200), both stores: unknown and
// repeated IDs are fine, more IDs than one IN list holds too, and a
// terminal's caller learns only its own name.
func TestTerminalNames(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		ids := append([]string{"term_unknown", ""}, e.terms...)
		for i := range 70 { // past one chunk of the IN list
			ids = append(ids, fmt.Sprintf("term_missing%d", i))
		}
		ids = append(ids, e.terms[0])
		names, err := e.s.TerminalNames(ctx, e.ann, ids)
		if err != nil || len(names) != 3 || names[e.terms[0]] != "ws1" || names[e.terms[2]] != "ws3" {
			t.Fatalf("a person: %v, %v", names, err)
		}
		own := latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: e.terms[1]}
		names, err = e.s.TerminalNames(ctx, own, e.terms)
		if err != nil || len(names) != 1 || names[e.terms[1]] != "ws2" {
			t.Fatalf("a terminal: %v, %v", names, err)
		}
		if names, err := e.s.TerminalNames(ctx, e.ann, nil); err != nil || len(names) != 0 {
			t.Fatalf("none: %v, %v", names, err)
		}
	})
}
