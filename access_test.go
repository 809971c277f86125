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
		{name: "user own", c: userC, p: owner("prn_user", latchkey.RoleUser), needOld: true, ok: true},
		{name: "user other user", c: userC, p: owner("prn_x", latchkey.RoleUser)},
		{name: "user admin", c: userC, p: owner("prn_admin", latchkey.RoleAdmin)},
		{name: "delegate own needs old", c: delegateC, p: owner("prn_deleg", latchkey.RoleDelegate), needOld: true, ok: true},
		{name: "delegate resets user", c: delegateC, p: owner("prn_user", latchkey.RoleUser), ok: true},
		{name: "delegate not another delegate", c: delegateC, p: owner("prn_d2", latchkey.RoleDelegate)},
		{name: "delegate not admin", c: delegateC, p: owner("prn_admin", latchkey.RoleAdmin)},
		{name: "admin own needs old", c: adminC, p: owner("prn_admin", latchkey.RoleAdmin), needOld: true, ok: true},
		{name: "admin resets user", c: adminC, p: owner("prn_user", latchkey.RoleUser), ok: true},
		{name: "admin resets delegate", c: adminC, p: owner("prn_deleg", latchkey.RoleDelegate), ok: true},
		{name: "admin resets another admin", c: adminC, p: owner("prn_a2", latchkey.RoleAdmin), ok: true},
		{name: "terminal never", c: terminalC, p: owner("prn_user", latchkey.RoleUser)},
		{name: "role-less never", c: latchkey.Caller{}, p: owner("", latchkey.RoleUser)},
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
	req := latchkey.Request{ID: "req_1", Requester: "prn_user"}
	item := latchkey.WorkItem{ID: "wi_1", Requester: "prn_user", Assignees: []string{}}
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
		{name: "CanManagePrincipals", check: latchkey.CanManagePrincipals, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanCreatePrincipal user", check: func(c latchkey.Caller) error { return latchkey.CanCreatePrincipal(c, latchkey.RoleUser) }, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanCreatePrincipal admin", check: func(c latchkey.Caller) error { return latchkey.CanCreatePrincipal(c, latchkey.RoleAdmin) }, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanReadPrincipal", check: func(c latchkey.Caller) error { return latchkey.CanReadPrincipal(c, "prn_user") }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.EFORBIDDEN},
		{name: "CanUpdatePrincipal user", check: func(c latchkey.Caller) error { return latchkey.CanUpdatePrincipal(c, latchkey.RoleUser, nil) }, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanUpdatePrincipal an admin", check: func(c latchkey.Caller) error { return latchkey.CanUpdatePrincipal(c, latchkey.RoleAdmin, nil) }, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanUpdatePrincipal make admin", check: func(c latchkey.Caller) error { return latchkey.CanUpdatePrincipal(c, latchkey.RoleUser, &admin) }, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanAddIdentity user", check: func(c latchkey.Caller) error { return latchkey.CanAddIdentity(c, latchkey.RoleUser) }, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanAddIdentity admin", check: func(c latchkey.Caller) error { return latchkey.CanAddIdentity(c, latchkey.RoleAdmin) }, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanSetOfflineLogon", check: latchkey.CanSetOfflineLogon, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanManageSites", check: latchkey.CanManageSites, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanReadSite", check: func(c latchkey.Caller) error { return latchkey.CanReadSite(c, "site_1", siteOf[c.TerminalID]) }, allowed: append([]string{"own terminal"}, people...), code: latchkey.EFORBIDDEN},
		{name: "CanListSites", check: latchkey.CanListSites, allowed: people, code: latchkey.EFORBIDDEN},
		{name: "CanReadTerminal", check: func(c latchkey.Caller) error { return latchkey.CanReadTerminal(c, "term_1") }, allowed: append([]string{"own terminal"}, people...), code: latchkey.EFORBIDDEN},
		{name: "CanListTerminals", check: latchkey.CanListTerminals, allowed: people, code: latchkey.EFORBIDDEN},
		{name: "CanRotateTerminalToken", check: latchkey.CanRotateTerminalToken, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanActAsAgent", check: func(c latchkey.Caller) error { return latchkey.CanActAsAgent(c, "agents only") }, allowed: []string{"own terminal", "other terminal"}, code: latchkey.EFORBIDDEN},
		{name: "CanActAsTerminal", check: func(c latchkey.Caller) error { return latchkey.CanActAsTerminal(c, "term_1") }, allowed: []string{"own terminal"}, code: latchkey.EFORBIDDEN},
		{name: "CanReadSession", check: func(c latchkey.Caller) error { return latchkey.CanReadSession(c, sess) }, allowed: []string{"admin", "delegate", "user", "own terminal"}, code: latchkey.EFORBIDDEN},
		{name: "CanListPrincipalSessions", check: func(c latchkey.Caller) error { return latchkey.CanListPrincipalSessions(c, "prn_user") }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.EFORBIDDEN},
		{name: "CanListTerminalEvents", check: func(c latchkey.Caller) error { return latchkey.CanListTerminalEvents(c, "term_1") }, allowed: []string{"admin", "delegate", "own terminal"}, code: latchkey.EFORBIDDEN},
		{name: "CanUseLocks", check: latchkey.CanUseLocks, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanUseConfig read", check: func(c latchkey.Caller) error { return latchkey.CanUseConfig(c, "users", false, false) }, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanUseConfig write", check: func(c latchkey.Caller) error { return latchkey.CanUseConfig(c, "users", true, false) }, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanUseConfig read admin-only", check: func(c latchkey.Caller) error { return latchkey.CanUseConfig(c, "security/2fa", false, true) }, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanUseConfig write admin-only", check: func(c latchkey.Caller) error { return latchkey.CanUseConfig(c, "security/2fa", true, true) }, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanReadAudit", check: latchkey.CanReadAudit, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanVerifyAudit", check: latchkey.CanVerifyAudit, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanSeeRequest", check: func(c latchkey.Caller) error { return latchkey.CanSeeRequest(c, req, latchkey.GroupSet{}) }, allowed: []string{"admin", "delegate", "user"},
			code: latchkey.ENOTFOUND, codes: map[string]string{"own terminal": latchkey.EFORBIDDEN, "other terminal": latchkey.EFORBIDDEN, "nobody": latchkey.EFORBIDDEN}},
		{name: "CanSeeRequest as approver", check: func(c latchkey.Caller) error {
			return latchkey.CanSeeRequest(c, req, latchkey.GroupSet{Approvers: []string{"prn_other"}})
		}, allowed: people, code: latchkey.EFORBIDDEN},
		{name: "CanCancelRequest", check: func(c latchkey.Caller) error { return latchkey.CanCancelRequest(c, req) }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.EFORBIDDEN},
		{name: "CanSeeWorkItem for staff", check: func(c latchkey.Caller) error { return latchkey.CanSeeWorkItem(c, item) }, allowed: staff,
			code: latchkey.ENOTFOUND, codes: map[string]string{"own terminal": latchkey.EFORBIDDEN, "other terminal": latchkey.EFORBIDDEN, "nobody": latchkey.EFORBIDDEN}},
		{name: "CanSeeWorkItem named", check: func(c latchkey.Caller) error {
			named := item
			named.Assignees = []string{"prn_other"}
			return latchkey.CanSeeWorkItem(c, named)
		}, allowed: []string{"admin", "other user"},
			code: latchkey.ENOTFOUND, codes: map[string]string{"own terminal": latchkey.EFORBIDDEN, "other terminal": latchkey.EFORBIDDEN, "nobody": latchkey.EFORBIDDEN}},
		{name: "CanListNodes", check: latchkey.CanListNodes, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanManageTasks", check: latchkey.CanManageTasks, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanManageJobs", check: latchkey.CanManageJobs, allowed: []string{"admin"}, code: latchkey.EFORBIDDEN},
		{name: "CanManageGroupSets", check: latchkey.CanManageGroupSets, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanReadGroupSets", check: latchkey.CanReadGroupSets, allowed: people, code: latchkey.EFORBIDDEN},
		{name: "CanRequestCheckout for prn_user", check: func(c latchkey.Caller) error { return latchkey.CanRequestCheckout(c, "prn_user") }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.EFORBIDDEN},
		{name: "CanReadCheckout", check: func(c latchkey.Caller) error { return latchkey.CanReadCheckout(c, co) }, allowed: []string{"admin", "delegate", "user", "own terminal"}, code: latchkey.ENOTFOUND},
		{name: "CanListCheckouts of prn_user", check: func(c latchkey.Caller) error { return latchkey.CanListCheckouts(c, "prn_user") }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.EFORBIDDEN},
		{name: "CanActOnCheckout", check: func(c latchkey.Caller) error { return latchkey.CanActOnCheckout(c, co) }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.ENOTFOUND},
		{name: "CanBook for prn_user", check: func(c latchkey.Caller) error { return latchkey.CanBook(c, "prn_user") }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.EFORBIDDEN},
		{name: "CanListReservations", check: func(c latchkey.Caller) error { return latchkey.CanListReservations(c, "term_1") }, allowed: append([]string{"own terminal"}, people...), code: latchkey.EFORBIDDEN},
		{name: "CanAnswerInstruction", check: func(c latchkey.Caller) error {
			return latchkey.CanAnswerInstruction(c, latchkey.Instruction{ID: "in_1", Terminal: "term_1"})
		}, allowed: []string{"own terminal"}, code: latchkey.EFORBIDDEN, codes: map[string]string{"other terminal": latchkey.ENOTFOUND}},
		{name: "CanWatchTopic sessions", check: func(c latchkey.Caller) error { return latchkey.CanWatchTopic(c, latchkey.TopicSessions) }, allowed: append([]string{"own terminal", "other terminal"}, people...), code: latchkey.EFORBIDDEN},
		{name: "CanWatchTopic checkouts", check: func(c latchkey.Caller) error { return latchkey.CanWatchTopic(c, latchkey.TopicCheckouts) }, allowed: []string{"admin", "delegate", "user", "other user"}, code: latchkey.EFORBIDDEN},
		{name: "CanWatchTopic locks", check: func(c latchkey.Caller) error { return latchkey.CanWatchTopic(c, latchkey.TopicLocks) }, allowed: staff, code: latchkey.EFORBIDDEN},
		{name: "CanCancelReservation", check: func(c latchkey.Caller) error { return latchkey.CanCancelReservation(c, res) }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.ENOTFOUND},
		// The reservations day view (console screen 6).
		{name: "CanListSiteReservations", check: latchkey.CanListSiteReservations, allowed: people, code: latchkey.EFORBIDDEN},
		{name: "CanReadQuotaUsage of prn_user", check: func(c latchkey.Caller) error { return latchkey.CanReadQuotaUsage(c, "prn_user") }, allowed: []string{"admin", "delegate", "user"}, code: latchkey.EFORBIDDEN},
		{name: "CanReadQuotaUsage of everyone", check: func(c latchkey.Caller) error { return latchkey.CanReadQuotaUsage(c, "") }, allowed: staff, code: latchkey.EFORBIDDEN},
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
