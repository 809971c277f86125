package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"latchkey"
	"latchkey/client"
)

// printJSON writes v to stdout as indented JSON.
func (c *cmd) printJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(c.stderr, "latchkey: encode output: %v\n", err)
		return 1
	}
	return 0
}

// listJSON is the API's list shape, items never null.
func listJSON[T any](items []T, next string) any {
	if items == nil {
		items = []T{}
	}
	return struct {
		Items []T    `json:"items"`
		Next  string `json:"next"`
	}{items, next}
}

// more tells a human reader that a list goes on.
// listCommand runs a "list" subcommand: it takes --limit and --after,
// fetches one page, and prints it as the API's JSON or as a table with one
// row per item, followed by the cursor of the next page.
func listCommand[T any](e *env, name, synopsis string,
	fetch func(*client.Client, context.Context, latchkey.Page) ([]T, string, error),
	header string, row func(T) []string, args []string) int {
	c := e.newCmd(name, synopsis, true)
	page := c.page()
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := fetch(cl, c.ctx, *page)
	if err != nil {
		return c.fail(err)
	}
	return printList(c, items, next, header, row)
}

// printList prints one page of a list: as the API's JSON with --json,
// else a table (header, one row per item) and how to get the next page.
func printList[T any](c *cmd, items []T, next, header string, row func(T) []string) int {
	if c.json {
		return c.printJSON(listJSON(items, next))
	}
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = row(it)
	}
	table(c.stdout, header, rows)
	c.more(next)
	return 0
}

// showCommand runs a "show ID" subcommand: it fetches one resource and
// prints it with show (which honours --json).
func showCommand[T any](e *env, name string, fetch func(*client.Client, context.Context, string) (*T, error),
	show func(*cmd, *T) int, args []string) int {
	c := e.newCmd(name, "ID", true)
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	v, err := fetch(cl, c.ctx, pos[0])
	if err != nil {
		return c.fail(err)
	}
	return show(c, v)
}

func (c *cmd) more(next string) {
	if next != "" {
		fmt.Fprintf(c.stderr, "more: rerun with --after %s\n", next)
	}
}

// fail reports err and returns status 1. An API error prints
// "latchkey: CODE: MESSAGE" to stderr, its details as text (or, with
// --json, the error object to stdout); conflicting sessions are listed.
func (c *cmd) fail(err error) int {
	var le *latchkey.Error
	if !errors.As(err, &le) {
		fmt.Fprintf(c.stderr, "latchkey: %v\n", err)
		return 1
	}
	fmt.Fprintf(c.stderr, "latchkey: %s: %s\n", le.Code, le.Message)
	if c.json {
		details := le.Details
		if details == nil {
			details = map[string]any{}
		}
		c.printJSON(latchkey.ErrorBody{Error: latchkey.ErrorFields{Code: le.Code, Message: le.Message, Details: details}})
		return 1
	}
	refs := client.ConflictSessions(err)
	var keys []string
	for k := range le.Details {
		if k != "sessions" || refs == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(c.stderr, "  %s: %s\n", k, detailText(le.Details[k]))
	}
	if refs != nil {
		fmt.Fprintln(c.stderr, "conflicting sessions:")
		w := tabwriter.NewWriter(c.stderr, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "  ID\tTERMINAL\tIDENTITY\tSTARTED\tLOCKED")
		for _, r := range refs {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", r.ID, r.TerminalID, r.Identity, timeText(r.StartedAt), timePtrText(r.LockedAt))
		}
		w.Flush()
	}
	switch le.Code {
	case latchkey.ECONCURRENTSESSION:
		fmt.Fprintln(c.stderr, "hint: lock those sessions at their terminals and retry, or retry with --force to fail them")
	case latchkey.EIDENTITYINUSE:
		if len(refs) > 0 {
			fmt.Fprintf(c.stderr, "hint: log on with identity %q, or end those sessions first (latchkey session logout ID)\n", refs[0].Identity)
		}
	case latchkey.EUNAUTHENTICATED:
		if c.usesTerminal {
			fmt.Fprintln(c.stderr, "hint: pass --terminal-token or set LATCHKEY_TERMINAL_TOKEN")
		} else {
			fmt.Fprintln(c.stderr, "hint: run 'latchkey auth login --identity ID', or pass --token / set LATCHKEY_TOKEN")
		}
	case latchkey.ESESSIONFAILED:
		fmt.Fprintln(c.stderr, "hint: the session was failed; log out (latchkey session logout ID) and log on again")
	case latchkey.ERATELIMITED:
		if d := client.RetryAfter(err); d > 0 {
			fmt.Fprintf(c.stderr, "hint: the server holds back this kind of call for now; try again in %s\n", d)
		} else {
			fmt.Fprintln(c.stderr, "hint: the server holds back this kind of call for now; try again later")
		}
	}
	return 1
}

// detailText renders one error detail for a human.
func detailText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "-"
	case float64, bool:
		return fmt.Sprint(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func timePtrText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return timeText(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// table writes rows under a header, aligned.
func table(w io.Writer, header string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// fields writes "key: value" lines, aligned.
func fields(w io.Writer, kv ...string) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
	}
	tw.Flush()
}
