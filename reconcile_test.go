package latchkey_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"latchkey"
)

func mk(pairs ...string) []latchkey.MemberKey {
	var out []latchkey.MemberKey
	for _, p := range pairs {
		g, l, _ := strings.Cut(p, "/")
		out = append(out, latchkey.MemberKey{Group: g, Login: l})
	}
	return out
}

func TestFindDrift(t *testing.T) {
	now := ct0
	running := latchkey.Checkout{ID: "co_run", Login: "ann", Groups: []string{"wheel", "adm"}, Status: latchkey.CheckedOut, ExpiresAt: now.Add(time.Hour)}
	pending := latchkey.Checkout{ID: "co_pend", Login: "bob", Groups: []string{"wheel"}, Status: latchkey.CheckingOut, ExpiresAt: now.Add(time.Hour)}
	ended := latchkey.Checkout{ID: "co_end", Login: "cid", Groups: []string{"wheel"}, Status: latchkey.CheckedOut, ExpiresAt: now}
	over := latchkey.Checkout{ID: "co_over", Login: "dan", Groups: []string{"wheel"}, Status: latchkey.CheckedIn, ExpiresAt: now.Add(time.Hour)}
	removal := latchkey.Instruction{Kind: latchkey.InstrCheckin, Login: "eve", Groups: []string{"wheel"}, State: latchkey.InstrPending}
	answered := latchkey.Instruction{Kind: latchkey.InstrCheckin, Login: "fay", Groups: []string{"wheel"}, State: latchkey.InstrDone}
	managed := []string{"wheel", "adm"}
	for _, c := range []struct {
		name                string
		grants              latchkey.TerminalGrants
		actual              map[string][]string
		unexpected, missing string
	}{
		{name: "as granted", grants: latchkey.TerminalGrants{Managed: managed, Checkouts: []latchkey.Checkout{running}},
			actual: map[string][]string{"wheel": {"ann"}, "adm": {"ann"}}, unexpected: "[]", missing: "[]"},
		{name: "a member nobody granted", grants: latchkey.TerminalGrants{Managed: managed, Checkouts: []latchkey.Checkout{running}},
			actual: map[string][]string{"wheel": {"ann", "zed"}, "adm": {"ann"}}, unexpected: "[{wheel zed}]", missing: "[]"},
		{name: "a grant lost on the workstation", grants: latchkey.TerminalGrants{Managed: managed, Checkouts: []latchkey.Checkout{running}},
			actual: map[string][]string{"wheel": {"ann"}}, unexpected: "[]", missing: "[{adm ann}]"},
		{name: "groups latchkey does not manage are not looked at", grants: latchkey.TerminalGrants{Managed: managed},
			actual: map[string][]string{"sudo": {"zed"}}, unexpected: "[]", missing: "[]"},
		{name: "a check-out still checking out is in motion either way", grants: latchkey.TerminalGrants{Managed: managed, Checkouts: []latchkey.Checkout{pending}},
			actual: map[string][]string{"wheel": {"bob"}}, unexpected: "[]", missing: "[]"},
		{name: "a check-out past its end may still be there", grants: latchkey.TerminalGrants{Managed: managed, Checkouts: []latchkey.Checkout{ended}},
			actual: map[string][]string{"wheel": {"cid"}}, unexpected: "[]", missing: "[]"},
		{name: "a check-out past its end is not missing", grants: latchkey.TerminalGrants{Managed: managed, Checkouts: []latchkey.Checkout{ended}},
			actual: map[string][]string{}, unexpected: "[]", missing: "[]"},
		{name: "a checked-in check-out's member is unexpected once its removal was answered", grants: latchkey.TerminalGrants{Managed: managed, Checkouts: []latchkey.Checkout{over}},
			actual: map[string][]string{"wheel": {"dan"}}, unexpected: "[{wheel dan}]", missing: "[]"},
		{name: "a removal not yet answered is in motion", grants: latchkey.TerminalGrants{Managed: managed, Open: []latchkey.Instruction{removal}},
			actual: map[string][]string{"wheel": {"eve"}}, unexpected: "[]", missing: "[]"},
		{name: "an answered removal is no excuse", grants: latchkey.TerminalGrants{Managed: managed, Open: []latchkey.Instruction{answered}},
			actual: map[string][]string{"wheel": {"fay"}}, unexpected: "[{wheel fay}]", missing: "[]"},
		{name: "sorted by group then login", grants: latchkey.TerminalGrants{Managed: managed},
			actual: map[string][]string{"wheel": {"b", "a"}, "adm": {"c"}}, unexpected: "[{adm c} {wheel a} {wheel b}]", missing: "[]"},
	} {
		u, m := latchkey.FindDrift(c.grants, c.actual, now)
		if got := fmt.Sprint(u); got != c.unexpected {
			t.Errorf("%s: unexpected %s, want %s", c.name, got, c.unexpected)
		}
		if got := fmt.Sprint(m); got != c.missing {
			t.Errorf("%s: missing %s, want %s", c.name, got, c.missing)
		}
	}
}

func TestDriftFixes(t *testing.T) {
	now := ct0
	newer := latchkey.Checkout{ID: "co_new", Login: "ann", Groups: []string{"wheel", "adm"}, Status: latchkey.CheckedOut, Generation: 9, ExpiresAt: now.Add(time.Hour)}
	older := latchkey.Checkout{ID: "co_old", Login: "ann", Groups: []string{"wheel"}, Status: latchkey.CheckedOut, Generation: 4, ExpiresAt: now.Add(2 * time.Hour)}
	fixes := latchkey.DriftFixes("term_1", mk("wheel/zed", "adm/zed", "wheel/yan"), mk("adm/ann", "wheel/ann"),
		[]latchkey.Checkout{newer, older}, 11, now)
	var got []string
	for _, in := range fixes {
		if !in.Fix || in.Terminal != "term_1" || in.State != latchkey.InstrPending || !in.ReadyAt.Equal(now) {
			t.Errorf("a fix is pending, marked, for the terminal: %+v", in)
		}
		got = append(got, fmt.Sprintf("%s %s %s %v gen %d co %q ends %v", in.Kind, in.Login, strings.Join(in.Groups, ","), in.Fix, in.Generation, in.Checkout, in.EndsAt.Sub(now)))
	}
	want := []string{
		// Both missing memberships come back through the newer check-out
		// (the first listed), with its generation and end: one grant.
		"checkout ann adm,wheel true gen 9 co \"co_new\" ends 1h0m0s",
		// Unexpected members are removed per login, at the terminal's generation.
		"checkin yan wheel true gen 11 co \"\" ends -2562047h47m16.854775808s",
		"checkin zed wheel,adm true gen 11 co \"\" ends -2562047h47m16.854775808s",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("fixes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f := latchkey.DriftFixes("term_1", nil, nil, []latchkey.Checkout{newer}, 11, now); len(f) != 0 {
		t.Fatalf("no drift, no fixes: %v", f)
	}
	ended := newer
	ended.ExpiresAt = now
	if f := latchkey.DriftFixes("term_1", nil, mk("wheel/ann"), []latchkey.Checkout{ended}, 11, now); len(f) != 0 {
		t.Fatalf("a check-out past its end is not granted again: %v", f)
	}
}

func TestDecideTaskReply(t *testing.T) {
	inv := latchkey.Instruction{ID: "ins_1", Kind: latchkey.InstrInventory, Groups: []string{"wheel"}, State: latchkey.InstrDelivered, LockedUntil: ct0}
	got, changed := latchkey.DecideTaskReply(inv, latchkey.Reply{Result: latchkey.ReplyOK, Members: map[string][]string{"wheel": {"ann"}}})
	if !changed || got.State != latchkey.InstrDone || fmt.Sprint(got.Members) != "map[wheel:[ann]]" || !got.LockedUntil.IsZero() {
		t.Fatalf("an inventory's reply: %+v %v", got, changed)
	}
	if again, changed := latchkey.DecideTaskReply(got, latchkey.Reply{Result: latchkey.ReplyOK, Members: map[string][]string{"wheel": {"zed"}}}); changed || fmt.Sprint(again.Members) != "map[wheel:[ann]]" {
		t.Fatalf("a repeat changes nothing: %+v", again)
	}
	got, _ = latchkey.DecideTaskReply(inv, latchkey.Reply{Result: latchkey.ReplyOK})
	if got.Members == nil {
		t.Fatal("an inventory with no members is an empty answer, not none")
	}
	got, _ = latchkey.DecideTaskReply(inv, latchkey.Reply{Result: latchkey.ReplyError, Detail: "no getent"})
	if got.Members != nil || got.Detail != "no getent" {
		t.Fatalf("an error reply carries no members: %+v", got)
	}
	fix := latchkey.Instruction{Kind: latchkey.InstrCheckin, State: latchkey.InstrDelivered}
	got, _ = latchkey.DecideTaskReply(fix, latchkey.Reply{Result: latchkey.ReplyOK, Members: map[string][]string{"wheel": {"ann"}}})
	if got.Members != nil || got.State != latchkey.InstrDone {
		t.Fatalf("a correction's reply keeps no members: %+v", got)
	}
	cancelled := fix
	cancelled.State = latchkey.InstrCancelled
	if _, changed := latchkey.DecideTaskReply(cancelled, latchkey.Reply{Result: latchkey.ReplyOK}); changed {
		t.Fatal("a cancelled instruction stays cancelled")
	}
}

func TestValidateMembers(t *testing.T) {
	many := make([]string, latchkey.MaxInventoryMembers+1)
	for i := range many {
		many[i] = fmt.Sprintf("u%d", i)
	}
	groups := map[string][]string{}
	for i := range latchkey.MaxInventoryGroups + 1 {
		groups[fmt.Sprintf("g%d", i)] = nil
	}
	for _, c := range []struct {
		name string
		m    map[string][]string
		ok   bool
	}{
		{name: "none", m: nil, ok: true},
		{name: "a group with members", m: map[string][]string{"wheel": {"ann", "bob"}}, ok: true},
		{name: "an empty group", m: map[string][]string{"wheel": {}}, ok: true},
		{name: "a bad group name", m: map[string][]string{"-wheel": {"ann"}}},
		{name: "a bad login", m: map[string][]string{"wheel": {"ann;rm"}}},
		{name: "too many members", m: map[string][]string{"wheel": many}},
		{name: "too many groups", m: groups},
	} {
		err := latchkey.ValidateMembers(c.m)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && latchkey.ErrorDetails(err)["field"] != "members" {
			t.Errorf("%s: field %v", c.name, latchkey.ErrorDetails(err)["field"])
		}
	}
}

func TestSummarizeReconcile(t *testing.T) {
	r := latchkey.SummarizeReconcile(true, []latchkey.TerminalDrift{
		{Terminal: "t3", Unexpected: mk("wheel/zed"), Fixes: []string{"ins_a"}},
		{Terminal: "t1"},
		{Terminal: "t2", Unreachable: true},
		{Terminal: "t4", Error: "no getent"},
		{Terminal: "t0", Missing: mk("wheel/ann", "adm/ann"), Fixes: []string{"ins_b"}},
	})
	got := fmt.Sprintf("%d terminals, %d answered, %d unreachable, %d errors, %d drifted, %d unexpected, %d missing, %d fixes", r.Terminals, r.Answered, r.Unreachable, r.Errors, r.Drifted, r.Unexpected, r.Missing, r.Fixes)
	if got != "5 terminals, 3 answered, 1 unreachable, 1 errors, 2 drifted, 1 unexpected, 2 missing, 2 fixes" {
		t.Fatal(got)
	}
	var listed []string
	for _, d := range r.Drift {
		listed = append(listed, d.Terminal)
	}
	if fmt.Sprint(listed) != "[t0 t2 t3 t4]" {
		t.Fatalf("listed: %v (the drifted, unreachable and failed, in order)", listed)
	}
}
