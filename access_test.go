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

// TestAccessPredicates walks every predicate over every kind of caller,
// for a target owned by the user prn_user at terminal term_1 of site
// site_1: each row lists the callers allowed, every other caller must be
// refused with the row's code.
func TestAccessPredicates(t *testing.T) {
	t.Parallel()
	other := latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: "prn_other"}
	otherTerm := latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: "term_2"}
	lockAdmin := adminC
	lockAdmin.TokenID = "h1"
	lockDeleg := delegateC
	lockDeleg.TokenID = "h2"
	lockUser := userC
	lockUser.TokenID = "h3"
	callers := map[string]latchkey.Caller{
		"admin": lockAdmin, "delegate": lockDeleg, "user": lockUser, "other user": other,
		"own terminal": terminalC, "other terminal": otherTerm, "nobody": {},
	}
	admin := latchkey.RoleAdmin
	sess := latchkey.Session{ID: "ss_1", PrincipalID: "prn_user", TerminalID: "term_1"}
	co := latchkey.Checkout{ID: "co_1", Principal: "prn_user", Terminal: "term_1"}
	res := latchkey.Reservation{ID: "rs_1", Principal: "prn_user", Terminal: "term_1"}
	siteOf := map[string]string{"term_1": "site_1", "term_2": "site_2"}
	staff := []string{"admin", "delegate"}
	people := []string{"admin", "delegate", "user", "other user"}
	for _, row := range []struct {
		name    string
		check   func(latchkey.Caller) error
		allowed []string
		code    string
		codes   map[string]string // callers refused with another code
	}{
		{"CanManagePrincipals", latchkey.CanManagePrincipals, staff, latchkey.EFORBIDDEN, nil},
		{"CanCreatePrincipal user", func(c latchkey.Caller) error { return latchkey.CanCreatePrincipal(c, latchkey.RoleUser) }, staff, latchkey.EFORBIDDEN, nil},
		{"CanCreatePrincipal admin", func(c latchkey.Caller) error { return latchkey.CanCreatePrincipal(c, latchkey.RoleAdmin) }, []string{"admin"}, latchkey.EFORBIDDEN, nil},
		{"CanReadPrincipal", func(c latchkey.Caller) error { return latchkey.CanReadPrincipal(c, "prn_user") }, []string{"admin", "delegate", "user"}, latchkey.EFORBIDDEN, nil},
		{"CanUpdatePrincipal user", func(c latchkey.Caller) error { return latchkey.CanUpdatePrincipal(c, latchkey.RoleUser, nil) }, staff, latchkey.EFORBIDDEN, nil},
		{"CanUpdatePrincipal an admin", func(c latchkey.Caller) error { return latchkey.CanUpdatePrincipal(c, latchkey.RoleAdmin, nil) }, []string{"admin"}, latchkey.EFORBIDDEN, nil},
		{"CanUpdatePrincipal make admin", func(c latchkey.Caller) error { return latchkey.CanUpdatePrincipal(c, latchkey.RoleUser, &admin) }, []string{"admin"}, latchkey.EFORBIDDEN, nil},
		{"CanAddIdentity user", func(c latchkey.Caller) error { return latchkey.CanAddIdentity(c, latchkey.RoleUser) }, staff, latchkey.EFORBIDDEN, nil},
		{"CanAddIdentity admin", func(c latchkey.Caller) error { return latchkey.CanAddIdentity(c, latchkey.RoleAdmin) }, []string{"admin"}, latchkey.EFORBIDDEN, nil},
		{"CanSetOfflineLogon", latchkey.CanSetOfflineLogon, staff, latchkey.EFORBIDDEN, nil},
		{"CanManageSites", latchkey.CanManageSites, staff, latchkey.EFORBIDDEN, nil},
		{"CanReadSite", func(c latchkey.Caller) error { return latchkey.CanReadSite(c, "site_1", siteOf[c.TerminalID]) },
			append([]string{"own terminal"}, people...), latchkey.EFORBIDDEN, nil},
		{"CanListSites", latchkey.CanListSites, people, latchkey.EFORBIDDEN, nil},
		{"CanReadTerminal", func(c latchkey.Caller) error { return latchkey.CanReadTerminal(c, "term_1") },
			append([]string{"own terminal"}, people...), latchkey.EFORBIDDEN, nil},
		{"CanListTerminals", latchkey.CanListTerminals, people, latchkey.EFORBIDDEN, nil},
		{"CanRotateTerminalToken", latchkey.CanRotateTerminalToken, staff, latchkey.EFORBIDDEN, nil},
		{"CanActAsAgent", func(c latchkey.Caller) error { return latchkey.CanActAsAgent(c, "agents only") }, []string{"own terminal", "other terminal"}, latchkey.EFORBIDDEN, nil},
		{"CanActAsTerminal", func(c latchkey.Caller) error { return latchkey.CanActAsTerminal(c, "term_1") }, []string{"own terminal"}, latchkey.EFORBIDDEN, nil},
		{"CanReadSession", func(c latchkey.Caller) error { return latchkey.CanReadSession(c, sess) }, []string{"admin", "delegate", "user", "own terminal"}, latchkey.EFORBIDDEN, nil},
		{"CanListPrincipalSessions", func(c latchkey.Caller) error { return latchkey.CanListPrincipalSessions(c, "prn_user") }, []string{"admin", "delegate", "user"}, latchkey.EFORBIDDEN, nil},
		{"CanListTerminalEvents", func(c latchkey.Caller) error { return latchkey.CanListTerminalEvents(c, "term_1") }, []string{"admin", "delegate", "own terminal"}, latchkey.EFORBIDDEN, nil},
		{"CanUseLocks", latchkey.CanUseLocks, staff, latchkey.EFORBIDDEN, nil},
		{"CanUseConfig read", func(c latchkey.Caller) error { return latchkey.CanUseConfig(c, "users", false, false) }, staff, latchkey.EFORBIDDEN, nil},
		{"CanUseConfig write", func(c latchkey.Caller) error { return latchkey.CanUseConfig(c, "users", true, false) }, staff, latchkey.EFORBIDDEN, nil},
		{"CanUseConfig read admin-only", func(c latchkey.Caller) error { return latchkey.CanUseConfig(c, "security/2fa", false, true) }, staff, latchkey.EFORBIDDEN, nil},
		{"CanUseConfig write admin-only", func(c latchkey.Caller) error { return latchkey.CanUseConfig(c, "security/2fa", true, true) }, []string{"admin"}, latchkey.EFORBIDDEN, nil},
		{"CanReadAudit", latchkey.CanReadAudit, staff, latchkey.EFORBIDDEN, nil},
		{"CanVerifyAudit", latchkey.CanVerifyAudit, []string{"admin"}, latchkey.EFORBIDDEN, nil},
		{"CanManageGroupSets", latchkey.CanManageGroupSets, staff, latchkey.EFORBIDDEN, nil},
		{"CanReadGroupSets", latchkey.CanReadGroupSets, people, latchkey.EFORBIDDEN, nil},
		{"CanRequestCheckout for prn_user", func(c latchkey.Caller) error { return latchkey.CanRequestCheckout(c, "prn_user") }, []string{"admin", "delegate", "user"}, latchkey.EFORBIDDEN, nil},
		{"CanReadCheckout", func(c latchkey.Caller) error { return latchkey.CanReadCheckout(c, co) }, []string{"admin", "delegate", "user", "own terminal"}, latchkey.ENOTFOUND, nil},
		{"CanActOnCheckout", func(c latchkey.Caller) error { return latchkey.CanActOnCheckout(c, co) }, []string{"admin", "delegate", "user"}, latchkey.ENOTFOUND, nil},
		{"CanBook for prn_user", func(c latchkey.Caller) error { return latchkey.CanBook(c, "prn_user") }, []string{"admin", "delegate", "user"}, latchkey.EFORBIDDEN, nil},
		{"CanListReservations", func(c latchkey.Caller) error { return latchkey.CanListReservations(c, "term_1") }, append([]string{"own terminal"}, people...), latchkey.EFORBIDDEN, nil},
		{"CanAnswerInstruction", func(c latchkey.Caller) error {
			return latchkey.CanAnswerInstruction(c, latchkey.Instruction{ID: "in_1", Terminal: "term_1"})
		}, []string{"own terminal"}, latchkey.EFORBIDDEN, map[string]string{"other terminal": latchkey.ENOTFOUND}},
		{"CanWatchTopic sessions", func(c latchkey.Caller) error { return latchkey.CanWatchTopic(c, latchkey.TopicSessions) },
			append([]string{"own terminal", "other terminal"}, people...), latchkey.EFORBIDDEN, nil},
		{"CanWatchTopic checkouts", func(c latchkey.Caller) error { return latchkey.CanWatchTopic(c, latchkey.TopicCheckouts) },
			[]string{"admin", "delegate", "user", "other user"}, latchkey.EFORBIDDEN, nil},
		{"CanWatchTopic locks", func(c latchkey.Caller) error { return latchkey.CanWatchTopic(c, latchkey.TopicLocks) }, staff, latchkey.EFORBIDDEN, nil},
		{"CanCancelReservation", func(c latchkey.Caller) error { return latchkey.CanCancelReservation(c, res) }, []string{"admin", "delegate", "user"}, latchkey.ENOTFOUND, nil},
	} {
		for who, c := range callers {
			err := row.check(c)
			allowed := false
			for _, a := range row.allowed {
				allowed = allowed || a == who
			}
			switch {
			case allowed && err != nil:
				t.Errorf("%s as %s: refused (%v), want allowed", row.name, who, err)
			case !allowed && err == nil:
				t.Errorf("%s as %s: allowed, want refused", row.name, who)
			case !allowed:
				want := row.code
				if c, ok := row.codes[who]; ok {
					want = c
				}
				if latchkey.ErrorCode(err) != want {
					t.Errorf("%s as %s: code %s, want %s", row.name, who, latchkey.ErrorCode(err), want)
				}
			}
		}
	}
}
