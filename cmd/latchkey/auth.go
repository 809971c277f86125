package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"latchkey"
)

var authSynopsis = []string{
	"auth login --identity ID [--password-stdin] [--print-token]",
	"auth logout",
}

func runAuth(e *env, args []string) int {
	return e.dispatch("auth", authSynopsis, map[string]func(*env, []string) int{
		"login":  authLogin,
		"logout": authLogout,
	}, args)
}

// authLogin logs a person in and keeps their user token in the token file.
func authLogin(e *env, args []string) int {
	c := e.newCmd("auth login", synopsisOf(authSynopsis, "auth login"), true)
	identity := c.fs.String("identity", "", "the identity (login ID) to log in as")
	pw := c.passwordFlag()
	printToken := c.fs.Bool("print-token", false, "also print the token")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("identity"); st != 0 {
		return st
	}
	password, st, ok := pw.get("LATCHKEY_PASSWORD", "Password for "+*identity+": ", false)
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	t, err := cl.WithToken("").Login(c.ctx, *identity, password)
	if err != nil {
		return c.fail(err)
	}
	path, err := saveToken(t.Token)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		out := map[string]any{}
		b, _ := json.Marshal(t)
		json.Unmarshal(b, &out)
		if !*printToken {
			delete(out, "token")
		}
		return c.printJSON(out)
	}
	fmt.Fprintf(c.stdout, "logged in as %s (%s, %s) until %s\n", t.Principal.Name, t.Principal.ID, t.Principal.Role, timeText(t.ExpiresAt))
	fmt.Fprintf(c.stdout, "token saved to %s\n", path)
	if *printToken {
		fmt.Fprintf(c.stdout, "token: %s\n", t.Token)
	}
	if os.Getenv("LATCHKEY_TOKEN") != "" {
		fmt.Fprintln(c.stderr, "note: LATCHKEY_TOKEN is set and takes precedence over the saved token")
	}
	return 0
}

// authLogout revokes the user token and forgets the saved one.
func authLogout(e *env, args []string) int {
	c := e.newCmd("auth logout", "", true)
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	tok, fromFile, err := c.userToken()
	if err != nil {
		return c.fail(err)
	}
	if tok == "" {
		fmt.Fprintln(c.stderr, "not logged in")
		return 0
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	// An unauthenticated answer means the token is already invalid (expired
	// or revoked): logged out all the same.
	if err := cl.WithToken(tok).Logout(c.ctx); err != nil && latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		return c.fail(err)
	}
	if fromFile {
		path, _ := tokenFile()
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return c.fail(fmt.Errorf("remove token file: %w", err))
		}
	}
	if !c.json { // the API answers 204: no JSON to print
		fmt.Fprintln(c.stdout, "logged out")
	}
	return 0
}
