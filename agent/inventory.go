package agent

import (
	"context"
	"fmt"

	"latchkey"
)

// MemberLister is an executor that can say who is in its groups: what a
// reconciliation's inventory asks for.
type MemberLister interface {
	// GroupMembers returns each group's members; a group that does not
	// exist has none.
	GroupMembers(groups []string) (map[string][]string, error)
}

// inventory answers a reconciliation's inventory: the members of the
// groups it names, read from the workstation now. It changes nothing, so
// it is not journalled: a re-delivered inventory is read again. An
// inventory the Trust refuses, or an executor that cannot list members,
// is answered with an error.
func (a *Agent) inventory(ctx context.Context, in latchkey.Instruction) error {
	if _, _, err := a.admit(ctx, in); err != nil {
		a.logger().Error("inventory refused", "instruction", in.ID, "err", err)
		return a.reply(ctx, in.ID, latchkey.Reply{Result: latchkey.ReplyError, Detail: err.Error()})
	}
	lister, ok := a.Executor.(MemberLister)
	if !ok {
		return a.reply(ctx, in.ID, latchkey.Reply{Result: latchkey.ReplyError, Detail: fmt.Sprintf("the executor (%T) cannot list group members", a.Executor)})
	}
	a.mu.Lock() // not in the middle of another instruction's changes
	members, err := lister.GroupMembers(in.Groups)
	a.mu.Unlock()
	if err != nil {
		return a.reply(ctx, in.ID, latchkey.Reply{Result: latchkey.ReplyError, Detail: err.Error()})
	}
	r := latchkey.Reply{Result: latchkey.ReplyOK, Members: map[string][]string{}}
	skipped := 0
	for _, g := range in.Groups {
		r.Members[g] = []string{}
		for _, l := range members[g] {
			if !latchkey.ValidLogin(l) || len(r.Members[g]) == latchkey.MaxInventoryMembers {
				skipped++ // latchkey could not name it in an instruction either
				continue
			}
			r.Members[g] = append(r.Members[g], l)
		}
	}
	if skipped > 0 {
		r.Detail = fmt.Sprintf("%d members not reported: a login latchkey cannot manage (%s), or over %d in a group", skipped, latchkey.LoginRule, latchkey.MaxInventoryMembers)
	}
	a.logger().Info("inventory", "instruction", in.ID, "groups", len(in.Groups), "skipped", skipped)
	return a.reply(ctx, in.ID, r)
}
