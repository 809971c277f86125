package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"latchkey/client"
)

// writeFile writes content to a new file of mode perm under dir.
func writeFile(t *testing.T, dir, name, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return path
}

func TestTokenFileFlag(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "token", "tok\n", 0o600)
	term := writeFile(t, dir, "terminal-token", "term-tok", 0o400)
	open := writeFile(t, dir, "open-token", "tok\n", 0o644)
	groupOnly := writeFile(t, dir, "group-token", "tok\n", 0o640)
	empty := writeFile(t, dir, "empty-token", "\n", 0o600)
	siteList := call{method: "GET", path: "/v1/sites", auth: userAuth, status: 200, resp: `{"items":[],"next":null}`}
	runAll(t, []cliTest{
		{name: "--token-file", args: []string{"site", "list", "--token-file", good}, calls: []call{siteList}},
		{name: "--token-file before the command", args: []string{"--token-file", good, "site", "list"}, calls: []call{siteList}},
		{name: "--token-file beats $LATCHKEY_TOKEN", args: []string{"site", "list", "--token-file", good},
			env: map[string]string{"LATCHKEY_TOKEN": "env-tok"}, calls: []call{siteList}},
		{name: "--token beats --token-file", args: []string{"site", "list", "--token-file", open, "--token", "tok"}, calls: []call{siteList}},
		{name: "a token file others may read is refused", args: []string{"site", "list", "--token-file", open},
			code: 1, stderr: []string{"open to other users (mode 0644)", "chmod 600 " + open}},
		{name: "a group-readable token file is refused", args: []string{"site", "list", "--token-file", groupOnly},
			code: 1, stderr: []string{"mode 0640"}},
		{name: "an empty token file is refused", args: []string{"site", "list", "--token-file", empty}, code: 1, stderr: []string{"empty: no token in it"}},
		{name: "a missing token file is refused", args: []string{"site", "list", "--token-file", filepath.Join(dir, "nope")}, code: 1, stderr: []string{"token file"}},
		{name: "--terminal-token-file", args: []string{"events", "post", "--terminal", "trm_1", "--event", "24", "--terminal-token-file", term, "--token", "tok"},
			env:    map[string]string{"LATCHKEY_TERMINAL_TOKEN": "other"},
			calls:  []call{{method: "POST", path: "/v1/terminals/trm_1/events", auth: termAuth, body: `{"events":[{"event":24,"occurred_at":"<time>"}]}`, status: 202, resp: `{"accepted":1}`}},
			stdout: []string{"accepted 1"}},
	})
}

// TestSavedTokenFileMode: the token file written by 'auth login' is read
// only while it stays private.
func TestSavedTokenFileMode(t *testing.T) {
	saved := writeFile(t, t.TempDir(), "saved", "tok\n", 0o644)
	t.Setenv("LATCHKEY_TOKEN_FILE", saved)
	t.Setenv("LATCHKEY_TOKEN", "")
	t.Setenv("LATCHKEY_SERVER", "http://127.0.0.1:1")
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"site", "list"}, strings.NewReader(""), &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "open to other users") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
}

func TestPlainHTTPRefused(t *testing.T) {
	for _, args := range [][]string{
		{"site", "list", "--server", "http://10.0.0.5:7420", "--token", "tok"},
		{"--server", "http://latchkey.example.org", "site", "list", "--token", "tok"},
		{"auth", "login", "--identity", "admin", "--server", "10.0.0.5:7420"},
		{"agent", "--server", "http://10.0.0.5:7420", "--token", "tok", "--state-dir", t.TempDir(), "--executor", "file:" + filepath.Join(t.TempDir(), "m")},
	} {
		t.Setenv("LATCHKEY_PASSWORD", "pw")
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1\n%s", args, code, stderr.String())
		}
		for _, want := range []string{"refusing to send credentials over plain http://", "https://", "--ca FILE", "--insecure-http"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, stderr.String())
			}
		}
	}
}

func TestTransportOptions(t *testing.T) {
	t.Setenv("LATCHKEY_CA", "")
	t.Setenv("LATCHKEY_SERVER", "")
	parse := func(args ...string) *cmd {
		t.Helper()
		e := &env{ctx: context.Background(), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
		c := e.newCmd("x", "", true)
		if _, st, ok := c.parse(args); !ok {
			t.Fatalf("parse %v: %d", args, st)
		}
		return c
	}
	if _, err := parse("--server", "http://10.0.0.5:7420").transportOptions(); !errors.Is(err, client.ErrPlainHTTP) {
		t.Errorf("plain http to a remote host: %v", err)
	}
	for _, args := range [][]string{
		{"--server", "http://10.0.0.5:7420", "--insecure-http"},
		{"--server", "https://10.0.0.5:7420"},
		{"--server", "http://127.0.0.1:7420"},
		{"--server", "localhost:7420"},
		{}, // the default server is loopback: the quick start needs no flag
	} {
		if _, err := parse(args...).transportOptions(); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	bad := writeFile(t, t.TempDir(), "ca.pem", "not PEM", 0o644)
	if _, err := parse("--ca", bad).transportOptions(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("--ca with a bad file: %v", err)
	}
	t.Setenv("LATCHKEY_CA", bad)
	if _, err := parse().transportOptions(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("$LATCHKEY_CA with a bad file: %v", err)
	}
}

func TestBenchTransport(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "sessions", "--server", "http://10.0.0.5:7420"},
		{"bench", "locks", "--ca", "ca.pem"},
		{"bench", "agents", "--insecure-http"},
		{"bench", "journal", "--server", "http://latchkey.example.org"},
		// Every node of a spread run is checked, not only the first.
		{"bench", "locks", "--server", "http://127.0.0.1:7420,http://10.0.0.5:7420"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), "run them against a server on this machine") && !strings.Contains(stderr.String(), "run benchmarks against a server on this machine") {
			t.Errorf("%v: exit %d\n%s", args, code, stderr.String())
		}
	}
}
