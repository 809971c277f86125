package latchkey

import (
	"context"
	"slices"
	"time"
)

// Group-set check-out and check-in (API.md "Group-set check-out /
// check-in", seeds/pam-group-set-checkout.txt): the rules as pure
// functions over a check-out, its instructions and the clock. The store
// runs them in transactions; the agent runs ApplyInstruction.

// CheckoutStatus is where a check-out stands.
type CheckoutStatus string

// Check-out statuses.
const (
	CheckingOut    CheckoutStatus = "checking_out"
	CheckedOut     CheckoutStatus = "checked_out"
	CheckedIn      CheckoutStatus = "checked_in"
	CheckoutFailed CheckoutStatus = "failed"
)

// InstructionKind says what an instruction tells the agent to do.
type InstructionKind string

// Instruction kinds.
const (
	InstrCheckout InstructionKind = "checkout"
	InstrCheckin  InstructionKind = "checkin"
)

// InstructionState is where an instruction stands on the server.
type InstructionState string

// Instruction states.
const (
	InstrPending   InstructionState = "pending"   // to deliver on the agent's next poll, from ReadyAt
	InstrDelivered InstructionState = "delivered" // sent: its groups are locked on the terminal until LockedUntil
	InstrDone      InstructionState = "done"      // the agent replied
	InstrCancelled InstructionState = "cancelled" // overtaken before it was ever delivered: never sent
)

// ReplyResult is the agent's verdict on an instruction.
type ReplyResult string

// Reply results.
const (
	ReplyOK    ReplyResult = "ok"
	ReplyError ReplyResult = "error"
)

// Default instruction timeouts, the seed's.
const (
	DefaultInstructionLock = 5 * time.Minute // groups stay locked without a reply
	DefaultCheckoutWarning = 5 * time.Minute // the holder is warned this long before the end
)

// CheckoutTimeouts are the interrupted-transaction timeouts. The seed's
// second one, the wait after the lock lapses before the instruction is
// re-sent (at most 10 minutes), is not a setting: latchkey re-sends at
// the lapse itself (see SettleInstruction).
type CheckoutTimeouts struct {
	InstructionLock time.Duration
}

// Checkout is one check-out of a group set on a terminal for a person.
// Generation is the terminal's fencing number for it: every check-out on
// a terminal gets a larger one than those before.
type Checkout struct {
	ID         string         `json:"id"`
	GroupSet   string         `json:"groupset"`
	Terminal   string         `json:"terminal"`
	Principal  string         `json:"principal"`
	Login      string         `json:"login"`
	Groups     []string       `json:"groups"`
	Status     CheckoutStatus `json:"status"`
	Generation uint64         `json:"generation"`
	StartedAt  time.Time      `json:"started_at"`
	ExpiresAt  time.Time      `json:"expires_at"`
	EndReason  string         `json:"end_reason,omitempty"` // checked_in: checkin | expired; failed: the agent's detail
	Attempts   int            `json:"attempts"`
	// Request is the access request that provisioned it, if any.
	Request string `json:"request,omitempty"`
}

// CanCheckIn says whether the check-out may be checked in now.
func (c Checkout) CanCheckIn() bool { return c.Status == CheckingOut || c.Status == CheckedOut }

// Instruction is what the agent of a terminal is told to do: add Login to
// Groups until EndsAt (checkout), or remove it (checkin). Generation is
// that of the check-out it belongs to.
type Instruction struct {
	ID          string           `json:"id"`
	Checkout    string           `json:"-"`
	Terminal    string           `json:"terminal"`
	Kind        InstructionKind  `json:"kind"`
	Login       string           `json:"login"`
	Groups      []string         `json:"groups"`
	Generation  uint64           `json:"generation"`
	EndsAt      time.Time        `json:"ends_at"` // checkout: the agent removes the memberships by itself then
	IssuedAt    time.Time        `json:"issued_at"`
	Attempt     int              `json:"attempt"` // deliveries so far, this one included
	State       InstructionState `json:"-"`
	ReadyAt     time.Time        `json:"-"` // pending: deliverable from then
	LockedUntil time.Time        `json:"-"` // delivered: its groups are locked until then
	Result      ReplyResult      `json:"-"` // done: ok | error
	Detail      string           `json:"-"`
	// Signature is the server's signature of the instruction as delivered
	// (InstructionDomain); Raw the document as received (set by the
	// client), which it is checked over.
	Signature string `json:"signature,omitempty"`
	Raw       []byte `json:"-"`
	// Task is the task that issued it (a reconciliation's inventory or
	// correction); Fix marks a correction, which the agent applies
	// whatever its journal says (ApplyInstruction).
	Task string `json:"task,omitempty"`
	Fix  bool   `json:"fix,omitempty"`
	// Members is an inventory's answer: group → logins.
	Members map[string][]string `json:"-"`
}

// locks reports whether the instruction holds its groups locked now.
func (in Instruction) locks(now time.Time) bool {
	return in.Kind != InstrInventory && in.State == InstrDelivered && now.Before(in.LockedUntil)
}

// CheckoutRequest is POST /v1/checkouts after the caller and the set are
// resolved.
type CheckoutRequest struct {
	Set       GroupSet
	Terminal  string
	Site      string // the terminal's site
	Principal string
	Login     string
	Minutes   int  // 0: the set's maximum
	ByStaff   bool // the caller is an admin or a delegate
	// Open are the terminal's instructions that are not done or
	// cancelled; Generation is the terminal's last generation.
	Open       []Instruction
	Generation uint64
	// Request is the access request provisioning the check-out: a set
	// with approval is checked out only through one.
	Request string
}

// InstructionView is an outstanding instruction as admins see it
// (GET /v1/terminals/{id}/instructions): the instruction the agent gets,
// with its check-out, its state, until when a delivered one locks its
// groups, and from when a pending one is deliverable.
type InstructionView struct {
	Instruction
	Checkout    string           `json:"checkout"`
	State       InstructionState `json:"state"`
	LockedUntil *time.Time       `json:"locked_until,omitempty"`
	ReadyAt     time.Time        `json:"ready_at"`
}

// View is in as admins see it.
func (in Instruction) View() InstructionView {
	v := InstructionView{Instruction: in, Checkout: in.Checkout, State: in.State, ReadyAt: in.ReadyAt}
	if in.State == InstrDelivered {
		until := in.LockedUntil
		v.LockedUntil = &until
	}
	return v
}

// CheckinReason says why a check-out was checked in (its end_reason).
type CheckinReason string

// Check-in reasons.
const (
	CheckinAsked   CheckinReason = "checkin" // the person or staff checked it in
	CheckinExpired CheckinReason = "expired" // its time ran out
	// CheckinRequestEnded: the access request that provisioned it was
	// cancelled or failed, and what it provisioned is taken back.
	CheckinRequestEnded CheckinReason = "request_ended"
)

// CheckoutOutcome is what DecideCheckout, DecideCheckin and DecideExtend
// decide: the check-out as it now stands, the existing instructions whose
// state or end they changed, and the instruction to send next, if any.
// The core assigns no IDs: a new check-out or instruction comes back with
// an empty ID, and the shell gives it one (an instruction of a new
// check-out gets the check-out's, see AssignIDs).
type CheckoutOutcome struct {
	Checkout Checkout
	Changed  []Instruction
	New      *Instruction
}

// AssignIDs gives the new check-out and the new instruction of o the IDs
// newID makes for their kind ("co", "ins"), and links the instruction to
// its check-out. IDs already set are kept.
func (o *CheckoutOutcome) AssignIDs(newID func(prefix string) string) {
	if o.Checkout.ID == "" {
		o.Checkout.ID = newID("co")
	}
	if o.New != nil {
		if o.New.ID == "" {
			o.New.ID = newID("ins")
		}
		o.New.Checkout = o.Checkout.ID
	}
}

// DecideCheckout starts a check-out: it is refused when the person may
// not check the set out (forbidden), when minutes exceed the set's
// maximum (bad_request), or when a group of the set is locked on the
// terminal by an instruction waiting for its reply (conflict). Otherwise
// the check-out starts checking_out with the terminal's next generation,
// and its checkout instruction (New) is ready at once.
func DecideCheckout(r CheckoutRequest, now time.Time) (CheckoutOutcome, error) {
	if !r.Set.AllowsSite(r.Site) {
		return CheckoutOutcome{}, Errorf(EFORBIDDEN, "group set %s is not available at site %s (it is limited to sites %v)",
			r.Set.Name, r.Site, r.Set.Sites).With("site", r.Site)
	}
	if r.Set.Approval && r.Request == "" {
		return CheckoutOutcome{}, Errorf(ECONFLICT, "group set %s needs approval: request it (POST /v1/requests)", r.Set.Name).
			With("reason", "approval_required")
	}
	if !r.ByStaff && !slices.Contains(r.Set.Eligible, r.Principal) {
		return CheckoutOutcome{}, Errorf(EFORBIDDEN, "not eligible to check out group set %s", r.Set.Name)
	}
	minutes := r.Minutes
	if minutes == 0 {
		minutes = r.Set.MaxMinutes
	}
	if minutes < 1 || minutes > r.Set.MaxMinutes {
		return CheckoutOutcome{}, BadField("minutes", "minutes must be 1 to %d (the group set's maximum)", r.Set.MaxMinutes)
	}
	if !ValidLogin(r.Login) {
		return CheckoutOutcome{}, Errorf(ECONFLICT, "login %q cannot be given local groups: %s", r.Login, LoginRule).
			With("login", r.Login)
	}
	for _, in := range r.Open {
		if !in.locks(now) {
			continue
		}
		for _, g := range in.Groups {
			if slices.Contains(r.Set.Groups, g) {
				return CheckoutOutcome{}, Errorf(ECONFLICT, "group %s is locked on this terminal by instruction %s until its reply", g, in.ID).
					With("group", g).With("instruction", in.ID).With("until", in.LockedUntil)
			}
		}
	}
	c := Checkout{GroupSet: r.Set.ID, Terminal: r.Terminal, Principal: r.Principal, Login: r.Login, Request: r.Request,
		Groups: slices.Clone(r.Set.Groups), Status: CheckingOut, Generation: r.Generation + 1,
		StartedAt: now, ExpiresAt: now.Add(time.Duration(minutes) * time.Minute)}
	in := Instruction{Terminal: c.Terminal, Kind: InstrCheckout, Login: c.Login,
		Groups: c.Groups, Generation: c.Generation, EndsAt: c.ExpiresAt, IssuedAt: now, State: InstrPending, ReadyAt: now}
	return CheckoutOutcome{Checkout: c, New: &in}, nil
}

// Deliver hands a pending instruction to the agent: its groups are
// locked on the terminal until a reply or until the lock lapses.
func Deliver(in Instruction, t CheckoutTimeouts, now time.Time) (Instruction, bool) {
	if in.State != InstrPending || now.Before(in.ReadyAt) {
		return in, false
	}
	in.State, in.Attempt, in.LockedUntil = InstrDelivered, in.Attempt+1, now.Add(t.InstructionLock)
	return in, true
}

// SettleInstruction applies time: a delivered instruction whose lock
// lapsed without a reply is prepared for re-delivery (seed steps 3 and
// 6): it is pending again. The seed allows up to 10 minutes after the
// lapse; latchkey readies it at the lapse itself, the earliest it
// allows: the agent keeps a journal, so a re-delivery is harmless.
func SettleInstruction(in Instruction, now time.Time) (Instruction, bool) {
	if in.State != InstrDelivered || now.Before(in.LockedUntil) {
		return in, false
	}
	in.State, in.ReadyAt = InstrPending, in.LockedUntil
	return in, true
}

// Reply is the agent's answer to an instruction; an inventory's carries
// the members of the groups it asked for.
type Reply struct {
	Result  ReplyResult
	Detail  string
	Members map[string][]string
}

// DecideReply applies the agent's reply to its instruction and to the
// instruction's check-out. A reply is idempotent: a repeat, or a reply
// to an instruction already answered, changes nothing. A reply also
// counts when it comes after the lock lapsed, even after re-delivery
// was prepared (the instruction is then done and not re-sent). A
// checkout instruction's ok makes a checking_out check-out checked_out;
// its error makes it failed. A reply never changes a check-out already
// checked in or failed: it only completes the instruction.
func DecideReply(c Checkout, in Instruction, r Reply) (Checkout, Instruction, bool) {
	if in.State == InstrDone || in.State == InstrCancelled || in.Checkout != c.ID {
		return c, in, false
	}
	in.State, in.Result, in.Detail, in.LockedUntil = InstrDone, r.Result, r.Detail, time.Time{}
	if in.Kind == InstrCheckout && c.Status == CheckingOut {
		if r.Result == ReplyOK {
			c.Status = CheckedOut
		} else {
			c.Status, c.EndReason = CheckoutFailed, r.Detail
		}
	}
	return c, in, true
}

// DecideCheckin ends a check-out (reason checkin, or expired when its
// time ran out): the person sees checked_in at once. What the terminal is
// told depends on what it may have done:
//   - the checkout instruction was never delivered: it is cancelled and no
//     check-in instruction is made (the groups were never added);
//   - otherwise a checkin instruction with the check-out's generation is
//     made, ready at once: removal is harmless if the groups were not
//     added, and the agent skips a removal older than a newer check-out
//     of the same group (ApplyInstruction).
//
// A checkout instruction that was delivered but not answered is
// cancelled too: it is never sent again, so a delivery lost on the way
// cannot arrive after the removal and grant the groups again. (If the
// agent did get it, it applied it before the removal, which comes later
// on the same connection; its late reply is ignored.)
//
// A failed or already checked-in check-out cannot be checked in
// (conflict).
//
// ins are the check-out's checkout instructions, its own first, then its
// extensions; every one not yet answered is cancelled (Changed).
func DecideCheckin(c Checkout, ins []Instruction, reason CheckinReason, now time.Time) (CheckoutOutcome, error) {
	if !c.CanCheckIn() {
		return CheckoutOutcome{Checkout: c}, Errorf(ECONFLICT, "check-out %s is %s", c.ID, c.Status).With("status", c.Status)
	}
	if len(ins) == 0 {
		return CheckoutOutcome{Checkout: c}, Errorf(EINTERNAL, "check-out %s has no instruction", c.ID)
	}
	c.Status, c.EndReason = CheckedIn, string(reason)
	out := CheckoutOutcome{Checkout: c}
	neverSent := ins[0].State == InstrPending && ins[0].Attempt == 0
	for _, in := range ins {
		if in.State == InstrPending || in.State == InstrDelivered {
			in.State, in.LockedUntil = InstrCancelled, time.Time{}
			out.Changed = append(out.Changed, in)
		}
	}
	if neverSent {
		return out, nil
	}
	out.New = &Instruction{Checkout: c.ID, Terminal: c.Terminal, Kind: InstrCheckin, Login: c.Login,
		Groups: c.Groups, Generation: c.Generation, IssuedAt: now, State: InstrPending, ReadyAt: now}
	return out, nil
}

// DecideExtend moves a check-out's end to now + minutes, no later than
// its start plus the group set's maximum. The agent must learn the new
// end, since it removes the memberships by itself at the old one: a
// checkout instruction not yet delivered gets the new end in place
// (Changed); otherwise a new checkout instruction of the same generation
// carries it (New; ApplyInstruction only moves the end of that
// generation's memberships). Only a checking_out or checked_out check-out
// can be extended (conflict), and only to a later end (bad_request).
func DecideExtend(c Checkout, set GroupSet, minutes int, checkoutInstr Instruction, now time.Time) (CheckoutOutcome, error) {
	if !c.CanCheckIn() {
		return CheckoutOutcome{Checkout: c}, Errorf(ECONFLICT, "check-out %s is %s", c.ID, c.Status).With("status", c.Status)
	}
	limit := c.StartedAt.Add(time.Duration(set.MaxMinutes) * time.Minute)
	end := now.Add(time.Duration(minutes) * time.Minute)
	if minutes < 1 || end.After(limit) {
		return CheckoutOutcome{Checkout: c}, BadField("minutes", "the check-out can run until %s at most (the group set's %d minutes from its start)",
			limit.Format(time.RFC3339), set.MaxMinutes).With("limit", limit)
	}
	if !end.After(c.ExpiresAt) {
		return CheckoutOutcome{Checkout: c}, BadField("minutes", "the check-out already runs until %s", c.ExpiresAt.Format(time.RFC3339))
	}
	c.ExpiresAt = end
	if checkoutInstr.State == InstrPending && checkoutInstr.Attempt == 0 {
		checkoutInstr.EndsAt = end
		return CheckoutOutcome{Checkout: c, Changed: []Instruction{checkoutInstr}}, nil
	}
	return CheckoutOutcome{Checkout: c, New: &Instruction{Checkout: c.ID, Terminal: c.Terminal, Kind: InstrCheckout, Login: c.Login,
		Groups: c.Groups, Generation: c.Generation, EndsAt: end, IssuedAt: now, State: InstrPending, ReadyAt: now}}, nil
}

// WarningDue says whether a check-out is due its expiry warning: it runs,
// and ends within warning of now.
func (c Checkout) WarningDue(warning time.Duration, now time.Time) bool {
	return c.CanCheckIn() && warning > 0 && !now.Before(c.ExpiresAt.Add(-warning)) && now.Before(c.ExpiresAt)
}

// Expired says whether a check-out's time has run out: it is then
// checked in by the server (DecideCheckin with reason expired).
func (c Checkout) Expired(now time.Time) bool { return c.CanCheckIn() && !now.Before(c.ExpiresAt) }

// Group-set bounds.
const (
	MaxGroupSetGroups    = 32
	MaxGroupSetSites     = 256
	MaxGroupSetApprovers = 64
	MaxGroupSetMinutes   = 24 * 60
	DefaultSetMinutes    = 60
)

// CheckoutCreate is POST /v1/checkouts: a group set for a person (the
// caller when Principal is empty) on a terminal, for Minutes (0: the
// set's maximum).
type CheckoutCreate struct {
	GroupSet  string `json:"groupset"`
	Terminal  string `json:"terminal"`
	Principal string `json:"principal,omitempty"`
	Minutes   int    `json:"minutes,omitempty"`
}

// CheckoutFilter selects a person's check-outs: all of them, or only
// those running (checking out or checked out).
type CheckoutFilter struct {
	Principal string
	Running   bool
	Page
}

// Validate checks a check-out request's fields: the group set and the
// terminal named, the person (when given) and minutes within
// MaxGroupSetMinutes (0: the set's maximum; the set's own maximum is
// DecideCheckout's).
func (r CheckoutCreate) Validate() error {
	for _, f := range []struct{ name, v string }{{"groupset", r.GroupSet}, {"terminal", r.Terminal}} {
		if err := ValidName(f.name, f.v); err != nil {
			return err
		}
	}
	if r.Principal != "" {
		if err := ValidName("principal", r.Principal); err != nil {
			return err
		}
	}
	if r.Minutes < 0 || r.Minutes > MaxGroupSetMinutes {
		return BadField("minutes", "minutes must be 1 to %d (and at most the group set's maximum)", MaxGroupSetMinutes)
	}
	return nil
}

// ValidExtendMinutes checks the minutes of an extension: 1 to
// MaxGroupSetMinutes (the set's own maximum is DecideExtend's).
func ValidExtendMinutes(minutes int) error {
	if minutes < 1 || minutes > MaxGroupSetMinutes {
		return BadField("minutes", "minutes must be 1 to %d (and within the group set's maximum)", MaxGroupSetMinutes)
	}
	return nil
}

// MaxReplyDetail bounds the detail of an agent's reply, in bytes.
const MaxReplyDetail = 1000

// Validate checks an agent's reply: ok or error, and a detail of at most
// MaxReplyDetail bytes.
func (r Reply) Validate() error {
	if r.Result != ReplyOK && r.Result != ReplyError {
		return BadField("result", `result must be "ok" or "error"`)
	}
	if len(r.Detail) > MaxReplyDetail {
		return BadField("detail", "detail must be at most %d bytes", MaxReplyDetail)
	}
	return ValidateMembers(r.Members)
}

// CheckoutService runs check-outs and the agent's instructions.
type CheckoutService interface {
	// CreateCheckout errors: forbidden (not eligible; a user checking out
	// for someone else; a terminal outside the set's sites), not_found, conflict (a group locked on the
	// terminal; a person with several identities and no session there),
	// bad_request.
	CreateCheckout(ctx context.Context, c Caller, r CheckoutCreate) (*Checkout, error)
	// GetCheckout: staff, the person, or the terminal.
	GetCheckout(ctx context.Context, c Caller, id string) (*Checkout, error)
	// ListCheckouts lists a person's check-outs by ID (CanListCheckouts).
	ListCheckouts(ctx context.Context, c Caller, f CheckoutFilter) ([]Checkout, string, error)
	// ExtendCheckout moves the end of a running check-out to now +
	// minutes, within the group set's maximum from its start (staff or
	// the person).
	ExtendCheckout(ctx context.Context, c Caller, id string, minutes int) (*Checkout, error)
	// CheckinCheckout: staff or the person; conflict when it cannot be
	// checked in.
	CheckinCheckout(ctx context.Context, c Caller, id string) (*Checkout, error)
	// PollInstructions delivers the calling terminal's ready instructions
	// (at most max), locking their groups.
	PollInstructions(ctx context.Context, c Caller, max int) ([]Instruction, error)
	// OpenInstructions lists a terminal's instructions not yet answered
	// or cancelled, oldest generation first (admins and delegates).
	OpenInstructions(ctx context.Context, c Caller, terminal string) ([]Instruction, error)
	// InstructionsChanged returns a channel closed when the terminal's
	// instructions change (on any node); NextInstructionIn says how long
	// until one becomes deliverable by time alone, and whether any is
	// outstanding. Together they let a long-poll sleep until it has work.
	InstructionsChanged(terminal string) <-chan struct{}
	NextInstructionIn(ctx context.Context, terminal string) (time.Duration, bool, error)
	// ReplyInstruction records the agent's reply (idempotent).
	ReplyInstruction(ctx context.Context, c Caller, id string, r Reply) error
	// SweepCheckouts runs the check-out jobs that are due (expiry
	// warnings and check-ins of the check-outs whose time ran out) on the
	// calling node at once, as a runner would; it returns how many acted.
	SweepCheckouts(ctx context.Context) (int, error)
}
