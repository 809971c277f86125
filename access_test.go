package latchkey_test

import (
	"testing"

	"latchkey"
)

var (
	adminC    = latchkey.Caller{Role: latchkey.RoleAdmin, PrincipalID: "prn_admin"}
	delegateC = latchkey.Caller{Role: latchkey.RoleDelegate, PrincipalID: "prn_deleg"}
	userC     = latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: "prn_user"}
	terminalC = latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: "term_1"}
)

func TestCanSetPassword(t *testing.T) {
	owner := func(id string, r latchkey.Role) latchkey.PasswordChange {
		return latchkey.PasswordChange{OwnerID: id, OwnerRole: r}
	}
	for _, tc := range []struct {
		name    string
		c       latchkey.Caller
		p       latchkey.PasswordChange
		needOld bool
		ok      bool
	}{
		{"user own", userC, owner("prn_user", latchkey.RoleUser), true, true},
		{"user other user", userC, owner("prn_x", latchkey.RoleUser), false, false},
		{"user admin", userC, owner("prn_admin", latchkey.RoleAdmin), false, false},
		{"delegate own needs old", delegateC, owner("prn_deleg", latchkey.RoleDelegate), true, true},
		{"delegate resets user", delegateC, owner("prn_user", latchkey.RoleUser), false, true},
		{"delegate not another delegate", delegateC, owner("prn_d2", latchkey.RoleDelegate), false, false},
		{"delegate not admin", delegateC, owner("prn_admin", latchkey.RoleAdmin), false, false},
		{"admin own needs old", adminC, owner("prn_admin", latchkey.RoleAdmin), true, true},
		{"admin resets user", adminC, owner("prn_user", latchkey.RoleUser), false, true},
		{"admin resets delegate", adminC, owner("prn_deleg", latchkey.RoleDelegate), false, true},
		{"admin resets another admin", adminC, owner("prn_a2", latchkey.RoleAdmin), false, true},
		{"terminal never", terminalC, owner("prn_user", latchkey.RoleUser), false, false},
		{"role-less never", latchkey.Caller{}, owner("", latchkey.RoleUser), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needOld, err := latchkey.CanSetPassword(tc.c, tc.p)
			if (err == nil) != tc.ok {
				t.Fatalf("allowed = %v (%v), want %v", err == nil, err, tc.ok)
			}
			if err != nil && latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
				t.Fatalf("code = %s, want forbidden", latchkey.ErrorCode(err))
			}
			if tc.ok && needOld != tc.needOld {
				t.Fatalf("needOld = %v, want %v", needOld, tc.needOld)
			}
		})
	}
}

func TestCanRevokeTokens(t *testing.T) {
	for _, tc := range []struct {
		c      latchkey.Caller
		target latchkey.Role
		ok     bool
	}{
		{adminC, latchkey.RoleAdmin, true},
		{adminC, latchkey.RoleDelegate, true},
		{adminC, latchkey.RoleUser, true},
		{delegateC, latchkey.RoleAdmin, false},
		{delegateC, latchkey.RoleDelegate, true},
		{delegateC, latchkey.RoleUser, true},
		{userC, latchkey.RoleUser, false},
		{terminalC, latchkey.RoleUser, false},
	} {
		err := latchkey.CanRevokeTokens(tc.c, tc.target)
		if (err == nil) != tc.ok {
			t.Errorf("%s revokes %s's tokens: allowed = %v (%v), want %v", tc.c.Role, tc.target, err == nil, err, tc.ok)
		}
	}
}

func TestCanRotateTerminalToken(t *testing.T) {
	for _, tc := range []struct {
		c  latchkey.Caller
		ok bool
	}{{adminC, true}, {delegateC, true}, {userC, false}, {terminalC, false}, {latchkey.Caller{}, false}} {
		if err := latchkey.CanRotateTerminalToken(tc.c); (err == nil) != tc.ok {
			t.Errorf("%q rotates: allowed = %v, want %v", tc.c.Role, err == nil, tc.ok)
		}
	}
}
