package latchkey

import (
	"cmp"
	"slices"
	"time"
)

// Reconciliation (API.md "Workflows, approvals, scheduled tasks", task
// kind reconcile): each terminal's agent is asked for its actual members
// of the groups latchkey manages there (an inventory instruction); what
// it reports is compared with what latchkey granted, and the drift is
// reported and, with fix, corrected through ordinary checkout and checkin
// instructions. The rules here are pure; the store runs them a batch of
// terminals at a time, checkpointing after each batch.

// InstrInventory asks the agent for its members of Groups: it changes
// nothing, is not journalled, locks no group, and its reply carries
// Members.
const InstrInventory InstructionKind = "inventory"

// Reconciliation bounds.
const (
	MaxInventoryGroups    = 256  // groups one inventory asks for
	MaxInventoryMembers   = 1000 // logins one group may report
	DefaultReconcileBatch = 100
	MaxReconcileBatch     = 1000
	DefaultReconcileWait  = time.Minute
	MinReconcileWait      = time.Second
	MaxReconcileWait      = 10 * time.Minute
)

// ReconcileParams are a reconciliation's parameters: with Fix, the drift
// found is corrected through ordinary instructions; Batch terminals are
// asked at once and checkpointed together; a terminal that has not
// answered Wait after it was asked is reported unreachable.
type ReconcileParams struct {
	Fix   bool   `json:"fix"`
	Batch int    `json:"batch,omitempty"`
	Wait  string `json:"wait,omitempty"`
}

// Settings checks the parameters and fills in the defaults.
func (p ReconcileParams) Settings() (batch int, wait time.Duration, err error) {
	batch, wait = cmp.Or(p.Batch, DefaultReconcileBatch), DefaultReconcileWait
	if batch < 1 || batch > MaxReconcileBatch {
		return 0, 0, BadField("params.batch", "batch must be 1 to %d terminals", MaxReconcileBatch)
	}
	if p.Wait != "" {
		if wait, err = time.ParseDuration(p.Wait); err != nil || wait < MinReconcileWait || wait > MaxReconcileWait {
			return 0, 0, BadField("params.wait", "wait must be a duration from 1s to 10m, such as \"1m\"")
		}
	}
	return batch, wait, nil
}

// TerminalDrift is what a reconciliation found on one terminal: members
// latchkey did not grant (Unexpected), grants the terminal lacks
// (Missing), and the instructions issued to correct them (Fixes). A
// terminal whose agent did not answer in time is Unreachable; one whose
// agent answered with an error has Error.
type TerminalDrift struct {
	Terminal    string      `json:"terminal"`
	Unreachable bool        `json:"unreachable,omitempty"`
	Error       string      `json:"error,omitempty"`
	Unexpected  []MemberKey `json:"unexpected,omitempty"`
	Missing     []MemberKey `json:"missing,omitempty"`
	Fixes       []string    `json:"fixes,omitempty"`
}

// Drifted says whether anything on the terminal differs from latchkey's
// grants.
func (d TerminalDrift) Drifted() bool { return len(d.Unexpected) > 0 || len(d.Missing) > 0 }

// ReconcileResult is a reconciliation's result (GET /v1/tasks/{id}/result):
// counts over all terminals, and the terminals with drift, an error, or
// no answer.
type ReconcileResult struct {
	Fix         bool            `json:"fix"`
	Terminals   int             `json:"terminals"`
	Answered    int             `json:"answered"`
	Unreachable int             `json:"unreachable"`
	Errors      int             `json:"errors"`
	Drifted     int             `json:"drifted"`
	Unexpected  int             `json:"unexpected"`
	Missing     int             `json:"missing"`
	Fixes       int             `json:"fixes"`
	Drift       []TerminalDrift `json:"drift"`
}

// SummarizeReconcile adds up the terminals' findings, in terminal order.
func SummarizeReconcile(fix bool, found []TerminalDrift) ReconcileResult {
	r := ReconcileResult{Fix: fix, Terminals: len(found), Drift: []TerminalDrift{}}
	for _, d := range found {
		switch {
		case d.Unreachable:
			r.Unreachable++
		case d.Error != "":
			r.Errors++
		default:
			r.Answered++
		}
		if d.Drifted() {
			r.Drifted++
		}
		r.Unexpected += len(d.Unexpected)
		r.Missing += len(d.Missing)
		r.Fixes += len(d.Fixes)
		if d.Unreachable || d.Error != "" || d.Drifted() {
			r.Drift = append(r.Drift, d)
		}
	}
	slices.SortFunc(r.Drift, func(a, b TerminalDrift) int { return cmp.Compare(a.Terminal, b.Terminal) })
	return r
}

// TerminalGrants is what latchkey knows of one terminal when it compares
// an inventory: the groups it manages there, the terminal's check-outs
// that are not over, and its instructions not yet answered.
type TerminalGrants struct {
	Managed   []string
	Checkouts []Checkout
	Open      []Instruction
}

// FindDrift compares the members an agent reported (group → logins) with
// what latchkey granted, over the managed groups only. A check-out
// checked_out and not past its end is expected on the terminal. Pairs
// that are in motion are neither expected nor unexpected: those of a
// check-out still checking_out or past its end (the agent removes it by
// its own clock) and those of an instruction not yet answered. Both
// lists come back sorted.
func FindDrift(g TerminalGrants, actual map[string][]string, now time.Time) (unexpected, missing []MemberKey) {
	managed := map[string]bool{}
	for _, grp := range g.Managed {
		managed[grp] = true
	}
	expected, moving := map[MemberKey]bool{}, map[MemberKey]bool{}
	for _, c := range g.Checkouts {
		into := moving
		switch {
		case c.Status == CheckedOut && now.Before(c.ExpiresAt):
			into = expected
		case c.Status != CheckingOut && c.Status != CheckedOut:
			continue
		}
		for _, grp := range c.Groups {
			into[MemberKey{grp, c.Login}] = true
		}
	}
	for _, in := range g.Open {
		if in.Kind == InstrInventory || in.State == InstrDone || in.State == InstrCancelled {
			continue
		}
		for _, grp := range in.Groups {
			moving[MemberKey{grp, in.Login}] = true
		}
	}
	have := map[MemberKey]bool{}
	for grp, logins := range actual {
		if !managed[grp] {
			continue
		}
		for _, l := range logins {
			have[MemberKey{grp, l}] = true
		}
	}
	for k := range have {
		if !expected[k] && !moving[k] {
			unexpected = append(unexpected, k)
		}
	}
	for k := range expected {
		if managed[k.Group] && !have[k] && !moving[k] {
			missing = append(missing, k)
		}
	}
	byKey := func(a, b MemberKey) int { return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Login, b.Login)) }
	slices.SortFunc(unexpected, byKey)
	slices.SortFunc(missing, byKey)
	return unexpected, missing
}

// DriftFixes are the ordinary instructions that correct a terminal's
// drift (the shell assigns their IDs and task): for each check-out with
// missing memberships a checkout instruction of that check-out (its
// generation and end) for the missing groups; for each login with
// unexpected memberships a checkin instruction of the terminal's current
// generation, so that a check-out made after the inventory (a newer
// generation) is never undone by it. Corrections are marked Fix: the
// agent applies them whatever its journal says (ApplyInstruction).
func DriftFixes(terminal string, unexpected, missing []MemberKey, checkouts []Checkout, generation uint64, now time.Time) []Instruction {
	var out []Instruction
	for _, c := range checkouts {
		var groups []string
		for _, k := range missing {
			if k.Login == c.Login && slices.Contains(c.Groups, k.Group) && c.Status == CheckedOut && now.Before(c.ExpiresAt) {
				groups = append(groups, k.Group)
			}
		}
		if len(groups) > 0 {
			out = append(out, Instruction{Checkout: c.ID, Terminal: terminal, Kind: InstrCheckout, Login: c.Login, Groups: groups,
				Generation: c.Generation, EndsAt: c.ExpiresAt, IssuedAt: now, State: InstrPending, ReadyAt: now, Fix: true})
			missing = slices.DeleteFunc(slices.Clone(missing), func(k MemberKey) bool { return k.Login == c.Login && slices.Contains(groups, k.Group) })
		}
	}
	byLogin := map[string][]string{}
	var logins []string
	for _, k := range unexpected {
		if _, ok := byLogin[k.Login]; !ok {
			logins = append(logins, k.Login)
		}
		byLogin[k.Login] = append(byLogin[k.Login], k.Group)
	}
	slices.Sort(logins)
	for _, l := range logins {
		for groups := range slices.Chunk(byLogin[l], MaxGroupSetGroups) {
			out = append(out, Instruction{Terminal: terminal, Kind: InstrCheckin, Login: l, Groups: groups,
				Generation: generation, IssuedAt: now, State: InstrPending, ReadyAt: now, Fix: true})
		}
	}
	return out
}

// DecideTaskReply applies the agent's reply to an instruction a task
// issued (an inventory, or a correction without a check-out): it is done
// with the result, and an inventory keeps the members reported. A repeat
// changes nothing.
func DecideTaskReply(in Instruction, r Reply) (Instruction, bool) {
	if in.State == InstrDone || in.State == InstrCancelled {
		return in, false
	}
	in.State, in.Result, in.Detail, in.LockedUntil = InstrDone, r.Result, r.Detail, time.Time{}
	if in.Kind == InstrInventory && r.Result == ReplyOK {
		in.Members = r.Members
		if in.Members == nil {
			in.Members = map[string][]string{}
		}
	}
	return in, true
}

// ValidateMembers checks an inventory reply's members: at most
// MaxInventoryGroups groups of valid names, each with at most
// MaxInventoryMembers valid logins.
func ValidateMembers(m map[string][]string) error {
	if len(m) > MaxInventoryGroups {
		return BadField("members", "members lists at most %d groups", MaxInventoryGroups)
	}
	for g, logins := range m {
		if !ValidGroupName(g) {
			return BadField("members", "group %q: %s", g, GroupNameRule)
		}
		if len(logins) > MaxInventoryMembers {
			return BadField("members", "group %s lists more than %d members", g, MaxInventoryMembers)
		}
		for _, l := range logins {
			if !ValidLogin(l) {
				return BadField("members", "group %s: login %q: %s", g, l, LoginRule)
			}
		}
	}
	return nil
}
