package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// --watch-pid takes process IDs only, refused before the run starts.
func TestBenchLocksWatchPID(t *testing.T) {
	for _, v := range []string{"postgres", "0", "-3"} {
		var stdout, stderr bytes.Buffer
		args := []string{"bench", "locks", "--server", "http://127.0.0.1:1", "--watch-pid", v}
		if code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), "want a process ID") {
			t.Errorf("--watch-pid %s: exit %d\n%s", v, code, stderr.String())
		}
	}
}
