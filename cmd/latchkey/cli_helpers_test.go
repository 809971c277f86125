package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// cliRunner returns a function that runs the CLI in this process with
// args, fails the test unless it exits with wantStatus, and returns what
// it printed (stdout, then stderr).
func cliRunner(t *testing.T, ctx context.Context) func(wantStatus int, args ...string) string {
	return func(wantStatus int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if st := Run(ctx, args, strings.NewReader(""), &out, &errb); st != wantStatus {
			t.Fatalf("latchkey %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), st, wantStatus, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
}

// fieldOf returns the value of the "name: value" line of a command's output.
func fieldOf(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in %q", name, out)
	}
	return m[1]
}
