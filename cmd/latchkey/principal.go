package main

import (
	"strconv"

	"latchkey"
	"latchkey/client"
)

var principalSynopsis = []string{
	"principal create --name N --role admin|delegate|user [--global] [--disabled] [--lock-token T]",
	"principal list [--limit N] [--after CURSOR]",
	"principal show ID",
	"principal update ID [--role admin|delegate|user] [--global=BOOL] [--disabled=BOOL] [--lock-token T]",
	"principal sessions ID [--status active|failed|ended|expired] [--limit N] [--after CURSOR]",
	"principal offline-logon ID --revoke|--allow [--lock-token T]",
	"principal revoke-tokens ID",
}

func runPrincipal(e *env, args []string) int {
	return e.dispatch("principal", principalSynopsis, map[string]func(*env, []string) int{
		"create":        principalCreate,
		"list":          principalList,
		"show":          principalShow,
		"update":        principalUpdate,
		"sessions":      principalSessions,
		"offline-logon": principalOfflineLogon,
		"revoke-tokens": principalRevokeTokens,
	}, args)
}

func validRole(c *cmd, role string) int {
	if !latchkey.ValidPrincipalRole(latchkey.Role(role)) {
		return c.usageError("--role must be admin, delegate or user")
	}
	return 0
}

func principalCreate(e *env, args []string) int {
	c := e.newCmd("principal create", synopsisOf(principalSynopsis, "principal create"), true)
	under := c.underLock(latchkey.LockAdminUsers)
	name := c.fs.String("name", "", "the person's (or service account's) name")
	role := c.fs.String("role", "", "admin | delegate | user")
	global := c.fs.Bool("global", false, "exempt from the concurrent-login rules")
	disabled := c.fs.Bool("disabled", false, "create the principal disabled")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("name", "role"); st != 0 {
		return st
	}
	if st := validRole(c, *role); st != 0 {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	p, err := cl.CreatePrincipal(under(), latchkey.Principal{Name: *name, Role: latchkey.Role(*role), Global: *global, Disabled: *disabled})
	if err != nil {
		return c.fail(err)
	}
	return c.showPrincipal(p)
}

func principalList(e *env, args []string) int {
	return listCommand(e, "principal list", synopsisOf(principalSynopsis, "principal list"), (*client.Client).ListPrincipals,
		"ID\tNAME\tROLE\tGLOBAL\tDISABLED", func(p latchkey.Principal) []string {
			return []string{p.ID, p.Name, string(p.Role), strconv.FormatBool(p.Global), strconv.FormatBool(p.Disabled)}
		}, args)
}

func principalShow(e *env, args []string) int {
	return showCommand(e, "principal show", (*client.Client).GetPrincipal, (*cmd).showPrincipal, args)
}

func principalUpdate(e *env, args []string) int {
	c := e.newCmd("principal update", synopsisOf(principalSynopsis, "principal update"), true)
	under := c.underLock(latchkey.LockAdminUsers)
	role := c.fs.String("role", "", "admin | delegate | user")
	global := c.fs.Bool("global", false, "exempt from the concurrent-login rules")
	disabled := c.fs.Bool("disabled", false, "disable (true) or enable (false) the principal")
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	var u latchkey.PrincipalUpdate
	set := c.setFlags()
	if set["role"] {
		if st := validRole(c, *role); st != 0 {
			return st
		}
		u.Role = client.Ptr(latchkey.Role(*role))
	}
	if set["global"] {
		u.Global = global
	}
	if set["disabled"] {
		u.Disabled = disabled
	}
	if u == (latchkey.PrincipalUpdate{}) {
		return c.usageError("nothing to update: give --role, --global or --disabled")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	p, err := cl.UpdatePrincipal(under(), pos[0], u)
	if err != nil {
		return c.fail(err)
	}
	return c.showPrincipal(p)
}

func principalSessions(e *env, args []string) int {
	c := e.newCmd("principal sessions", synopsisOf(principalSynopsis, "principal sessions"), true)
	status := c.fs.String("status", "", "only sessions in this status: active | failed | ended | expired")
	page := c.page()
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	switch latchkey.SessionStatus(*status) {
	case "", latchkey.SessionActive, latchkey.SessionFailed, latchkey.SessionEnded, latchkey.SessionExpired:
	default:
		return c.usageError("--status must be active, failed, ended or expired")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := cl.ListPrincipalSessions(c.ctx, pos[0], latchkey.SessionStatus(*status), *page)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(listJSON(items, next))
	}
	c.sessionTable(items)
	c.more(next)
	return 0
}

func (c *cmd) showPrincipal(p *latchkey.Principal) int {
	if c.json {
		return c.printJSON(p)
	}
	fields(c.stdout,
		"id", p.ID,
		"name", p.Name,
		"role", string(p.Role),
		"global", strconv.FormatBool(p.Global),
		"disabled", strconv.FormatBool(p.Disabled),
		"created_at", timeText(p.CreatedAt),
	)
	return 0
}

// principalOfflineLogon revokes (or allows again) a person's offline
// logon: agents drop the person's verifiers at their next policy fetch.
func principalOfflineLogon(e *env, args []string) int {
	c := e.newCmd("principal offline-logon", synopsisOf(principalSynopsis, "principal offline-logon"), true)
	under := c.underLock(latchkey.LockAdminUsers)
	revoke := c.fs.Bool("revoke", false, "revoke the person's offline logon now")
	allow := c.fs.Bool("allow", false, "allow the person's offline logon again")
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	if *revoke == *allow {
		return c.usageError("give exactly one of --revoke and --allow")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.SetOfflineLogon(under(), pos[0], *allow); err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]any{"principal": pos[0], "offline_logon": *allow})
	}
	fields(c.stdout, "principal", pos[0], "offline_logon", strconv.FormatBool(*allow))
	return 0
}

// principalRevokeTokens makes every user token of a principal stop
// working: a stolen token, a person who left.
func principalRevokeTokens(e *env, args []string) int {
	c := e.newCmd("principal revoke-tokens", synopsisOf(principalSynopsis, "principal revoke-tokens"), true)
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.RevokeTokens(c.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]any{"principal": pos[0], "tokens_revoked": true})
	}
	fields(c.stdout, "principal", pos[0], "tokens_revoked", "true")
	return 0
}
