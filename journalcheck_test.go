package latchkey_test

import (
	"slices"
	"testing"
	"time"

	"latchkey"
)

func TestSentVerifierHeldAt(t *testing.T) {
	withdrawn := st0.Add(2 * time.Hour)
	sv := &latchkey.SentVerifier{Login: "ann", FirstSent: st0, ExpiresAt: st0.Add(24 * time.Hour)}
	gone := &latchkey.SentVerifier{Login: "ann", FirstSent: st0, ExpiresAt: st0.Add(24 * time.Hour), Withdrawn: &withdrawn}
	for _, c := range []struct {
		name string
		sv   *latchkey.SentVerifier
		at   time.Time
		want bool
	}{
		{"never sent", nil, st0, false},
		{"before it was sent", sv, st0.Add(-time.Second), false},
		{"when it was sent", sv, st0, true},
		{"while sent", sv, st0.Add(23 * time.Hour), true},
		{"once expired", sv, st0.Add(24 * time.Hour), false},
		{"before the withdrawal", gone, withdrawn.Add(-time.Second), true},
		{"after the withdrawal", gone, withdrawn, false},
	} {
		if got := c.sv.HeldAt(c.at); got != c.want {
			t.Errorf("%s: held %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSentVerifierChanges(t *testing.T) {
	exp := st0.Add(14 * 24 * time.Hour)
	issued := st0.Add(time.Hour)
	w := st0.Add(-time.Hour)
	old := map[string]latchkey.SentVerifier{
		"same":     {Login: "same", FirstSent: st0, ExpiresAt: exp},
		"longer":   {Login: "longer", FirstSent: st0, ExpiresAt: exp},
		"dropped":  {Login: "dropped", FirstSent: st0, ExpiresAt: exp},
		"back":     {Login: "back", FirstSent: st0.Add(-48 * time.Hour), ExpiresAt: exp, Withdrawn: &w},
		"gone-old": {Login: "gone-old", FirstSent: st0.Add(-48 * time.Hour), ExpiresAt: exp, Withdrawn: &w},
	}
	sent := []latchkey.CachedVerifier{
		{Login: "same", ExpiresAt: exp}, {Login: "longer", ExpiresAt: exp.Add(time.Hour)},
		{Login: "new", ExpiresAt: exp}, {Login: "back", ExpiresAt: exp}, {Login: "new", ExpiresAt: exp},
	}
	got := latchkey.SentVerifierChanges(old, sent, issued)
	slices.SortFunc(got, func(a, b latchkey.SentVerifier) int { return compare(a.Login, b.Login) })
	want := []latchkey.SentVerifier{
		{Login: "back", FirstSent: issued, ExpiresAt: exp},
		{Login: "dropped", FirstSent: st0, ExpiresAt: exp, Withdrawn: &issued},
		{Login: "longer", FirstSent: st0, ExpiresAt: exp.Add(time.Hour)},
		{Login: "new", FirstSent: issued, ExpiresAt: exp},
	}
	if len(got) != len(want) {
		t.Fatalf("changes %+v, want %+v", got, want)
	}
	for i := range want {
		g, x := got[i], want[i]
		if g.Login != x.Login || !g.FirstSent.Equal(x.FirstSent) || !g.ExpiresAt.Equal(x.ExpiresAt) ||
			(g.Withdrawn == nil) != (x.Withdrawn == nil) || (g.Withdrawn != nil && !g.Withdrawn.Equal(*x.Withdrawn)) {
			t.Errorf("change %d: %+v, want %+v", i, g, x)
		}
	}
	// The same policy again writes nothing.
	next := map[string]latchkey.SentVerifier{}
	for _, v := range old {
		next[v.Login] = v
	}
	for _, v := range got {
		next[v.Login] = v
	}
	if again := latchkey.SentVerifierChanges(next, sent, issued.Add(time.Minute)); len(again) != 0 {
		t.Fatalf("an unchanged policy changes %+v", again)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestCheckJournalIdentity(t *testing.T) {
	type in = latchkey.JournalIdentityInput
	cached := in{AllowStandalone: true, Auth: latchkey.StandaloneAuthCached, Role: latchkey.RoleUser}
	anyAuth := in{AllowStandalone: true, Auth: latchkey.StandaloneAuthAny, Role: latchkey.RoleUser}
	adminsOnly := in{AllowStandalone: false, Auth: latchkey.StandaloneAuthAny, Role: latchkey.RoleAdmin}
	with := func(b in, f func(*in)) in { f(&b); return b }
	for _, c := range []struct {
		name   string
		in     in
		valid  bool
		reason string
		counts bool
	}{
		{name: "cached: verified and held", in: with(cached, func(x *in) { x.Verified, x.VerifierHeld = true, true }), valid: true, reason: "", counts: true},
		{name: "cached: verified alone proves nothing", in: with(cached, func(x *in) { x.Verified = true }), valid: false, reason: "unchecked", counts: false},
		{name: "cached: held but the agent did not check", in: with(cached, func(x *in) { x.VerifierHeld = true }), valid: false, reason: "unchecked", counts: false},
		{name: "cached: a right password is not a check", in: with(cached, func(x *in) { x.PasswordChecked, x.PasswordOK = true, true }), valid: false, reason: "unchecked", counts: false},
		{name: "cached: ended and unchecked is not charged", in: with(cached, func(x *in) { x.Ended, x.Verified = true, true }), valid: false, reason: "unchecked", counts: false},
		{name: "cached: disabled", in: with(cached, func(x *in) { x.Verified, x.VerifierHeld, x.Disabled = true, true, true }), valid: false, reason: "invalid_identity", counts: false},
		{name: "any: right password", in: with(anyAuth, func(x *in) { x.PasswordChecked, x.PasswordOK = true, true }), valid: true, reason: "", counts: true},
		{name: "any: wrong password", in: with(anyAuth, func(x *in) { x.PasswordChecked = true }), valid: false, reason: "invalid_identity", counts: false},
		{name: "any: password beyond the budget, not checked", in: anyAuth, valid: false, reason: "unchecked", counts: false},
		{name: "any: verified and held, no password", in: with(anyAuth, func(x *in) { x.Verified, x.VerifierHeld = true, true }), valid: true, reason: "", counts: true},
		{name: "any: ended, charged on the name", in: with(anyAuth, func(x *in) { x.Ended = true }), valid: false, reason: "unchecked", counts: true},
		{name: "any: ended, disabled: not charged", in: with(anyAuth, func(x *in) { x.Ended, x.Disabled = true, true }), valid: false, reason: "invalid_identity", counts: false},
		{name: "admins only: an admin checked", in: with(adminsOnly, func(x *in) { x.Verified, x.VerifierHeld = true, true }), valid: true, reason: "", counts: true},
		{name: "admins only: an admin with a password is not checked", in: with(adminsOnly, func(x *in) { x.PasswordChecked, x.PasswordOK = true, true }), valid: false, reason: "unchecked", counts: false},
		{name: "admins only: a user", in: with(adminsOnly, func(x *in) { x.Role, x.Verified, x.VerifierHeld = latchkey.RoleUser, true, true }), valid: false, reason: "not_allowed", counts: false},
	} {
		got := latchkey.CheckJournalIdentity(c.in)
		if got.Valid != c.valid || got.Reason != c.reason || got.Counts != c.counts {
			t.Errorf("%s: %+v, want valid %v reason %q counts %v", c.name, got, c.valid, c.reason, c.counts)
		}
	}
}

func TestBoundJournalEntry(t *testing.T) {
	now := st0.Add(10 * time.Hour)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	p := func(d time.Duration) *time.Time { x := at(d); return &x }
	b := latchkey.JournalBounds{Now: now, PeriodStart: at(-3 * time.Hour), MaxSession: 2 * time.Hour}
	noPeriod := b
	noPeriod.PeriodStart = time.Time{}
	for _, c := range []struct {
		name      string
		b         latchkey.JournalBounds
		start     time.Time
		end       *time.Time
		wantStart time.Time
		wantEnd   *time.Time
		wantFlags []string
	}{
		{name: "inside every bound", b: b, start: at(-time.Hour), end: p(-30 * time.Minute), wantStart: at(-time.Hour), wantEnd: p(-30 * time.Minute), wantFlags: nil},
		{name: "in progress, inside", b: b, start: at(-time.Hour), end: nil, wantStart: at(-time.Hour), wantEnd: nil, wantFlags: nil},
		{name: "a start in the future (within skew) is now", b: b, start: at(time.Minute), end: nil, wantStart: now, wantEnd: nil, wantFlags: []string{"future"}},
		{name: "an end in the future is now", b: b, start: at(-time.Hour), end: p(time.Minute), wantStart: at(-time.Hour), wantEnd: p(0), wantFlags: []string{"future"}},
		{name: "before the reported period: moved up", b: b, start: at(-5 * time.Hour), end: p(-150 * time.Minute), wantStart: at(-3 * time.Hour), wantEnd: p(-150 * time.Minute), wantFlags: []string{"before_standalone"}},
		{name: "wholly before the period: nothing left", b: b, start: at(-5 * time.Hour), end: p(-4 * time.Hour), wantStart: at(-3 * time.Hour), wantEnd: p(-3 * time.Hour), wantFlags: []string{"before_standalone"}},
		{name: "no period reported: not moved", b: noPeriod, start: at(-72 * time.Hour), end: p(-71 * time.Hour), wantStart: at(-72 * time.Hour), wantEnd: p(-71 * time.Hour), wantFlags: nil},
		{name: "a reported period in the future is no bound", b: latchkey.JournalBounds{Now: now, PeriodStart: at(time.Hour)}, start: at(-time.Hour), end: nil, wantStart: at(-time.Hour), wantEnd: nil, wantFlags: nil},
		{name: "ended, longer than the maximum: clipped", b: noPeriod, start: at(-23 * time.Hour), end: p(-time.Minute), wantStart: at(-23 * time.Hour), wantEnd: p(-21 * time.Hour), wantFlags: []string{"max_session"}},
		{name: "in progress, longer than the maximum: charged the maximum", b: noPeriod, start: at(-23 * time.Hour), end: nil, wantStart: at(-2 * time.Hour), wantEnd: nil, wantFlags: []string{"max_session"}},
		{name: "no maximum: not clipped", b: latchkey.JournalBounds{Now: now}, start: at(-23 * time.Hour), end: p(0), wantStart: at(-23 * time.Hour), wantEnd: p(0), wantFlags: nil},
		{name: "several at once", b: b, start: at(-23 * time.Hour), end: p(time.Minute), wantStart: at(-3 * time.Hour), wantEnd: p(-time.Hour), wantFlags: []string{"before_standalone", "future", "max_session"}},
	} {
		got := latchkey.BoundJournalEntry(c.start, c.end, c.b)
		endOK := (got.EndedAt == nil) == (c.wantEnd == nil) && (got.EndedAt == nil || got.EndedAt.Equal(*c.wantEnd))
		if !got.StartedAt.Equal(c.wantStart) || !endOK || !slices.Equal(got.Clipped, c.wantFlags) {
			t.Errorf("%s: %s–%v %v, want %s–%v %v", c.name, got.StartedAt, got.EndedAt, got.Clipped, c.wantStart, c.wantEnd, c.wantFlags)
		}
	}
}
