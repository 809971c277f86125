package latchkey_test

import (
	"strings"
	"testing"

	"latchkey"
)

// Every name the agent may hand to gpasswd or groupadd: nothing that a
// tool could read as an option, a path, a second argument or a user ID.
func TestValidLogin(t *testing.T) {
	for _, c := range []struct {
		login string
		ok    bool
	}{
		{"alice", true}, {"ann", true}, {"A.Smith", true}, {"seed-12", true}, {"lin0", true}, {"_svc", true},
		{"0day", true}, {"benchjdeadbeef-3", true}, {strings.Repeat("a", 32), true},
		{"", false}, {strings.Repeat("a", 33), false},
		{"-a", false}, {"--help", false}, {".hidden", false}, {"..", false},
		{"a/b", false}, {"../etc", false}, {"a b", false}, {" alice", false}, {"alice\n", false}, {"al\x00ice", false},
		{"a,b", false}, {"a:b", false}, {"a@example.org", false}, {"ålice", false}, {"1000", false}, {"0", false},
		{"a$", false}, {"a\tb", false},
	} {
		if got := latchkey.ValidLogin(c.login); got != c.ok {
			t.Errorf("ValidLogin(%q) = %v, want %v", c.login, got, c.ok)
		}
	}
}

func TestValidGroupName(t *testing.T) {
	for _, c := range []struct {
		group string
		ok    bool
	}{
		{"wheel", true}, {"docker", true}, {"_ops", true}, {"lab-admins2", true}, {strings.Repeat("g", 32), true},
		{"", false}, {strings.Repeat("g", 33), false}, {"-wheel", false}, {"Wheel", false}, {"1wheel", false},
		{"wheel/x", false}, {"wh eel", false}, {"wheel\n", false}, {"a,b", false}, {"a:b", false}, {".x", false},
	} {
		if got := latchkey.ValidGroupName(c.group); got != c.ok {
			t.Errorf("ValidGroupName(%q) = %v, want %v", c.group, got, c.ok)
		}
	}
}
