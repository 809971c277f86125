package latchkey_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
)

var (
	ct0   = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	tmo   = latchkey.CheckoutTimeouts{InstructionLock: 5 * time.Minute}
	admin = latchkey.GroupSet{ID: "gs_admin", Name: "admin", Groups: []string{"wheel", "docker"}, MaxMinutes: 60, Eligible: []string{"p_ann"}}
)

// seqIDs hands out IDs prefix_1, prefix_2, ... as the shell's NewID would.
func seqIDs() func(prefix string) string {
	n := 0
	return func(prefix string) string { n++; return fmt.Sprintf("%s_%d", prefix, n) }
}

// start decides a check-out that must be allowed and gives it IDs as the
// shell does; it returns the check-out and its checkout instruction.
func start(t *testing.T, r latchkey.CheckoutRequest, now time.Time) (latchkey.Checkout, latchkey.Instruction) {
	t.Helper()
	o, err := latchkey.DecideCheckout(r, now)
	if err != nil {
		t.Fatal(err)
	}
	o.AssignIDs(seqIDs())
	return o.Checkout, *o.New
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
		{name: "eligible person, default minutes: the set's maximum", principal: "p_ann", expires: ct0.Add(time.Hour)},
		{name: "eligible person, 15 minutes", principal: "p_ann", minutes: 15, expires: ct0.Add(15 * time.Minute)},
		{name: "staff may check out any set", principal: "p_boss", staff: true, minutes: 5, expires: ct0.Add(5 * time.Minute)},
		{name: "not eligible", principal: "p_bob", minutes: 5, code: latchkey.EFORBIDDEN},
		{name: "over the maximum", principal: "p_ann", minutes: 61, code: latchkey.EBADREQUEST},
		{name: "negative minutes", principal: "p_ann", minutes: -1, code: latchkey.EBADREQUEST},
		{name: "a group locked by an unanswered instruction", principal: "p_ann", minutes: 5, open: []latchkey.Instruction{delivered}, code: latchkey.ECONFLICT},
		{name: "a lock that lapsed does not block", principal: "p_ann", minutes: 5, open: []latchkey.Instruction{lapsed}, expires: ct0.Add(5 * time.Minute)},
		{name: "a lock on other groups does not block", principal: "p_ann", minutes: 5, open: []latchkey.Instruction{other}, expires: ct0.Add(5 * time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: c.principal,
				Login: "ann", Minutes: c.minutes, ByStaff: c.staff, Open: c.open, Generation: 41}, ct0)
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			if c.code != "" {
				return
			}
			if o.Checkout.ID != "" || o.New == nil || o.New.ID != "" || len(o.Changed) != 0 {
				t.Fatalf("outcome %+v; want a new check-out and instruction without IDs (the shell assigns them)", o)
			}
			o.AssignIDs(seqIDs())
			co, in := o.Checkout, *o.New
			if co.ID != "co_1" || in.ID != "ins_2" {
				t.Fatalf("IDs %q %q, want co_1 ins_2", co.ID, in.ID)
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
	co, in := start(t, latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann", Minutes: 30}, ct0)
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
	if _, err := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann",
		Open: []latchkey.Instruction{in}}, ct0.Add(4*time.Minute)); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
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
		{name: "ok: checked out", co: base, in: instr, reply: "ok", ok: true, status: latchkey.CheckedOut},
		{name: "error: failed", co: base, in: instr, reply: "error", ok: true, status: latchkey.CheckoutFailed},
		{name: "late reply after the lock lapsed (pending again): counts", co: base, in: state(latchkey.InstrPending), reply: "ok", ok: true, status: latchkey.CheckedOut},
		{name: "repeat: nothing changes", co: with(latchkey.CheckedOut), in: state(latchkey.InstrDone), reply: "error", status: latchkey.CheckedOut},
		{name: "reply to a cancelled instruction: ignored", co: with(latchkey.CheckedIn), in: state(latchkey.InstrCancelled), reply: "ok", status: latchkey.CheckedIn},
		{name: "late checkout reply after check-in: check-out stays checked in", co: with(latchkey.CheckedIn), in: instr, reply: "ok", ok: true, status: latchkey.CheckedIn},
		{name: "checkin reply: the check-out is already checked in", co: with(latchkey.CheckedIn), in: checkin, reply: "ok", ok: true, status: latchkey.CheckedIn},
		{name: "reply for another check-out's instruction: ignored", co: latchkey.Checkout{ID: "c2", Status: latchkey.CheckingOut}, in: instr, reply: "ok", status: latchkey.CheckingOut},
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
	co, in := start(t, latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann", Minutes: 30, Generation: 6}, ct0)
	delivered, _ := latchkey.Deliver(in, tmo, ct0)
	lapsed, _ := latchkey.SettleInstruction(delivered, ct0.Add(time.Hour))
	done := delivered
	done.State = latchkey.InstrDone
	ext := delivered // an extension, delivered and not answered
	ext.ID = "ins_ext"
	extDone := ext
	extDone.State = latchkey.InstrDone
	status := func(s latchkey.CheckoutStatus) latchkey.Checkout { c := co; c.Status = s; return c }
	for _, c := range []struct {
		name        string
		co          latchkey.Checkout
		ins         []latchkey.Instruction
		code        string
		instruction bool     // a removal is made
		cancelled   []string // the instructions cancelled
	}{
		{name: "never delivered: cancelled, nothing to remove", co: co, ins: []latchkey.Instruction{in}, cancelled: []string{in.ID}},
		{name: "delivered, no reply yet: never re-sent, a removal follows", co: co, ins: []latchkey.Instruction{delivered}, instruction: true, cancelled: []string{in.ID}},
		{name: "delivered, lapsed and waiting to be re-sent: never re-sent, a removal follows", co: co, ins: []latchkey.Instruction{lapsed}, instruction: true, cancelled: []string{in.ID}},
		{name: "checked out: a removal", co: status(latchkey.CheckedOut), ins: []latchkey.Instruction{done}, instruction: true},
		{name: "an unanswered extension is never sent again either", co: status(latchkey.CheckedOut), ins: []latchkey.Instruction{done, ext}, instruction: true, cancelled: []string{ext.ID}},
		{name: "an answered extension stays done", co: status(latchkey.CheckedOut), ins: []latchkey.Instruction{done, extDone}, instruction: true},
		{name: "already checked in", co: status(latchkey.CheckedIn), ins: []latchkey.Instruction{done}, code: latchkey.ECONFLICT},
		{name: "failed", co: status(latchkey.CheckoutFailed), ins: []latchkey.Instruction{done}, code: latchkey.ECONFLICT},
		{name: "no instruction at all", co: co, code: latchkey.EINTERNAL},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := latchkey.DecideCheckin(c.co, c.ins, latchkey.CheckinAsked, ct0.Add(time.Minute))
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			if c.code != "" {
				if o.Checkout.Status != c.co.Status || len(o.Changed) != 0 || o.New != nil {
					t.Fatalf("a refused check-in changed something: %+v", o)
				}
				return
			}
			got := o.Checkout
			if got.Status != latchkey.CheckedIn || got.EndReason != "checkin" || got.CanCheckIn() {
				t.Fatalf("check-out %+v; want checked_in at once", got)
			}
			var cancelled []string
			for _, x := range o.Changed {
				if x.State != latchkey.InstrCancelled || !x.LockedUntil.IsZero() {
					t.Fatalf("changed instruction %+v, want cancelled and unlocked", x)
				}
				cancelled = append(cancelled, x.ID)
			}
			if !slices.Equal(cancelled, c.cancelled) {
				t.Fatalf("cancelled %v, want %v", cancelled, c.cancelled)
			}
			ci := o.New
			if (ci != nil) != c.instruction {
				t.Fatalf("check-in instruction %+v, want one: %v", ci, c.instruction)
			}
			if ci != nil && (ci.ID != "" || ci.Checkout != co.ID || ci.Kind != latchkey.InstrCheckin || ci.Generation != 7 || ci.State != latchkey.InstrPending || ci.Login != "ann") {
				t.Fatalf("check-in instruction %+v; want a pending checkin of generation 7 of the check-out, no ID yet", ci)
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
		{name: "a set for every site", set: admin, site: "sit_west", login: "ann"},
		{name: "a terminal at one of its sites", set: branch, site: "sit_south", login: "ann"},
		{name: "a terminal elsewhere", set: branch, site: "sit_west", login: "ann", code: latchkey.EFORBIDDEN},
		{name: "staff elsewhere too", set: branch, site: "sit_west", staff: true, login: "ann", code: latchkey.EFORBIDDEN},
		{name: "a login with a slash", set: admin, site: "sit_west", login: "ann/../root", code: latchkey.ECONFLICT},
		{name: "a login like an option", set: admin, site: "sit_west", staff: true, login: "-ann", code: latchkey.ECONFLICT},
		{name: "a login with a space", set: admin, site: "sit_west", login: "ann root", code: latchkey.ECONFLICT},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: c.set, Terminal: "t1", Site: c.site, Principal: "p_ann",
				Login: c.login, Minutes: 5, ByStaff: c.staff, Generation: 1}, ct0)
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
		})
	}
}

func TestDecideExtend(t *testing.T) {
	co, in := start(t, latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann", Minutes: 20, Generation: 2}, ct0)
	delivered, _ := latchkey.Deliver(in, tmo, ct0)
	at := ct0.Add(10 * time.Minute)
	checkedIn := co
	checkedIn.Status = latchkey.CheckedIn
	for _, c := range []struct {
		name     string
		co       latchkey.Checkout
		in       latchkey.Instruction
		minutes  int
		code     string
		newInstr bool
		end      time.Time
	}{
		{name: "not yet delivered: the instruction's end moves", co: co, in: in, minutes: 40, end: at.Add(40 * time.Minute)},
		{name: "delivered: a new instruction of the same generation", co: co, in: delivered, minutes: 40, newInstr: true, end: at.Add(40 * time.Minute)},
		{name: "up to the set's maximum from the start", co: co, in: delivered, minutes: 50, newInstr: true, end: ct0.Add(60 * time.Minute)},
		{name: "past the maximum", co: co, in: delivered, minutes: 51, code: latchkey.EBADREQUEST},
		{name: "not later than now", co: co, in: delivered, minutes: 5, code: latchkey.EBADREQUEST},
		{name: "checked in", co: checkedIn, in: delivered, minutes: 30, code: latchkey.ECONFLICT},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := latchkey.DecideExtend(c.co, admin, c.minutes, c.in, at)
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
			}
			got, n := o.Checkout, o.New
			if c.code != "" {
				if got.ExpiresAt != c.co.ExpiresAt || n != nil || len(o.Changed) != 0 {
					t.Fatal("a refused extension changed something")
				}
				return
			}
			if !got.ExpiresAt.Equal(c.end) || (n != nil) != c.newInstr {
				t.Fatalf("expires %s, new instruction %+v; want %s, new: %v", got.ExpiresAt, n, c.end, c.newInstr)
			}
			if n == nil && (len(o.Changed) != 1 || o.Changed[0].ID != c.in.ID || !o.Changed[0].EndsAt.Equal(c.end)) {
				t.Fatalf("changed %+v; want the undelivered instruction ending %s", o.Changed, c.end)
			}
			if n != nil && (len(o.Changed) != 0 || n.ID != "" || n.Checkout != co.ID || n.Generation != c.co.Generation || !n.EndsAt.Equal(c.end) || n.Kind != latchkey.InstrCheckout) {
				t.Fatalf("extension instruction %+v (changed %+v)", n, o.Changed)
			}
		})
	}
}

// The check-out requests' own checks, used by http and the store.
func TestCheckoutRequestsValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		field string
	}{
		{name: "a check-out", err: latchkey.CheckoutCreate{GroupSet: "gs_admin", Terminal: "t1"}.Validate()},
		{name: "for someone, 30 minutes", err: latchkey.CheckoutCreate{GroupSet: "gs_admin", Terminal: "t1", Principal: "p_ann", Minutes: 30}.Validate()},
		{name: "no group set", err: latchkey.CheckoutCreate{Terminal: "t1"}.Validate(), field: "groupset"},
		{name: "no terminal", err: latchkey.CheckoutCreate{GroupSet: "gs_admin"}.Validate(), field: "terminal"},
		{name: "a bad person", err: latchkey.CheckoutCreate{GroupSet: "gs_admin", Terminal: "t1", Principal: "p\x00"}.Validate(), field: "principal"},
		{name: "negative minutes", err: latchkey.CheckoutCreate{GroupSet: "gs_admin", Terminal: "t1", Minutes: -1}.Validate(), field: "minutes"},
		{name: "too many minutes", err: latchkey.CheckoutCreate{GroupSet: "gs_admin", Terminal: "t1", Minutes: latchkey.MaxGroupSetMinutes + 1}.Validate(), field: "minutes"},
		{name: "extend by a minute", err: latchkey.ValidExtendMinutes(1)},
		{name: "extend by nothing", err: latchkey.ValidExtendMinutes(0), field: "minutes"},
		{name: "extend too far", err: latchkey.ValidExtendMinutes(latchkey.MaxGroupSetMinutes + 1), field: "minutes"},
		{name: "reply ok", err: latchkey.Reply{Result: latchkey.ReplyOK}.Validate()},
		{name: "reply error with its detail", err: latchkey.Reply{Result: latchkey.ReplyError, Detail: strings.Repeat("d", latchkey.MaxReplyDetail)}.Validate()},
		{name: "reply without result", err: latchkey.Reply{}.Validate(), field: "result"},
		{name: "reply with another result", err: latchkey.Reply{Result: "maybe"}.Validate(), field: "result"},
		{name: "reply with too long a detail", err: latchkey.Reply{Result: latchkey.ReplyError, Detail: strings.Repeat("d", latchkey.MaxReplyDetail+1)}.Validate(), field: "detail"},
	} {
		if c.field == "" {
			if c.err != nil {
				t.Errorf("%s: %v", c.name, c.err)
			}
			continue
		}
		if latchkey.ErrorCode(c.err) != latchkey.EBADREQUEST || latchkey.ErrorDetails(c.err)["field"] != c.field {
			t.Errorf("%s: %v, want bad_request on %s", c.name, c.err, c.field)
		}
	}
}

// Admins see an instruction with its state; a delivered one says until
// when it locks its groups, and only a delivered one.
func TestInstructionView(t *testing.T) {
	_, in := start(t, latchkey.CheckoutRequest{Set: admin, Terminal: "t1", Principal: "p_ann", Login: "ann", Minutes: 30}, ct0)
	v := in.View()
	if v.Checkout != in.Checkout || v.State != latchkey.InstrPending || v.LockedUntil != nil || !v.ReadyAt.Equal(ct0) {
		t.Fatalf("pending view %+v", v)
	}
	delivered, _ := latchkey.Deliver(in, tmo, ct0)
	v = delivered.View()
	if v.State != latchkey.InstrDelivered || v.LockedUntil == nil || !v.LockedUntil.Equal(ct0.Add(5*time.Minute)) {
		t.Fatalf("delivered view %+v", v)
	}
	delivered.LockedUntil = ct0.Add(time.Hour)
	if !v.LockedUntil.Equal(ct0.Add(5 * time.Minute)) {
		t.Fatal("the view shares the instruction's time")
	}
}
