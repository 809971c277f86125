package latchkey_test

import (
	"testing"

	"latchkey"
)

// ---- small helpers of latchkey.go ----

func TestValidPrincipalRole(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    latchkey.Role
		want bool
	}{
		{latchkey.RoleAdmin, true}, {latchkey.RoleDelegate, true}, {latchkey.RoleUser, true},
		{latchkey.RoleTerminal, false}, {"", false}, {"root", false}, {"Admin", false},
	} {
		if got := latchkey.ValidPrincipalRole(c.r); got != c.want {
			t.Errorf("ValidPrincipalRole(%q) = %v, want %v", c.r, got, c.want)
		}
	}
}
