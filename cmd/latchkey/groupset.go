package main

import (
	"strconv"
	"strings"

	"latchkey"
	"latchkey/client"
)

var groupSetSynopsis = []string{
	"groupset create --name N --group G... [--max-minutes M] [--eligible PRINCIPAL-ID]... [--site SITE-ID]... [--approval [--approver PRINCIPAL-ID]...]",
	"groupset list [--limit N] [--after CURSOR]",
	"groupset show ID",
}

func runGroupSet(e *env, args []string) int {
	return e.dispatch("groupset", groupSetSynopsis, map[string]func(*env, []string) int{
		"create": groupSetCreate,
		"list":   groupSetList,
		"show":   groupSetShow,
	}, args)
}

// groupSetCreate defines a set of privileged local groups that people
// check out on workstations.
func groupSetCreate(e *env, args []string) int {
	c := e.newCmd("groupset create", synopsisOf(groupSetSynopsis, "groupset create"), true)
	var set latchkey.GroupSet
	c.fs.StringVar(&set.Name, "name", "", "the set's name")
	c.fs.Func("group", "a local group of the set (repeatable)", func(g string) error { set.Groups = append(set.Groups, g); return nil })
	c.fs.IntVar(&set.MaxMinutes, "max-minutes", 0, "the longest check-out (default 60)")
	c.fs.Func("eligible", "a principal who may check the set out besides admins and delegates (repeatable)", func(p string) error {
		set.Eligible = append(set.Eligible, p)
		return nil
	})
	c.fs.BoolVar(&set.Approval, "approval", false, "check-outs of the set are requested and approved (latchkey request create)")
	c.fs.Func("approver", "a principal who decides the set's requests (repeatable; default: any admin or delegate but the requester)", func(p string) error {
		set.Approvers = append(set.Approvers, p)
		return nil
	})
	c.fs.Func("site", "limit the set to terminals of this site (repeatable; default: every site)", func(s string) error {
		set.Sites = append(set.Sites, s)
		return nil
	})
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("name"); st != 0 {
		return st
	}
	if len(set.Groups) == 0 {
		return c.usageError("--group is required: at least one local group")
	}
	if len(set.Approvers) > 0 && !set.Approval {
		return c.usageError("--approver needs --approval")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	out, err := cl.CreateGroupSet(c.ctx, set)
	if err != nil {
		return c.fail(err)
	}
	return c.showGroupSet(out)
}

func groupSetList(e *env, args []string) int {
	return listCommand(e, "groupset list", synopsisOf(groupSetSynopsis, "groupset list"), (*client.Client).ListGroupSets,
		"ID\tNAME\tGROUPS\tMAX-MINUTES\tELIGIBLE\tSITES", func(s latchkey.GroupSet) []string {
			return []string{s.ID, s.Name, strings.Join(s.Groups, ","), strconv.Itoa(s.MaxMinutes), strconv.Itoa(len(s.Eligible)),
				sitesText(s.Sites, ",")}
		}, args)
}

func groupSetShow(e *env, args []string) int {
	return showCommand(e, "groupset show", (*client.Client).GetGroupSet, (*cmd).showGroupSet, args)
}

func (c *cmd) showGroupSet(s *latchkey.GroupSet) int {
	if c.json {
		return c.printJSON(s)
	}
	fields(c.stdout, "id", s.ID, "name", s.Name, "groups", strings.Join(s.Groups, " "),
		"max minutes", strconv.Itoa(s.MaxMinutes), "eligible", orDash(strings.Join(s.Eligible, " ")),
		"sites", sitesText(s.Sites, " "), "approval", approvalText(s), "created", timeText(s.CreatedAt))
	return 0
}

// sitesText shows a set's sites: "all" when it is not limited.
func sitesText(sites []string, sep string) string {
	if len(sites) == 0 {
		return "all"
	}
	return strings.Join(sites, sep)
}

// approvalText says who approves a set's requests.
func approvalText(s *latchkey.GroupSet) string {
	switch {
	case !s.Approval:
		return "not needed"
	case len(s.Approvers) == 0:
		return "any admin or delegate"
	}
	return strings.Join(s.Approvers, " ")
}
