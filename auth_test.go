package latchkey_test

import (
	"testing"

	"latchkey"
)

func TestCaller(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		c         latchkey.Caller
		wantStaff bool
		wantActor string
	}{
		{"admin", latchkey.Caller{Role: latchkey.RoleAdmin, PrincipalID: "p1"}, true, "p1"},
		{"delegate", latchkey.Caller{Role: latchkey.RoleDelegate, PrincipalID: "p2"}, true, "p2"},
		{"user", latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: "p3"}, false, "p3"},
		{"terminal", latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: "t1"}, false, "t1"},
		{"principal wins over terminal", latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: "p4", TerminalID: "t2"}, false, "p4"},
		{"system", latchkey.Caller{}, false, "system"},
	} {
		if got := c.c.IsStaff(); got != c.wantStaff {
			t.Errorf("%s: IsStaff = %v, want %v", c.name, got, c.wantStaff)
		}
		if got := c.c.Actor(); got != c.wantActor {
			t.Errorf("%s: Actor = %q, want %q", c.name, got, c.wantActor)
		}
	}
}
