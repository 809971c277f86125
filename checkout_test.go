package latchkey_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"latchkey"
)

var (
	ct0   = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	tmo   = latchkey.CheckoutTimeouts{InstructionLock: 5 * time.Minute, Redelivery: 10 * time.Minute}
	admin = latchkey.GroupSet{ID: "gs_admin", Name: "admin", Groups: []string{"wheel", "docker"}, MaxMinutes: 60, Eligible: []string{"p_ann"}}
)

// seqIDs hands out IDs id1, id2, ...
func seqIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("id%d", n) }
}

func TestDecideCheckout(t *testing.T) {
	delivered := latchkey.Instruction{ID: "old", Groups: []string{"docker"}, State: latchkey.InstrDelivered, LockedUntil: ct0.Add(time.Minute)}
	lapsed := delivered
	lapsed.LockedUntil = ct0
	other := delivered
	other.Groups = []string{"backup"}
	for _, c := range []struct {
		name      string
		principal string
		staff     bool
		minutes   int
		open      []latchkey.Instruction
		code      string
		expires   time.Time
	}{
		{"eligible person, default minutes: the set's maximum", "p_ann", false, 0, nil, "", ct0.Add(time.Hour)},
		{"eligible person, 15 minutes", "p_ann", false, 15, nil, "", ct0.Add(15 * time.Minute)},
		{"staff may check out any set", "p_boss", true, 5, nil, "", ct0.Add(5 * time.Minute)},
		{"not eligible", "p_bob", false, 5, nil, latchkey.EFORBIDDEN, time.Time{}},
		{"over the maximum", "p_ann", false, 61, nil, latchkey.EBADREQUEST, time.Time{}},
		{"negative minutes", "p_ann", false, -1, nil, latchkey.EBADREQUEST, time.Time{}},
		{"a group locked by an unanswered instruction", "p_ann", false, 5, []latchkey.Instruction{delivered}, latchkey.ECONFLICT, time.Time{}},
		{"a lock that lapsed does not block", "p_ann", false, 5, []latchkey.Instruction{lapsed}, "", ct0.Add(5 * time.Minute)},
		{"a lock on other groups does not block", "p_ann", false, 5, []latchkey.Instruction{other}, "", ct0.Add(5 * time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			co, in, err := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: c.principal,
				Login: "ann", Minutes: c.minutes, ByStaff: c.staff, Open: c.open, Generation: 41}, seqIDs(), ct0)
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			if c.code != "" {
				return
			}
			if co.Status != latchkey.CheckingOut || co.Generation != 42 || !co.ExpiresAt.Equal(c.expires) || !co.CanCheckIn() {
				t.Fatalf("check-out %+v; want checking_out, generation 42, expiring %s", co, c.expires)
			}
			if in.Kind != latchkey.InstrCheckout || in.State != latchkey.InstrPending || in.Checkout != co.ID ||
				in.Generation != 42 || !in.EndsAt.Equal(co.ExpiresAt) || !slices.Equal(in.Groups, admin.Groups) || in.Login != "ann" {
				t.Fatalf("instruction %+v; want a pending checkout of the set's groups ending with the check-out", in)
			}
		})
	}
}

// The seed's interrupted transaction, step by step: delivery locks the
// groups; without a reply the lock lapses and the instruction is ready
// again; the re-sent instruction's reply completes the check-out.
func TestInstructionLifecycle(t *testing.T) {
	co, in, err := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann", Minutes: 30}, seqIDs(), ct0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := latchkey.Deliver(in, tmo, ct0.Add(-time.Second)); ok {
		t.Fatal("delivered before it was ready")
	}
	in, ok := latchkey.Deliver(in, tmo, ct0)
	if !ok || in.State != latchkey.InstrDelivered || in.Attempt != 1 || !in.LockedUntil.Equal(ct0.Add(5*time.Minute)) {
		t.Fatalf("first delivery: %+v", in)
	}
	if _, ok := latchkey.Deliver(in, tmo, ct0.Add(time.Second)); ok {
		t.Fatal("a delivered instruction was delivered again while its groups are locked")
	}
	// Another check-out of the same groups is refused while locked.
	if _, _, err := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann",
		Open: []latchkey.Instruction{in}}, seqIDs(), ct0.Add(4*time.Minute)); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Fatalf("a check-out during the lock: %v, want conflict", err)
	}
	if _, ok := latchkey.SettleInstruction(in, ct0.Add(5*time.Minute-time.Nanosecond)); ok {
		t.Fatal("settled before the lock lapsed")
	}
	in, ok = latchkey.SettleInstruction(in, ct0.Add(6*time.Minute))
	if !ok || in.State != latchkey.InstrPending || !in.ReadyAt.Equal(ct0.Add(5*time.Minute)) {
		t.Fatalf("after the lapse: %+v; want pending, ready at the lapse", in)
	}
	if in, ok = latchkey.Deliver(in, tmo, ct0.Add(6*time.Minute)); !ok || in.Attempt != 2 {
		t.Fatalf("re-delivery: %+v", in)
	}
	co, in, ok = latchkey.DecideReply(co, in, latchkey.Reply{Result: "ok"})
	if !ok || co.Status != latchkey.CheckedOut || in.State != latchkey.InstrDone || !co.CanCheckIn() {
		t.Fatalf("after the reply: %+v %+v; want checked_out, instruction done", co, in)
	}
	if _, _, ok := latchkey.DecideReply(co, in, latchkey.Reply{Result: "error"}); ok {
		t.Fatal("a repeated reply changed something")
	}
}

func TestDecideReply(t *testing.T) {
	base := latchkey.Checkout{ID: "c1", Status: latchkey.CheckingOut}
	instr := latchkey.Instruction{ID: "i1", Checkout: "c1", Kind: latchkey.InstrCheckout, State: latchkey.InstrDelivered}
	with := func(status latchkey.CheckoutStatus) latchkey.Checkout { c := base; c.Status = status; return c }
	state := func(s latchkey.InstructionState) latchkey.Instruction { i := instr; i.State = s; return i }
	checkin := instr
	checkin.Kind = latchkey.InstrCheckin
	for _, c := range []struct {
		name   string
		co     latchkey.Checkout
		in     latchkey.Instruction
		reply  latchkey.ReplyResult
		ok     bool
		status latchkey.CheckoutStatus
	}{
		{"ok: checked out", base, instr, "ok", true, latchkey.CheckedOut},
		{"error: failed", base, instr, "error", true, latchkey.CheckoutFailed},
		{"late reply after the lock lapsed (pending again): counts", base, state(latchkey.InstrPending), "ok", true, latchkey.CheckedOut},
		{"repeat: nothing changes", with(latchkey.CheckedOut), state(latchkey.InstrDone), "error", false, latchkey.CheckedOut},
		{"reply to a cancelled instruction: ignored", with(latchkey.CheckedIn), state(latchkey.InstrCancelled), "ok", false, latchkey.CheckedIn},
		{"late checkout reply after check-in: check-out stays checked in", with(latchkey.CheckedIn), instr, "ok", true, latchkey.CheckedIn},
		{"checkin reply: the check-out is already checked in", with(latchkey.CheckedIn), checkin, "ok", true, latchkey.CheckedIn},
		{"reply for another check-out's instruction: ignored", latchkey.Checkout{ID: "c2", Status: latchkey.CheckingOut}, instr, "ok", false, latchkey.CheckingOut},
	} {
		t.Run(c.name, func(t *testing.T) {
			co, in, ok := latchkey.DecideReply(c.co, c.in, latchkey.Reply{Result: c.reply, Detail: "gpasswd failed"})
			if ok != c.ok || co.Status != c.status {
				t.Fatalf("ok %v status %s; want %v %s", ok, co.Status, c.ok, c.status)
			}
			if ok && (in.State != latchkey.InstrDone || in.Result != c.reply) {
				t.Fatalf("instruction %+v; want done with result %s", in, c.reply)
			}
			if !ok && in.State != c.in.State {
				t.Fatal("an ignored reply changed the instruction")
			}
		})
	}
}

// A check-out whose instruction never left the server needs no check-in
// instruction; one that may have been applied gets one, with its
// generation; what cannot be checked in is a conflict.
func TestDecideCheckin(t *testing.T) {
	co, in, _ := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann", Minutes: 30, Generation: 6}, seqIDs(), ct0)
	delivered, _ := latchkey.Deliver(in, tmo, ct0)
	lapsed, _ := latchkey.SettleInstruction(delivered, ct0.Add(time.Hour))
	done := delivered
	done.State = latchkey.InstrDone
	for _, c := range []struct {
		name        string
		co          latchkey.Checkout
		in          latchkey.Instruction
		code        string
		instruction bool
		coState     latchkey.InstructionState
	}{
		{"never delivered: cancelled, nothing to remove", co, in, "", false, latchkey.InstrCancelled},
		{"delivered, no reply yet: never re-sent, a removal follows", co, delivered, "", true, latchkey.InstrCancelled},
		{"delivered, lapsed and waiting to be re-sent: never re-sent, a removal follows", co, lapsed, "", true, latchkey.InstrCancelled},
		{"checked out: a removal", func() latchkey.Checkout { c := co; c.Status = latchkey.CheckedOut; return c }(), done, "", true, latchkey.InstrDone},
		{"already checked in", func() latchkey.Checkout { c := co; c.Status = latchkey.CheckedIn; return c }(), done, latchkey.ECONFLICT, false, latchkey.InstrDone},
		{"failed", func() latchkey.Checkout { c := co; c.Status = latchkey.CheckoutFailed; return c }(), done, latchkey.ECONFLICT, false, latchkey.InstrDone},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, coIn, ci, err := latchkey.DecideCheckin(c.co, c.in, "checkin", seqIDs(), ct0.Add(time.Minute))
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			if coIn.State != c.coState {
				t.Fatalf("checkout instruction %s, want %s", coIn.State, c.coState)
			}
			if c.code != "" {
				return
			}
			if got.Status != latchkey.CheckedIn || got.EndReason != "checkin" || got.CanCheckIn() {
				t.Fatalf("check-out %+v; want checked_in at once", got)
			}
			if (ci != nil) != c.instruction {
				t.Fatalf("check-in instruction %+v, want one: %v", ci, c.instruction)
			}
			if ci != nil && (ci.Kind != latchkey.InstrCheckin || ci.Generation != 7 || ci.State != latchkey.InstrPending || ci.Login != "ann") {
				t.Fatalf("check-in instruction %+v; want a pending checkin of generation 7", ci)
			}
		})
	}
	expiring := co
	if expiring.Expired(co.ExpiresAt.Add(-time.Nanosecond)) || !expiring.Expired(co.ExpiresAt) {
		t.Fatal("Expired must turn true exactly at expires_at")
	}
}

// A set limited to sites is forbidden on a terminal elsewhere, to staff
// too; a login that is no portable account name is never sent to an agent.
func TestDecideCheckoutSitesAndLogin(t *testing.T) {
	branch := admin
	branch.Sites = []string{"sit_north", "sit_south"}
	for _, c := range []struct {
		name  string
		set   latchkey.GroupSet
		site  string
		staff bool
		login string
		code  string
	}{
		{"a set for every site", admin, "sit_west", false, "ann", ""},
		{"a terminal at one of its sites", branch, "sit_south", false, "ann", ""},
		{"a terminal elsewhere", branch, "sit_west", false, "ann", latchkey.EFORBIDDEN},
		{"staff elsewhere too", branch, "sit_west", true, "ann", latchkey.EFORBIDDEN},
		{"a login with a slash", admin, "sit_west", false, "ann/../root", latchkey.ECONFLICT},
		{"a login like an option", admin, "sit_west", true, "-ann", latchkey.ECONFLICT},
		{"a login with a space", admin, "sit_west", false, "ann root", latchkey.ECONFLICT},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: c.set, Terminal: "t1", Site: c.site, Principal: "p_ann",
				Login: c.login, Minutes: 5, ByStaff: c.staff, Generation: 1}, seqIDs(), ct0)
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
		})
	}
}

func TestDecideExtend(t *testing.T) {
	co, in, _ := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann", Minutes: 20, Generation: 2}, seqIDs(), ct0)
	delivered, _ := latchkey.Deliver(in, tmo, ct0)
	at := ct0.Add(10 * time.Minute)
	for _, c := range []struct {
		name     string
		co       latchkey.Checkout
		in       latchkey.Instruction
		minutes  int
		code     string
		newInstr bool
		end      time.Time
	}{
		{"not yet delivered: the instruction's end moves", co, in, 40, "", false, at.Add(40 * time.Minute)},
		{"delivered: a new instruction of the same generation", co, delivered, 40, "", true, at.Add(40 * time.Minute)},
		{"up to the set's maximum from the start", co, delivered, 50, "", true, ct0.Add(60 * time.Minute)},
		{"past the maximum", co, delivered, 51, latchkey.EBADREQUEST, false, time.Time{}},
		{"not later than now", co, delivered, 5, latchkey.EBADREQUEST, false, time.Time{}},
		{"checked in", func() latchkey.Checkout { x := co; x.Status = latchkey.CheckedIn; return x }(), delivered, 30, latchkey.ECONFLICT, false, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, gotIn, n, err := latchkey.DecideExtend(c.co, admin, c.minutes, c.in, seqIDs(), at)
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			if c.code != "" {
				if got.ExpiresAt != c.co.ExpiresAt || n != nil {
					t.Fatal("a refused extension changed something")
				}
				return
			}
			if !got.ExpiresAt.Equal(c.end) || (n != nil) != c.newInstr {
				t.Fatalf("expires %s, new instruction %+v; want %s, new: %v", got.ExpiresAt, n, c.end, c.newInstr)
			}
			if n == nil && !gotIn.EndsAt.Equal(c.end) {
				t.Fatalf("the undelivered instruction ends %s, want %s", gotIn.EndsAt, c.end)
			}
			if n != nil && (n.Generation != c.co.Generation || !n.EndsAt.Equal(c.end) || n.Kind != latchkey.InstrCheckout) {
				t.Fatalf("extension instruction %+v", n)
			}
		})
	}
}

func TestJobBackoff(t *testing.T) {
	for _, c := range []struct {
		attempt  int
		rnd      float64
		min, max time.Duration
	}{
		{1, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{1, 0.999, 999 * time.Millisecond, time.Second},
		{2, 0, time.Second, time.Second},
		{3, 0.5, 3 * time.Second, 3 * time.Second},
		{9, 0.999, 4*time.Minute + 15*time.Second, 4*time.Minute + 17*time.Second},
		{10, 0, latchkey.JobRetryMax / 2, latchkey.JobRetryMax / 2},
		{60, 0.999, latchkey.JobRetryMax - time.Second, latchkey.JobRetryMax},
	} {
		if d := latchkey.JobBackoff(c.attempt, c.rnd); d < c.min || d > c.max {
			t.Errorf("attempt %d, jitter %v: %s, want %s to %s", c.attempt, c.rnd, d, c.min, c.max)
		}
	}
}
