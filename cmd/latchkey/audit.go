package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"latchkey"
	"latchkey/client"
)

var auditSynopsis = []string{
	"audit list [--after SEQ] [--before SEQ] [--newest] [--limit N] [--actor A] [--action noun.verb] [--terminal T] [--from TIME] [--to TIME]",
	"audit verify [--seal FILE|DIR]... [--server-key KEY] [--kept-export FILE]",
	"audit seal [--out FILE]",
	"audit export [--after SEQ] [--out FILE]",
}

func runAudit(e *env, args []string) int {
	return e.dispatch("audit", auditSynopsis, map[string]func(*env, []string) int{
		"list":   auditList,
		"verify": auditVerify,
		"seal":   auditSeal,
		"export": auditExport,
	}, args)
}

func auditList(e *env, args []string) int {
	c := e.newCmd("audit list", synopsisOf(auditSynopsis, "audit list"), true)
	var f latchkey.AuditFilter
	c.fs.Int64Var(&f.After, "after", 0, "list records after this seq")
	c.fs.IntVar(&f.Limit, "limit", 0, "at most this many records (default: the server's)")
	c.fs.StringVar(&f.Actor, "actor", "", "only records of this actor (a principal or terminal ID)")
	c.fs.StringVar(&f.Action, "action", "", "only records of this action, e.g. session.login")
	c.fs.Int64Var(&f.Before, "before", 0, "list records before this seq, newest first")
	c.fs.BoolVar(&f.Newest, "newest", false, "newest first (implied by --before)")
	c.fs.StringVar(&f.Terminal, "terminal", "", "only records naming this terminal (its ID)")
	var from, to string
	c.fs.StringVar(&from, "from", "", "only records at or after this time (RFC 3339, e.g. 2026-12-04T09:00:00Z)")
	c.fs.StringVar(&to, "to", "", "only records before this time (RFC 3339)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if f.After < 0 || f.Before < 0 || f.Limit < 0 {
		return c.usageError("--after, --before and --limit must not be negative")
	}
	f.Newest = f.Newest || f.Before > 0
	for _, t := range []struct {
		flag, v string
		to      *time.Time
	}{{"--from", from, &f.From}, {"--to", to, &f.To}} {
		if t.v == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil {
			return c.usageError("%s must be a time in RFC 3339, such as 2026-12-04T09:00:00Z", t.flag)
		}
		*t.to = at
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := cl.ListAudit(c.ctx, f)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(listJSON(items, next))
	}
	rows := make([][]string, len(items))
	for i, r := range items {
		rows[i] = []string{strconv.FormatInt(r.Seq, 10), timeText(r.At), r.Actor, orDash(r.Terminal), string(r.Action), orDash(r.Target), detailsText(r.Details)}
	}
	table(c.stdout, "SEQ\tAT\tACTOR\tTERMINAL\tACTION\tTARGET\tDETAILS", rows)
	if f.Newest && next != "" {
		fmt.Fprintf(c.stderr, "more: rerun with --before %s\n", next)
	} else {
		c.more(next)
	}
	return 0
}

func detailsText(b []byte) string {
	if len(b) == 0 || string(b) == "null" || string(b) == "{}" {
		return "-"
	}
	return string(b)
}

// auditVerify checks the audit log's hash chain: exit 0 when it holds, 1
// when it is broken. Without --seal the server checks the chain against
// itself; with --seal the chain is read here and checked against seals kept
// outside latchkey too, which is what finds a rewritten and recomputed
// chain.
func auditVerify(e *env, args []string) int {
	c := e.newCmd("audit verify", synopsisOf(auditSynopsis, "audit verify"), true)
	var sealPaths []string
	c.fs.Func("seal", "a seal file (from 'audit seal' or the server's --seal-dir) or a directory of them to check the chain against (repeatable)", func(v string) error {
		sealPaths = append(sealPaths, v)
		return nil
	})
	serverKey := c.fs.String("server-key", "", "the server's public key (base64) the seals must be signed with (default: the key the server signs with now)")
	keptPath := c.fs.String("kept-export", "", "an earlier 'audit export' kept elsewhere: names exactly the first record a rewrite changed")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if *serverKey != "" && len(sealPaths) == 0 {
		return c.usageError("--server-key needs --seal")
	}
	var kept io.Reader
	if *keptPath != "" {
		f, err := os.Open(*keptPath)
		if err != nil {
			return c.fail(err)
		}
		defer f.Close()
		kept = bufio.NewReaderSize(f, 64<<10)
	}
	var seals []latchkey.AuditSeal
	for _, p := range sealPaths {
		s, err := readSeals(p)
		if err != nil {
			return c.fail(err)
		}
		seals = append(seals, s...)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var v *latchkey.AuditVerification
	if len(sealPaths) == 0 && kept == nil {
		v, err = cl.VerifyAudit(c.ctx)
	} else {
		v, err = cl.VerifyAuditAgainst(c.ctx, client.AuditCheck{Seals: seals, ServerKey: *serverKey, Kept: kept})
	}
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.printJSON(v)
		if !v.OK {
			fmt.Fprintf(c.stderr, "latchkey: audit chain broken at seq %d\n", v.FirstBadSeq)
		}
	} else if v.OK {
		fmt.Fprintf(c.stdout, "audit chain ok: %d records\n", v.Records)
		if v.Sealed > 0 {
			fmt.Fprintf(c.stdout, "matches %d seal(s), up to seq %d\n", len(seals), v.Sealed)
		}
	} else {
		fmt.Fprintf(c.stdout, "audit chain broken at seq %d\n", v.FirstBadSeq)
		if why := brokenText(v); why != "" {
			fmt.Fprintln(c.stdout, why)
		}
	}
	if !v.OK {
		return 1
	}
	return 0
}

// brokenText explains a broken chain's reason to a person.
func brokenText(v *latchkey.AuditVerification) string {
	switch v.Reason {
	case latchkey.BrokenChain:
		return fmt.Sprintf("record %d was changed, removed or inserted: its hash or link does not follow from the records before it", v.FirstBadSeq)
	case latchkey.BrokenHead:
		return "the records after the last one that verifies were removed or rewritten: the chain's stored head does not match its end"
	case latchkey.BrokenSeal:
		from := v.SealMatched + 1
		if from == v.FirstBadSeq {
			return fmt.Sprintf("record %d no longer matches its seal: it was changed and the chain after it recomputed", v.FirstBadSeq)
		}
		return fmt.Sprintf("record %d no longer matches its seal: a record between %d and %d was changed and the chain recomputed (a seal nearer to it narrows this down)", v.FirstBadSeq, from, v.FirstBadSeq)
	case latchkey.BrokenKept:
		return fmt.Sprintf("record %d differs from the kept export: it was changed (and, if the chain verifies up to it, the chain recomputed)", v.FirstBadSeq)
	case latchkey.BrokenTruncated:
		return fmt.Sprintf("the chain ends at %d, before sealed record %d: records from %d on were deleted", v.FirstBadSeq-1, v.Sealed, v.FirstBadSeq)
	}
	return ""
}

// readSeals reads one seal file, or every *.json seal file of a directory.
func readSeals(path string) ([]latchkey.AuditSeal, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if fi.IsDir() {
		if files, err = filepath.Glob(filepath.Join(path, "*.json")); err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no seal files (*.json) in %s", path)
		}
	}
	out := make([]latchkey.AuditSeal, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s latchkey.AuditSeal
		if err := json.Unmarshal(b, &s); err != nil || s.Signature == "" {
			return nil, fmt.Errorf("%s is not a seal (want the JSON of 'latchkey audit seal')", f)
		}
		out = append(out, s)
	}
	return out, nil
}

// auditSeal prints (or writes to --out, mode 0600) the chain's head signed
// with the server's key, to be kept outside latchkey.
func auditSeal(e *env, args []string) int {
	c := e.newCmd("audit seal", synopsisOf(auditSynopsis, "audit seal"), true)
	out := c.fs.String("out", "", "write the seal to this file (mode 0600) instead of stdout")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	seal, err := cl.AuditSeal(c.ctx)
	if err != nil {
		return c.fail(err)
	}
	if *out == "" {
		return c.printJSON(seal)
	}
	b, err := json.MarshalIndent(seal, "", "  ")
	if err != nil {
		return c.fail(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stderr, "sealed seq %d in %s\n", seal.Seq, *out)
	return 0
}

// auditExport writes the records after --after as JSON lines, as they
// arrive from the server.
func auditExport(e *env, args []string) int {
	c := e.newCmd("audit export", synopsisOf(auditSynopsis, "audit export"), true)
	after := c.fs.Int64("after", 0, "export the records after this seq")
	out := c.fs.String("out", "", "write to this file (mode 0600) instead of stdout")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if *after < 0 {
		return c.usageError("--after must not be negative")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	w := c.stdout
	var f *os.File
	if *out != "" {
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return c.fail(err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	err = cl.ExportAudit(c.ctx, *after, func(l latchkey.AuditLine) error {
		n++
		return enc.Encode(l)
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return c.fail(err)
	}
	if *out != "" {
		fmt.Fprintf(c.stderr, "exported %d records to %s\n", n, *out)
	}
	return 0
}
