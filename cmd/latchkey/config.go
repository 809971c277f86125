package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"latchkey"
)

var configSynopsis = []string{
	"config get DOMAIN",
	"config set DOMAIN KEY=VALUE... [--unset KEY]... [--replace] [--lock-token T] [--if-version N]",
}

func runConfig(e *env, args []string) int {
	return e.dispatch("config", configSynopsis, map[string]func(*env, []string) int{
		"get": configGet,
		"set": configSet,
	}, args)
}

func configGet(e *env, args []string) int {
	c := e.newCmd("config get", synopsisOf(configSynopsis, "config get"), true)
	pos, st, ok := c.parse(args, "DOMAIN")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	d, err := cl.GetConfig(c.ctx, pos[0])
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(d)
	}
	fields(c.stdout, "domain", d.Domain, "version", strconv.FormatInt(d.Version, 10))
	if len(d.Items) > 0 {
		rows := [][]string{}
		for _, k := range slices.Sorted(maps.Keys(d.Items)) {
			rows = append(rows, []string{k, d.Items[k]})
		}
		fmt.Fprintln(c.stdout)
		table(c.stdout, "KEY\tVALUE", rows)
	}
	return 0
}

// configSet writes items of a domain in one commit: all of them or none.
func configSet(e *env, args []string) int {
	c := e.newCmd("config set", synopsisOf(configSynopsis, "config set"), true)
	var unset []string
	c.fs.Func("unset", "remove this key (repeatable)", func(k string) error { unset = append(unset, k); return nil })
	replace := c.fs.Bool("replace", false, "drop every key not given")
	lockToken := c.fs.Uint64("lock-token", 0, "the token of your grant of the lock that manages DOMAIN")
	ifVersion := c.fs.Int64("if-version", -1, "write only if DOMAIN is at this version")
	pos, st, ok := c.parse(args, "DOMAIN", "KEY=VALUE...")
	if !ok {
		return st
	}
	w := latchkey.ConfigWrite{Items: map[string]*string{}, Replace: *replace, LockToken: *lockToken}
	for _, kv := range pos[1:] {
		k, v, found := strings.Cut(kv, "=")
		if !found {
			return c.usageError("%q is not KEY=VALUE", kv)
		}
		w.Items[k] = &v
	}
	for _, k := range unset {
		w.Items[k] = nil
	}
	if c.setFlags()["if-version"] {
		if *ifVersion < 0 {
			return c.usageError("--if-version must not be negative")
		}
		w.IfVersion = ifVersion
	}
	if err := w.Validate(); err != nil {
		return c.fail(err)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	v, err := cl.PutConfig(c.ctx, pos[0], w)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]any{"domain": pos[0], "version": v})
	}
	fields(c.stdout, "domain", pos[0], "version", strconv.FormatInt(v, 10))
	return 0
}
