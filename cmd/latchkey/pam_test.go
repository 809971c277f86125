package main

import (
	"strings"
	"testing"
)

func TestPAMPassword(t *testing.T) {
	for in, want := range map[string]string{
		"secret\x00":         "secret", // newer Linux-PAM ends the token with a NUL byte
		"secret":             "secret",
		"secret\n":           "secret",
		"se cret\x00garbage": "se cret",
		"":                   "",
		"\x00":               "",
	} {
		if got := pamPassword(strings.NewReader(in)); got != want {
			t.Errorf("pamPassword(%q) = %q, want %q", in, got, want)
		}
	}
	if got := pamPassword(strings.NewReader(strings.Repeat("x", 10000))); len(got) != 4096 {
		t.Errorf("an endless token is cut at 4096 bytes, got %d", len(got))
	}
}

func TestPAMUsage(t *testing.T) {
	for _, tt := range []cliTest{
		{name: "pam needs PAM_TYPE", args: []string{"pam", "--socket", "/nonexistent.sock"}, env: map[string]string{"PAM_TYPE": ""},
			code: 2, stderr: []string{"PAM_TYPE is not set: run it from pam_exec"}},
		{name: "pam needs --socket", args: []string{"pam"}, env: map[string]string{"PAM_TYPE": "auth"},
			code: 2, stderr: []string{"--socket is required"}},
		{name: "pam with no agent refuses in words", args: []string{"pam", "--socket", "/nonexistent.sock"},
			env:  map[string]string{"PAM_TYPE": "account", "PAM_USER": "alice"},
			code: 1, stdout: []string{"The latchkey agent on this terminal does not answer: nobody can log on until it runs again."}},
	} {
		t.Run(tt.name, func(t *testing.T) { runCLI(t, tt) })
	}
}
