package latchkey

import (
	"cmp"
	"slices"
	"time"
)

// Membership is what the agent has applied for one (group, login): the
// generation of the check-out that added it and when it ends. Removed
// marks a membership taken away (by check-in or expiry): it is kept so
// that no check-out of that generation or older is applied again.
type Membership struct {
	Generation uint64
	EndsAt     time.Time
	Removed    bool
}

// MemberKey names a membership: a group and a login.
type MemberKey struct {
	Group string `json:"group"`
	Login string `json:"login"`
}

// Change is one group change the agent's executor applies.
type Change struct {
	Add   bool
	Group string
	Login string
}

// ApplyInstruction is the agent's rule: what an instruction changes on
// the workstation, given the memberships it applied before. A checkout
// adds the login to each group and records its generation and end; a
// checkout whose end has passed adds nothing. A checkin removes only
// memberships of its own or an older generation: a late or re-sent
// removal never takes away a newer check-out's membership. A correction
// from a reconciliation (Fix) is applied whatever the journal says, since
// the workstation was found to differ from it: a checkout re-adds a
// membership of its own generation, a checkin removes one latchkey never
// granted (still never a newer check-out's). Instructions
// are applied once each (the agent's journal); this rule makes even a
// second application change nothing.
func ApplyInstruction(m map[MemberKey]Membership, in Instruction, now time.Time) []Change {
	var out []Change
	for _, g := range in.Groups {
		k := MemberKey{g, in.Login}
		cur, has := m[k]
		switch in.Kind {
		case InstrCheckout:
			switch {
			case !now.Before(in.EndsAt) || has && cur.Generation > in.Generation:
				continue
			case has && cur.Removed && cur.Generation >= in.Generation:
				continue // already checked in or expired: never again
			case has && cur.Generation == in.Generation: // an extension: the same grant, a later end
				if in.EndsAt.After(cur.EndsAt) {
					m[k] = Membership{Generation: cur.Generation, EndsAt: in.EndsAt}
				}
				if in.Fix { // a reconciliation found it missing on the workstation
					out = append(out, Change{Add: true, Group: g, Login: in.Login})
				}
				continue
			}
			if !has || cur.Removed {
				out = append(out, Change{Add: true, Group: g, Login: in.Login})
			}
			m[k] = Membership{Generation: in.Generation, EndsAt: in.EndsAt}
		case InstrCheckin:
			switch {
			case has && cur.Generation > in.Generation:
				continue // a newer check-out's membership
			case has && !cur.Removed, in.Fix: // a correction removes what latchkey did not grant too
				out = append(out, Change{Add: false, Group: g, Login: in.Login})
			}
			m[k] = Membership{Generation: max(cur.Generation, in.Generation), EndsAt: cur.EndsAt, Removed: true}
		}
	}
	return out
}

// ExpireMemberships is the agent's own clock: memberships whose end has
// passed are removed even when the server cannot be reached.
func ExpireMemberships(m map[MemberKey]Membership, now time.Time) []Change {
	var out []Change
	keys := make([]MemberKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b MemberKey) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Login, b.Login))
	})
	for _, k := range keys {
		if v := m[k]; !v.Removed && !now.Before(v.EndsAt) {
			out = append(out, Change{Add: false, Group: k.Group, Login: k.Login})
			m[k] = Membership{Generation: v.Generation, EndsAt: v.EndsAt, Removed: true}
		}
	}
	return out
}
