package main

import (
	"bytes"
	"context"
	"flag"
	"regexp"
	"strings"
	"testing"
)

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--sweep-interval", "0s"},
		{"serve", "--token-ttl", "-1h"},
		{"serve", "--argon2-threads", "300"},
		{"serve", "--argon2-time", "0"},
		{"serve", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}

// TestServeUsageListsEveryFlag: serve's synopsis (in its usage error,
// -h, 'help serve' and 'help') and its -h flag list name every flag it
// takes, and its synopsis no other.
func TestServeUsageListsEveryFlag(t *testing.T) {
	run := func(wantCode int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != wantCode {
			t.Fatalf("%v: exit %d, want %d\n%s", args, code, wantCode, stderr.String())
		}
		return stdout.String() + stderr.String()
	}
	outputs := map[string]string{
		"serve -h":     run(0, "serve", "-h"),
		"help serve":   run(0, "help", "serve"),
		"help":         run(0, "help"),
		"serve extra":  run(2, "serve", "extra"),
		"serve --nope": run(2, "serve", "--nope"),
	}
	fs := serveFlags()
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		for name, out := range outputs {
			if !strings.Contains(out, "[--"+f.Name+" ") && !strings.Contains(out, "[--"+f.Name+"]") {
				t.Errorf("%s: synopsis lacks --%s:\n%s", name, f.Name, out)
			}
		}
		if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(f.Name) + `( |$)`).MatchString(outputs["serve -h"]) {
			t.Errorf("serve -h: no entry for -%s", f.Name)
		}
	})
	if n < 30 {
		t.Fatalf("serve has %d flags?", n)
	}
	for _, m := range regexp.MustCompile(`\[--([a-z0-9-]+)`).FindAllStringSubmatch(serveSynopsis[0], -1) {
		if fs.Lookup(m[1]) == nil {
			t.Errorf("synopsis names --%s, which serve does not take", m[1])
		}
	}
}
