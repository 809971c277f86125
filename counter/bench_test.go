package counter

import (
	"testing"
	"time"

	"latchkey/agent"
)

// BenchmarkCounterKey: the app's own cost of one key press, what the
// person at the counter waits for before the screen changes when no call
// goes out: App.Update with the key, then View(80) of the screen it
// leaves. The screen is a busy one: alice logged on, a Postage
// transaction with a basket of 10 items and a transient box (Printing…)
// over it. The keys alternate n and b (next and back page), so the state
// stays the same size however many iterations run; the clock does not
// move, so the box stays and the app reports activity (a touch) once,
// then waits a second that never comes. Run:
//
//	go test ./counter -run '^$' -bench CounterKey -benchmem
func BenchmarkCounterKey(b *testing.B) {
	a := busyCounter(b)
	keys := [2]string{"n", "b"}
	lines := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a, _ = a.Update(Event{Key: keys[i%2], Now: a.Now})
		lines += len(a.View(80))
		i++
	}
	if lines == 0 {
		b.Fatal("no lines drawn")
	}
}

// busyCounter is the counter at a Postage transaction with 10 items in
// its basket and a transient box showing, alice logged on online.
func busyCounter(tb testing.TB) App {
	tb.Helper()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := New(Config{Mode: ModeServeCustomer, Clerk: Clerk{Transactions: true}, Loc: time.UTC}, now)
	press := func(keys ...string) {
		for _, k := range keys {
			a, _ = a.Update(Event{Key: k, Now: now})
		}
	}
	press("a", "l", "i", "c", "e", "enter", "p", "w", "enter")
	login := Call{Op: OpLogin, Identity: "alice", Password: "pw"}
	st := &agent.Status{Mode: agent.ModeOnline, Session: &agent.SessionStatus{ID: "ses_1", Identity: "alice", StartedAt: now}}
	a, _ = a.Update(Event{Reply: &Reply{Call: login, Status: st}, Now: now})
	press("1", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "p")
	if a.Phase != PhaseServing || a.Screen.Transaction == nil || len(a.Screen.Transaction.Basket) != 10 ||
		!a.Screen.TransientShown(now) {
		tb.Fatalf("not the busy screen: phase %v, screen %+v", a.Phase, a.Screen)
	}
	return a
}
