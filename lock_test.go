package latchkey_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"latchkey"
)

var lt0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func req(p string, role latchkey.Role) latchkey.LockRequester {
	return latchkey.LockRequester{Principal: p, Name: p + "-name", TokenID: "tok-" + p, Role: role}
}

var (
	ann  = req("ann", latchkey.RoleAdmin)
	bob  = req("bob", latchkey.RoleDelegate)
	cat  = req("cat", latchkey.RoleDelegate)
	usr  = req("usr", latchkey.RoleUser)
	ttl  = time.Minute
	free = latchkey.Lock{Name: "admin/users", Fence: 7}
)

func heldBy(r latchkey.LockRequester, token uint64, expires time.Time, queue ...latchkey.LockWaiter) latchkey.Lock {
	return latchkey.Lock{Name: "admin/users", Fence: token, Queue: queue,
		Holder: &latchkey.LockHolder{Principal: r.Principal, Name: r.Name, Since: lt0, ExpiresAt: expires, Token: token, TokenID: r.TokenID, TTL: ttl}}
}

func waiter(r latchkey.LockRequester, expires time.Time) latchkey.LockWaiter {
	return latchkey.LockWaiter{Principal: r.Principal, Name: r.Name, EnqueuedAt: lt0, ExpiresAt: expires, TTL: ttl, TokenID: r.TokenID}
}

func actions(ch []latchkey.LockChange) []string {
	var out []string
	for _, c := range ch {
		out = append(out, string(c.Action))
	}
	return out
}

func holderOf(l latchkey.Lock) string {
	if l.Holder == nil {
		return ""
	}
	return l.Holder.Principal
}

func queueOf(l latchkey.Lock) []string {
	var out []string
	for _, w := range l.Queue {
		out = append(out, w.Principal)
	}
	return out
}

func TestValidLockName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"admin/users", true}, {"admin/trusts", true}, {"a", true}, {"security/2fa.v1_x-y", true},
		{"", false}, {"/admin", false}, {"admin/", false}, {"admin//users", false}, {"admin/../x", false},
		{"admin/./x", false}, {"admin users", false}, {"admin/ü", false}, {"a\x00b", false},
		{string(make([]byte, latchkey.MaxLockNameLen+1)), false},
	} {
		if err := latchkey.ValidLockName("name", c.name); (err == nil) != c.ok {
			t.Errorf("ValidLockName(%q) = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

func TestSettleLock(t *testing.T) {
	soon, past := lt0.Add(time.Second), lt0.Add(-time.Second)
	for _, c := range []struct {
		name       string
		lock       latchkey.Lock
		holder     string
		fence      uint64
		queue      []string
		wantEvents []string
	}{
		{"free stays free", free, "", 7, nil, nil},
		{"lease running", heldBy(ann, 7, soon), "ann", 7, nil, nil},
		{"lease ran out: free", heldBy(ann, 7, lt0), "", 7, nil, []string{"lock.expire"}},
		{"lease ran out: the first waiter gets it with the next token",
			heldBy(ann, 7, past, waiter(bob, soon), waiter(cat, soon)), "bob", 8, []string{"cat"},
			[]string{"lock.expire", "lock.grant"}},
		{"lapsed waiters are skipped", heldBy(ann, 7, past, waiter(bob, past), waiter(cat, soon)), "cat", 8, nil,
			[]string{"lock.expire", "lock.dequeue", "lock.grant"}},
		{"every waiter lapsed", heldBy(ann, 7, past, waiter(bob, lt0)), "", 7, nil,
			[]string{"lock.expire", "lock.dequeue"}},
		{"a lapsed waiter behind a live holder is dropped", heldBy(ann, 7, soon, waiter(bob, past), waiter(cat, soon)),
			"ann", 7, []string{"cat"}, []string{"lock.dequeue"}},
		{"a free lock with a waiter is granted", latchkey.Lock{Name: "x", Fence: 3, Queue: []latchkey.LockWaiter{waiter(bob, soon)}},
			"bob", 4, nil, []string{"lock.grant"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := c.lock
			l, ch := latchkey.SettleLock(c.lock, lt0)
			if holderOf(l) != c.holder || l.Fence != c.fence || !slices.Equal(queueOf(l), c.queue) || !slices.Equal(actions(ch), c.wantEvents) {
				t.Fatalf("settled: holder %q fence %d queue %v events %v; want %q %d %v %v",
					holderOf(l), l.Fence, queueOf(l), actions(ch), c.holder, c.fence, c.queue, c.wantEvents)
			}
			if l.Holder != nil && (l.Holder.Token != l.Fence || !l.Holder.ExpiresAt.After(lt0)) {
				t.Fatalf("holder %+v: want the current token and a running lease", *l.Holder)
			}
			if holderOf(before) != holderOf(c.lock) || len(before.Queue) != len(c.lock.Queue) {
				t.Fatal("SettleLock changed its input")
			}
		})
	}
}

func TestDecideAcquire(t *testing.T) {
	soon := lt0.Add(30 * time.Second)
	in := func(r latchkey.LockRequester, wait, force bool) latchkey.AcquireInput {
		return latchkey.AcquireInput{By: r, TTL: ttl, Wait: wait, Force: force, Note: "editing"}
	}
	for _, c := range []struct {
		name      string
		lock      latchkey.Lock
		in        latchkey.AcquireInput
		exclusive bool
		token     uint64
		position  int
		code      string
		holder    string
		queue     []string
		events    []string
	}{
		{"free: granted with the next token", free, in(ann, false, false), true, 8, 0, "", "ann", nil, []string{"lock.acquire"}},
		{"the holder again: same grant, lease renewed", heldBy(ann, 7, soon), in(ann, false, false), true, 7, 0, "", "ann", nil, []string{"lock.acquire"}},
		{"held: denied, told the holder", heldBy(ann, 7, soon), in(bob, false, false), false, 0, 0, "", "ann", nil, []string{"lock.deny"}},
		{"held, queued caller without wait: denied, told its place", heldBy(ann, 7, soon, waiter(cat, soon), waiter(bob, soon)), in(bob, false, false), false, 0, 2, "", "ann", []string{"cat", "bob"}, []string{"lock.deny"}},
		{"held, wait: queued first", heldBy(ann, 7, soon), in(bob, true, false), false, 0, 1, "", "ann", []string{"bob"}, []string{"lock.queue"}},
		{"held, wait: queued behind others", heldBy(ann, 7, soon, waiter(bob, soon)), in(cat, true, false), false, 0, 2, "", "ann", []string{"bob", "cat"}, []string{"lock.queue"}},
		{"already queued: place kept and renewed", heldBy(ann, 7, soon, waiter(bob, soon), waiter(cat, soon)), in(bob, true, false), false, 0, 1, "", "ann", []string{"bob", "cat"}, nil},
		{"force by a delegate breaks and grants", heldBy(ann, 7, soon), in(bob, false, true), true, 8, 0, "", "bob", nil, []string{"lock.force"}},
		{"force by a queued delegate leaves the queue", heldBy(ann, 7, soon, waiter(cat, soon), waiter(bob, soon)), in(bob, false, true), true, 8, 0, "", "bob", []string{"cat"}, []string{"lock.force"}},
		{"force on a free lock is a plain grant", free, in(bob, false, true), true, 8, 0, "", "bob", nil, []string{"lock.acquire"}},
		{"force by a user is forbidden", heldBy(ann, 7, soon), in(usr, false, true), false, 0, 0, latchkey.EFORBIDDEN, "ann", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, out, ch := latchkey.DecideAcquire(c.lock, c.in, lt0)
			if latchkey.ErrorCode(out.Err) != c.code {
				t.Fatalf("error %v, want %q", out.Err, c.code)
			}
			if out.Exclusive != c.exclusive || out.QueuePosition != c.position || holderOf(l) != c.holder ||
				!slices.Equal(queueOf(l), c.queue) || !slices.Equal(actions(ch), c.events) {
				t.Fatalf("outcome %+v holder %q queue %v events %v; want exclusive %v position %d holder %q queue %v events %v",
					out, holderOf(l), queueOf(l), actions(ch), c.exclusive, c.position, c.holder, c.queue, c.events)
			}
			if c.exclusive {
				if out.Grant.Token != c.token || l.Fence != c.token || l.Holder.Token != c.token || !out.Grant.ExpiresAt.Equal(lt0.Add(ttl)) {
					t.Fatalf("grant %+v fence %d: want token %d expiring %s", out.Grant, l.Fence, c.token, lt0.Add(ttl))
				}
			} else if c.code == "" && out.Holder.Principal != c.holder {
				t.Fatalf("read-only answer names holder %q, want %q", out.Holder.Principal, c.holder)
			}
			if c.code != "" && (l.Fence != c.lock.Fence || holderOf(l) != holderOf(c.lock)) {
				t.Fatal("a refused acquire changed the lock")
			}
		})
	}
}

// An acquire without a lease length gets the default for a new grant or
// place, and keeps the length of a grant or place it renews.
func TestDecideAcquireWithoutTTL(t *testing.T) {
	long := 5 * time.Minute
	held := heldBy(ann, 7, lt0.Add(time.Second), latchkey.LockWaiter{Principal: "bob", Name: "bob-name", EnqueuedAt: lt0,
		ExpiresAt: lt0.Add(time.Second), TTL: long, TokenID: bob.TokenID})
	held.Holder.TTL = long
	for _, c := range []struct {
		name string
		lock latchkey.Lock
		in   latchkey.AcquireInput
		want time.Time
	}{
		{"a new grant: the default", free, latchkey.AcquireInput{By: ann}, lt0.Add(latchkey.DefaultLockTTL)},
		{"the holder again: its own length", held, latchkey.AcquireInput{By: ann}, lt0.Add(long)},
		{"the holder again with a length: that one", held, latchkey.AcquireInput{By: ann, TTL: 30 * time.Second}, lt0.Add(30 * time.Second)},
		{"a waiter again: its own length", held, latchkey.AcquireInput{By: bob, Wait: true}, lt0.Add(long)},
		{"a new place: the default", held, latchkey.AcquireInput{By: cat, Wait: true}, lt0.Add(latchkey.DefaultLockTTL)},
	} {
		l, _, _ := latchkey.DecideAcquire(c.lock, c.in, lt0)
		var got time.Time
		switch c.in.By.TokenID {
		case l.Holder.TokenID:
			got = l.Holder.ExpiresAt
		default:
			for _, w := range l.Queue {
				if w.TokenID == c.in.By.TokenID {
					got = w.ExpiresAt
				}
			}
		}
		if !got.Equal(c.want) {
			t.Errorf("%s: expires %s, want %s", c.name, got, c.want)
		}
	}
}

func TestDecideKeepalive(t *testing.T) {
	soon := lt0.Add(time.Second)
	for _, c := range []struct {
		name    string
		lock    latchkey.Lock
		tokenID string
		token   uint64
		ok      bool
	}{
		{"the holder", heldBy(ann, 7, soon), ann.TokenID, 7, true},
		{"a stale token", heldBy(ann, 7, soon), ann.TokenID, 6, false},
		{"another user token with the right number", heldBy(ann, 7, soon), bob.TokenID, 7, false},
		{"lease ran out", heldBy(ann, 7, lt0), ann.TokenID, 7, false},
		{"free lock", free, ann.TokenID, 7, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := latchkey.DecideKeepalive(c.lock, c.tokenID, c.token, 2*ttl, lt0)
			if c.ok {
				if err != nil || !l.Holder.ExpiresAt.Equal(lt0.Add(2*ttl)) {
					t.Fatalf("keepalive: %v, expires %v; want renewed to %s", err, l.Holder, lt0.Add(2*ttl))
				}
				return
			}
			if latchkey.ErrorCode(err) != latchkey.ELOCKNOTHELD {
				t.Fatalf("keepalive: %v, want lock_not_held", err)
			}
			if err := latchkey.CheckFence(c.lock, c.tokenID, c.token, lt0); latchkey.ErrorCode(err) != latchkey.ELOCKNOTHELD {
				t.Fatalf("CheckFence: %v, want lock_not_held", err)
			}
		})
	}
	if err := latchkey.CheckFence(heldBy(ann, 7, soon), ann.TokenID, 7, lt0); err != nil {
		t.Fatalf("CheckFence for the holder: %v", err)
	}
	// A keepalive without a lease length renews for the grant's own.
	if l, err := latchkey.DecideKeepalive(heldBy(ann, 7, soon), ann.TokenID, 7, 0, lt0); err != nil || !l.Holder.ExpiresAt.Equal(lt0.Add(ttl)) {
		t.Fatalf("keepalive with ttl 0: %v, %v; want renewed to %s", l.Holder, err, lt0.Add(ttl))
	}
}

func TestDecideRelease(t *testing.T) {
	soon := lt0.Add(time.Second)
	for _, c := range []struct {
		name    string
		lock    latchkey.Lock
		tokenID string
		token   uint64
		holder  string
		fence   uint64
		queue   []string
		events  []string
	}{
		{"the holder: free", heldBy(ann, 7, soon), ann.TokenID, 7, "", 7, nil, []string{"lock.release"}},
		{"the holder: the first waiter gets it", heldBy(ann, 7, soon, waiter(bob, soon), waiter(cat, soon)), ann.TokenID, 7, "bob", 8, []string{"cat"}, []string{"lock.release", "lock.grant"}},
		{"a stale token changes nothing", heldBy(ann, 7, soon), ann.TokenID, 6, "ann", 7, nil, nil},
		{"someone else's token changes nothing", heldBy(ann, 7, soon), bob.TokenID, 7, "ann", 7, nil, nil},
		{"twice: the second is a no-op", free, ann.TokenID, 7, "", 7, nil, nil},
		{"token 0: a waiter leaves the queue", heldBy(ann, 7, soon, waiter(bob, soon), waiter(cat, soon)), bob.TokenID, 0, "ann", 7, []string{"cat"}, []string{"lock.dequeue"}},
		{"token 0: not queued, nothing", heldBy(ann, 7, soon), cat.TokenID, 0, "ann", 7, nil, nil},
		{"token 0 by the holder keeps the lock", heldBy(ann, 7, soon), ann.TokenID, 0, "ann", 7, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, ch := latchkey.DecideRelease(c.lock, c.tokenID, c.token, lt0)
			if holderOf(l) != c.holder || l.Fence != c.fence || !slices.Equal(queueOf(l), c.queue) || !slices.Equal(actions(ch), c.events) {
				t.Fatalf("holder %q fence %d queue %v events %v; want %q %d %v %v",
					holderOf(l), l.Fence, queueOf(l), actions(ch), c.holder, c.fence, c.queue, c.events)
			}
		})
	}
}

// A random walk over every rule: fencing tokens never go back, a token is
// granted once, the holder always has the current token, and a broken or
// released grant never passes CheckFence again.
func TestLockRulesRandomWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	people := []latchkey.LockRequester{ann, bob, cat}
	l := latchkey.Lock{Name: "admin/users"}
	now := lt0
	granted := map[uint64]string{}
	type grant struct {
		token uint64
		who   string
	}
	var dead []grant // grants that ended
	for step := range 20000 {
		now = now.Add(time.Duration(rng.IntN(40)) * time.Second)
		prev := l
		var ch []latchkey.LockChange
		l, ch = latchkey.SettleLock(l, now)
		r := people[rng.IntN(len(people))]
		switch rng.IntN(4) {
		case 0:
			var more []latchkey.LockChange
			l, _, more = latchkey.DecideAcquire(l, latchkey.AcquireInput{By: r, TTL: time.Duration(1+rng.IntN(90)) * time.Second,
				Wait: rng.IntN(2) == 0, Force: rng.IntN(5) == 0}, now)
			ch = append(ch, more...)
		case 1:
			if l.Holder != nil {
				l, _ = latchkey.DecideKeepalive(l, r.TokenID, l.Fence, ttl, now)
			}
		case 2:
			var more []latchkey.LockChange
			l, more = latchkey.DecideRelease(l, r.TokenID, l.Fence-uint64(rng.IntN(2)), now)
			ch = append(ch, more...)
		case 3:
			var more []latchkey.LockChange
			l, more = latchkey.DecideRelease(l, r.TokenID, 0, now)
			ch = append(ch, more...)
		}
		if l.Fence < prev.Fence {
			t.Fatalf("step %d: fence went back from %d to %d", step, prev.Fence, l.Fence)
		}
		for _, c := range ch {
			switch c.Action {
			case "lock.acquire", "lock.grant", "lock.force":
				if owner, ok := granted[c.Token]; ok && owner != c.Principal {
					t.Fatalf("step %d: token %d granted to %s and to %s", step, c.Token, owner, c.Principal)
				}
				granted[c.Token] = c.Principal
			}
			switch c.Action {
			case "lock.expire", "lock.release":
				dead = append(dead, grant{c.Token, c.Principal})
			case "lock.force":
				dead = append(dead, grant{c.Details["broke"].(uint64), c.Details["from"].(string)})
			}
		}
		if h := l.Holder; h != nil && h.Token != l.Fence {
			t.Fatalf("step %d: holder has token %d, the lock is at %d", step, h.Token, l.Fence)
		}
		// every grant that ended in the last steps, and a sample of older ones
		for i := range min(len(dead), 16) {
			g := dead[len(dead)-1-i]
			if i >= 8 {
				g = dead[rng.IntN(len(dead))]
			}
			if err := latchkey.CheckFence(l, "tok-"+g.who, g.token, now); err == nil {
				t.Fatalf("step %d: ended grant %d of %s still passes the fence", step, g.token, g.who)
			}
		}
	}
	if len(granted) < 100 {
		t.Fatalf("only %d grants in the walk: the walk does not exercise the rules", len(granted))
	}
}
