package latchkey_test

import (
	"math/rand/v2"
	"slices"
	"strings"
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
		{name: "free stays free", lock: free, holder: "", fence: 7, queue: nil, wantEvents: nil},
		{name: "lease running", lock: heldBy(ann, 7, soon), holder: "ann", fence: 7, queue: nil, wantEvents: nil},
		{name: "lease ran out: free", lock: heldBy(ann, 7, lt0), holder: "", fence: 7, queue: nil, wantEvents: []string{"lock.expire"}},
		{name: "lease ran out: the first waiter gets it with the next token",
			lock: heldBy(ann, 7, past, waiter(bob, soon), waiter(cat, soon)), holder: "bob", fence: 8, queue: []string{"cat"},
			wantEvents: []string{"lock.expire", "lock.grant"}},
		{name: "lapsed waiters are skipped", lock: heldBy(ann, 7, past, waiter(bob, past), waiter(cat, soon)), holder: "cat", fence: 8, queue: nil,
			wantEvents: []string{"lock.expire", "lock.dequeue", "lock.grant"}},
		{name: "every waiter lapsed", lock: heldBy(ann, 7, past, waiter(bob, lt0)), holder: "", fence: 7, queue: nil,
			wantEvents: []string{"lock.expire", "lock.dequeue"}},
		{name: "a lapsed waiter behind a live holder is dropped", lock: heldBy(ann, 7, soon, waiter(bob, past), waiter(cat, soon)),
			holder: "ann", fence: 7, queue: []string{"cat"}, wantEvents: []string{"lock.dequeue"}},
		{name: "a free lock with a waiter is granted", lock: latchkey.Lock{Name: "x", Fence: 3, Queue: []latchkey.LockWaiter{waiter(bob, soon)}},
			holder: "bob", fence: 4, queue: nil, wantEvents: []string{"lock.grant"}},
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
		{name: "free: granted with the next token", lock: free, in: in(ann, false, false), exclusive: true, token: 8, holder: "ann", events: []string{"lock.acquire"}},
		{name: "the holder again: same grant, lease renewed", lock: heldBy(ann, 7, soon), in: in(ann, false, false), exclusive: true, token: 7, holder: "ann", events: []string{"lock.acquire"}},
		{name: "held: denied, told the holder", lock: heldBy(ann, 7, soon), in: in(bob, false, false), holder: "ann", events: []string{"lock.deny"}},
		{name: "held, queued caller without wait: denied, told its place", lock: heldBy(ann, 7, soon, waiter(cat, soon), waiter(bob, soon)), in: in(bob, false, false), position: 2, holder: "ann", queue: []string{"cat", "bob"}, events: []string{"lock.deny"}},
		{name: "held, wait: queued first", lock: heldBy(ann, 7, soon), in: in(bob, true, false), position: 1, holder: "ann", queue: []string{"bob"}, events: []string{"lock.queue"}},
		{name: "held, wait: queued behind others", lock: heldBy(ann, 7, soon, waiter(bob, soon)), in: in(cat, true, false), position: 2, holder: "ann", queue: []string{"bob", "cat"}, events: []string{"lock.queue"}},
		{name: "already queued: place kept and renewed", lock: heldBy(ann, 7, soon, waiter(bob, soon), waiter(cat, soon)), in: in(bob, true, false), position: 1, holder: "ann", queue: []string{"bob", "cat"}},
		{name: "force by a delegate breaks and grants", lock: heldBy(ann, 7, soon), in: in(bob, false, true), exclusive: true, token: 8, holder: "bob", events: []string{"lock.force"}},
		{name: "force by a queued delegate leaves the queue", lock: heldBy(ann, 7, soon, waiter(cat, soon), waiter(bob, soon)), in: in(bob, false, true), exclusive: true, token: 8, holder: "bob", queue: []string{"cat"}, events: []string{"lock.force"}},
		{name: "force on a free lock is a plain grant", lock: free, in: in(bob, false, true), exclusive: true, token: 8, holder: "bob", events: []string{"lock.acquire"}},
		{name: "force by a user is forbidden", lock: heldBy(ann, 7, soon), in: in(usr, false, true), code: latchkey.EFORBIDDEN, holder: "ann"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := latchkey.DecideAcquire(c.lock, c.in, lt0)
			l, ch := out.Lock, out.Changes
			if latchkey.ErrorCode(err) != c.code {
				t.Fatalf("error %v, want %q", err, c.code)
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
		out, err := latchkey.DecideAcquire(c.lock, c.in, lt0)
		if err != nil {
			t.Fatal(err)
		}
		l := out.Lock
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
		{name: "the holder", lock: heldBy(ann, 7, soon), tokenID: ann.TokenID, token: 7, ok: true},
		{name: "a stale token", lock: heldBy(ann, 7, soon), tokenID: ann.TokenID, token: 6, ok: false},
		{name: "another user token with the right number", lock: heldBy(ann, 7, soon), tokenID: bob.TokenID, token: 7, ok: false},
		{name: "lease ran out", lock: heldBy(ann, 7, lt0), tokenID: ann.TokenID, token: 7, ok: false},
		{name: "free lock", lock: free, tokenID: ann.TokenID, token: 7, ok: false},
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
		{name: "the holder: free", lock: heldBy(ann, 7, soon), tokenID: ann.TokenID, token: 7, fence: 7, events: []string{"lock.release"}},
		{name: "the holder: the first waiter gets it", lock: heldBy(ann, 7, soon, waiter(bob, soon), waiter(cat, soon)), tokenID: ann.TokenID, token: 7, holder: "bob", fence: 8, queue: []string{"cat"}, events: []string{"lock.release", "lock.grant"}},
		{name: "a stale token changes nothing", lock: heldBy(ann, 7, soon), tokenID: ann.TokenID, token: 6, holder: "ann", fence: 7},
		{name: "someone else's token changes nothing", lock: heldBy(ann, 7, soon), tokenID: bob.TokenID, token: 7, holder: "ann", fence: 7},
		{name: "twice: the second is a no-op", lock: free, tokenID: ann.TokenID, token: 7, fence: 7},
		{name: "token 0: a waiter leaves the queue", lock: heldBy(ann, 7, soon, waiter(bob, soon), waiter(cat, soon)), tokenID: bob.TokenID, holder: "ann", fence: 7, queue: []string{"cat"}, events: []string{"lock.dequeue"}},
		{name: "token 0: not queued, nothing", lock: heldBy(ann, 7, soon), tokenID: cat.TokenID, holder: "ann", fence: 7},
		{name: "token 0 by the holder keeps the lock", lock: heldBy(ann, 7, soon), tokenID: ann.TokenID, holder: "ann", fence: 7},
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
			out, _ := latchkey.DecideAcquire(l, latchkey.AcquireInput{By: r, TTL: time.Duration(1+rng.IntN(90)) * time.Second,
				Wait: rng.IntN(2) == 0, Force: rng.IntN(5) == 0}, now)
			l = out.Lock
			ch = append(ch, out.Changes...)
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

// An acquire is validated once (Validate, called by http and the store),
// and a lease left out is 0 for the rules to fill in (DecideAcquire), not
// a default the store would have to undo.
func TestAcquireRequestValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		r     latchkey.AcquireRequest
		field string
		ttl   time.Duration
	}{
		{name: "nothing given: no lease asked for", r: latchkey.AcquireRequest{}},
		{name: "a lease", r: latchkey.AcquireRequest{TTLSeconds: ptr(60)}, ttl: time.Minute},
		{name: "the shortest lease", r: latchkey.AcquireRequest{TTLSeconds: ptr(int(latchkey.MinLockTTL / time.Second))}, ttl: latchkey.MinLockTTL},
		{name: "the longest lease", r: latchkey.AcquireRequest{TTLSeconds: ptr(int(latchkey.MaxLockTTL / time.Second))}, ttl: latchkey.MaxLockTTL},
		{name: "a zero lease", r: latchkey.AcquireRequest{TTLSeconds: ptr(0)}, field: "ttl_seconds"},
		{name: "too long a lease", r: latchkey.AcquireRequest{TTLSeconds: ptr(int(latchkey.MaxLockTTL/time.Second) + 1)}, field: "ttl_seconds"},
		{name: "too long a note", r: latchkey.AcquireRequest{Note: strings.Repeat("n", latchkey.MaxLockNoteLen+1)}, field: "note"},
	} {
		err := c.r.Validate()
		if c.field == "" {
			if err != nil || c.r.TTL() != c.ttl {
				t.Errorf("%s: %v, ttl %s; want ok, %s", c.name, err, c.r.TTL(), c.ttl)
			}
			continue
		}
		if latchkey.ErrorCode(err) != latchkey.EBADREQUEST || latchkey.ErrorDetails(err)["field"] != c.field {
			t.Errorf("%s: %v, want bad_request on %s", c.name, err, c.field)
		}
	}
}
