package main

import (
	"fmt"
	"os"

	"latchkey"
)

var identitySynopsis = []string{
	"identity add --principal ID --login L [--password-stdin] [--lock-token T]",
	"identity passwd --login L [--password-stdin]",
}

func runIdentity(e *env, args []string) int {
	return e.dispatch("identity", identitySynopsis, map[string]func(*env, []string) int{
		"add":    identityAdd,
		"passwd": identityPasswd,
	}, args)
}

// identityAdd gives a principal a new login ID with its password.
func identityAdd(e *env, args []string) int {
	c := e.newCmd("identity add", synopsisOf(identitySynopsis, "identity add"), true)
	under := c.underLock(latchkey.LockAdminUsers)
	principal := c.fs.String("principal", "", "the principal's ID")
	login := c.fs.String("login", "", "the new login ID")
	pw := c.passwordFlag()
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("principal", "login"); st != 0 {
		return st
	}
	password, st, ok := pw.getNew("password", "LATCHKEY_PASSWORD", "Password for "+*login+": ")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	id, err := cl.AddIdentity(under(), *principal, *login, password)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(id)
	}
	fmt.Fprintf(c.stdout, "added identity %s to principal %s\n", id.Login, orDash(id.PrincipalID))
	return 0
}

// identityPasswd changes an identity's password. The new password comes
// like any other; the old one from $LATCHKEY_OLD_PASSWORD or a prompt
// (admins and delegates may leave it empty).
func identityPasswd(e *env, args []string) int {
	c := e.newCmd("identity passwd", synopsisOf(identitySynopsis, "identity passwd"), true)
	login := c.fs.String("login", "", "the identity whose password changes")
	pw := c.passwordFlag()
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("login"); st != 0 {
		return st
	}
	old, haveOld := os.LookupEnv("LATCHKEY_OLD_PASSWORD")
	if !haveOld && pw.canPrompt() {
		var err error
		if old, err = pw.prompt("Current password for " + *login + " (empty if you are an admin or delegate): "); err != nil {
			return c.fail(err)
		}
	}
	password, st, ok := pw.getNew("new_password", "LATCHKEY_PASSWORD", "New password for "+*login+": ")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.ChangePassword(c.ctx, *login, old, password); err != nil {
		return c.fail(err)
	}
	if !c.json { // the API answers 204: no JSON to print
		fmt.Fprintf(c.stdout, "password changed for %s\n", *login)
	}
	return 0
}
