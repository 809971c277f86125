package latchkey_test

import (
	"fmt"
	"testing"
	"time"

	"latchkey"
)

// The agent's rule: each change applied once, a late or re-sent removal
// never takes a newer check-out's membership, and memberships end by the
// agent's own clock.
func TestApplyInstruction(t *testing.T) {
	m := map[latchkey.MemberKey]latchkey.Membership{}
	out := func(in latchkey.Instruction, now time.Time) string {
		return fmt.Sprint(latchkey.ApplyInstruction(m, in, now))
	}
	co := func(gen uint64, ends time.Time) latchkey.Instruction {
		return latchkey.Instruction{Kind: latchkey.InstrCheckout, Login: "ann", Groups: []string{"wheel"}, Generation: gen, EndsAt: ends}
	}
	ci := func(gen uint64) latchkey.Instruction {
		return latchkey.Instruction{Kind: latchkey.InstrCheckin, Login: "ann", Groups: []string{"wheel"}, Generation: gen}
	}
	add, remove, none := "[{true wheel ann}]", "[{false wheel ann}]", "[]"
	for i, c := range []struct {
		in   latchkey.Instruction
		at   time.Time
		want string
	}{
		{co(5, ct0.Add(time.Hour)), ct0, add},
		{co(5, ct0.Add(time.Hour)), ct0, none},   // applied again: nothing
		{co(7, ct0.Add(2*time.Hour)), ct0, none}, // a newer check-out of the same group: already a member
		{ci(5), ct0, none},                       // the old check-out's late removal: the newer one keeps it
		{co(5, ct0.Add(time.Hour)), ct0, none},   // a stale re-delivery of the old check-out
		{ci(7), ct0, remove},                     // the newer one's removal
		{ci(7), ct0, none},                       // removal again: nothing
		{co(7, ct0.Add(time.Hour)), ct0, none},   // the removed check-out arriving late: never again
		{co(9, ct0), ct0, none},                  // a check-out delivered after its end: nothing to add
	} {
		if got := out(c.in, c.at); got != c.want {
			t.Fatalf("step %d (%s gen %d): %s, want %s", i, c.in.Kind, c.in.Generation, got, c.want)
		}
	}
	if got := out(co(10, ct0.Add(time.Hour)), ct0); got != add {
		t.Fatalf("a new check-out: %s", got)
	}
	if ch := latchkey.ExpireMemberships(m, ct0.Add(time.Hour-time.Nanosecond)); len(ch) != 0 {
		t.Fatalf("expired early: %v", ch)
	}
	if ch := fmt.Sprint(latchkey.ExpireMemberships(m, ct0.Add(time.Hour))); ch != remove {
		t.Fatalf("at the end: %s, want %s", ch, remove)
	}
	if got := out(ci(10), ct0.Add(time.Hour)); got != none {
		t.Fatalf("the server's check-in after the agent's own expiry: %s, want nothing", got)
	}
}

// On the agent, an extension of the same generation moves the end
// without touching the group; an older generation's extension does not.
func TestApplyExtension(t *testing.T) {
	m := map[latchkey.MemberKey]latchkey.Membership{}
	co := func(gen uint64, ends time.Time) latchkey.Instruction {
		return latchkey.Instruction{Kind: latchkey.InstrCheckout, Login: "ann", Groups: []string{"wheel"}, Generation: gen, EndsAt: ends}
	}
	k := latchkey.MemberKey{Group: "wheel", Login: "ann"}
	latchkey.ApplyInstruction(m, co(3, ct0.Add(time.Hour)), ct0)
	if ch := latchkey.ApplyInstruction(m, co(3, ct0.Add(2*time.Hour)), ct0); len(ch) != 0 || !m[k].EndsAt.Equal(ct0.Add(2*time.Hour)) {
		t.Fatalf("extension: %v, %+v; want no change, end moved", ch, m[k])
	}
	if latchkey.ApplyInstruction(m, co(3, ct0.Add(time.Hour)), ct0); !m[k].EndsAt.Equal(ct0.Add(2 * time.Hour)) {
		t.Fatal("a stale re-delivery moved the end back")
	}
	latchkey.ApplyInstruction(m, co(5, ct0.Add(time.Hour)), ct0)
	if latchkey.ApplyInstruction(m, co(3, ct0.Add(5*time.Hour)), ct0); m[k].Generation != 5 || !m[k].EndsAt.Equal(ct0.Add(time.Hour)) {
		t.Fatalf("an older generation's extension changed the newer membership: %+v", m[k])
	}
	if !(latchkey.Checkout{Status: latchkey.CheckedOut, ExpiresAt: ct0.Add(time.Hour)}).WarningDue(5*time.Minute, ct0.Add(55*time.Minute)) {
		t.Fatal("the warning is due 5 minutes before the end")
	}
	if (latchkey.Checkout{Status: latchkey.CheckedOut, ExpiresAt: ct0.Add(time.Hour)}).WarningDue(5*time.Minute, ct0.Add(54*time.Minute)) {
		t.Fatal("the warning came early")
	}
}

// A reconciliation's corrections (Fix) act on the workstation whatever
// the journal says, but never on a newer check-out's membership.
func TestApplyInstructionFix(t *testing.T) {
	ends := ct0.Add(time.Hour)
	grant := func(gen uint64, fix bool) latchkey.Instruction {
		return latchkey.Instruction{Kind: latchkey.InstrCheckout, Login: "ann", Groups: []string{"wheel"}, Generation: gen, EndsAt: ends, Fix: fix}
	}
	remove := func(gen uint64, fix bool) latchkey.Instruction {
		return latchkey.Instruction{Kind: latchkey.InstrCheckin, Login: "ann", Groups: []string{"wheel"}, Generation: gen, Fix: fix}
	}
	add, del, none := "[{true wheel ann}]", "[{false wheel ann}]", "[]"
	for _, c := range []struct {
		name  string
		setup []latchkey.Instruction
		in    latchkey.Instruction
		want  string
	}{
		{name: "a missing grant is re-added by its correction", setup: []latchkey.Instruction{grant(5, false)}, in: grant(5, true), want: add},
		{name: "without Fix the same grant changes nothing", setup: []latchkey.Instruction{grant(5, false)}, in: grant(5, false), want: none},
		{name: "a correction never re-grants a removed check-out", setup: []latchkey.Instruction{grant(5, false), remove(5, false)}, in: grant(5, true), want: none},
		{name: "a correction of an older generation adds nothing", setup: []latchkey.Instruction{grant(7, false)}, in: grant(5, true), want: none},
		{name: "an unknown membership is removed by a correction", in: remove(5, true), want: del},
		{name: "without Fix an unknown membership is left alone", in: remove(5, false), want: none},
		{name: "a correction removes again what the journal says is gone", setup: []latchkey.Instruction{grant(5, false), remove(5, false)}, in: remove(5, true), want: del},
		{name: "a correction never removes a newer check-out's membership", setup: []latchkey.Instruction{grant(7, false)}, in: remove(5, true), want: none},
	} {
		m := map[latchkey.MemberKey]latchkey.Membership{}
		for _, in := range c.setup {
			latchkey.ApplyInstruction(m, in, ct0)
		}
		if got := fmt.Sprint(latchkey.ApplyInstruction(m, c.in, ct0)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
