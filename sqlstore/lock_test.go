package sqlstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// lockEnv is a store with an admin, a delegate and a user, each logged on.
type lockEnv struct {
	s             *sqlstore.Store
	url           string
	clock         *sqlstoretest.Clock
	ann, bob, usr latchkey.Caller
}

func mustLockEnv(t *testing.T, b sqlstoretest.Backend) *lockEnv {
	t.Helper()
	e := &lockEnv{url: b.URL(t), clock: sqlstoretest.NewClock()}
	e.s = sqlstoretest.Open(t, e.url, sqlstoretest.Options(e.clock))
	e.ann, e.bob, e.usr = e.person(t, "ann", latchkey.RoleAdmin), e.person(t, "bob", latchkey.RoleDelegate), e.person(t, "usr", latchkey.RoleUser)
	return e
}

// person makes a principal with one identity and returns it logged on.
func (e *lockEnv) person(t *testing.T, name string, role latchkey.Role) latchkey.Caller {
	t.Helper()
	ctx := context.Background()
	p, err := e.s.CreatePrincipal(ctx, admin, latchkey.Principal{Name: name, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AddIdentity(ctx, admin, p.ID, name, pw(name)); err != nil {
		t.Fatal(err)
	}
	tok, err := e.s.Login(ctx, name, pw(name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.s.Authenticate(ctx, tok.Token)
	if err != nil || c.TokenID == "" {
		t.Fatalf("authenticate %s: %+v, %v", name, c, err)
	}
	return c
}

func (e *lockEnv) actions(t *testing.T) []string {
	t.Helper()
	recs, err := e.s.ListAudit(context.Background(), admin, latchkey.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if len(r.Action) > 5 && r.Action[:5] == "lock." {
			out = append(out, string(r.Action))
		}
	}
	return out
}

func TestLockScenario(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustLockEnv(t, b)
		ctx := context.Background()
		const name = "admin/users"

		_, err := e.s.GetLock(ctx, e.ann, name)
		wantCode(t, err, latchkey.ENOTFOUND)
		a, err := e.s.AcquireLock(ctx, e.ann, name, latchkey.AcquireRequest{Note: "adding staff"})
		if err != nil || a.Mode != latchkey.LockExclusive || a.Token != 1 || a.Holder.Principal != e.ann.PrincipalID {
			t.Fatalf("first acquire: %+v, %v; want exclusive with token 1", a, err)
		}
		r, err := e.s.AcquireLock(ctx, e.bob, name, latchkey.AcquireRequest{})
		if err != nil || r.Mode != latchkey.LockReadOnly || r.Holder.Principal != e.ann.PrincipalID || r.Holder.Note != "adding staff" || r.Token != 0 {
			t.Fatalf("second acquire: %+v, %v; want read_only naming ann and her note", r, err)
		}
		q, err := e.s.AcquireLock(ctx, e.bob, name, latchkey.AcquireRequest{Wait: true})
		if err != nil || q.Mode != latchkey.LockReadOnly || q.QueuePosition != 1 {
			t.Fatalf("wait: %+v, %v; want queued first", q, err)
		}
		if l, err := e.s.GetLock(ctx, e.bob, name); err != nil || len(l.Queue) != 1 || l.Queue[0].Principal != e.bob.PrincipalID {
			t.Fatalf("lock with a waiter: %+v, %v", l, err)
		}

		// Independent locks are held at once.
		if o, err := e.s.AcquireLock(ctx, e.bob, "admin/trusts", latchkey.AcquireRequest{}); err != nil || o.Mode != latchkey.LockExclusive {
			t.Fatalf("another lock: %+v, %v", o, err)
		}

		// Keepalive: only the holder's token with the current number.
		e.clock.Advance(30 * time.Second)
		if exp, err := e.s.KeepaliveLock(ctx, e.ann, name, 1, 0); err != nil || !exp.Equal(e.clock.Now().Add(latchkey.DefaultLockTTL)) {
			t.Fatalf("keepalive: %v, %v", exp, err)
		}
		_, err = e.s.KeepaliveLock(ctx, e.bob, name, 1, 0)
		wantCode(t, err, latchkey.ELOCKNOTHELD)

		// Release hands the lock to the waiter with the next token.
		if err := e.s.ReleaseLock(ctx, e.ann, name, 1, false); err != nil {
			t.Fatal(err)
		}
		l, err := e.s.GetLock(ctx, e.ann, name)
		if err != nil || l.Holder == nil || l.Holder.Principal != e.bob.PrincipalID || l.Holder.Token != 2 || len(l.Queue) != 0 {
			t.Fatalf("after release: %+v, %v; want bob holding token 2", l, err)
		}
		if err := e.s.ReleaseLock(ctx, e.ann, name, 1, false); err != nil { // idempotent
			t.Fatalf("second release: %v", err)
		}

		// Force: a user may not; an admin breaks bob's grant in one step.
		_, err = e.s.AcquireLock(ctx, e.usr, name, latchkey.AcquireRequest{Force: true})
		wantCode(t, err, latchkey.EFORBIDDEN)
		f, err := e.s.AcquireLock(ctx, e.ann, name, latchkey.AcquireRequest{Force: true, TTLSeconds: ptr(5)})
		if err != nil || f.Mode != latchkey.LockExclusive || f.Token != 3 {
			t.Fatalf("force: %+v, %v; want token 3", f, err)
		}
		_, err = e.s.KeepaliveLock(ctx, e.bob, name, 2, 0)
		wantCode(t, err, latchkey.ELOCKNOTHELD)

		// The lease runs out: the sweeper frees it.
		if _, err := e.s.AcquireLock(ctx, e.bob, name, latchkey.AcquireRequest{Wait: true, TTLSeconds: ptr(60)}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(6 * time.Second)
		if n, in, err := e.s.SweepLocks(ctx); err != nil || n != 1 || in != 24*time.Second {
			t.Fatalf("sweep: %d, next in %s, %v; want one lock settled, admin/trusts due in 24 s", n, in, err)
		}
		l, err = e.s.GetLock(ctx, e.ann, name)
		if err != nil || l.Holder == nil || l.Holder.Principal != e.bob.PrincipalID || l.Holder.Token != 4 {
			t.Fatalf("after expiry: %+v, %v; want the waiter bob holding token 4", l, err)
		}

		// (the user's forced acquire was refused at the role check, before the
		// lock: like any request without the role, it changed nothing)
		want := []string{"lock.acquire", "lock.deny", "lock.queue", "lock.acquire", "lock.release", "lock.grant",
			"lock.force", "lock.queue", "lock.expire", "lock.grant"}
		if got := e.actions(t); !slices.Equal(got, want) {
			t.Fatalf("audit %v, want %v", got, want)
		}
		if v, err := e.s.VerifyAudit(ctx, admin); err != nil || !v.OK {
			t.Fatalf("audit verify: %+v, %v", v, err)
		}
		locks, err := e.s.ListLocks(ctx, e.bob, latchkey.Page{})
		if err != nil || len(locks) != 2 || locks[0].Name != "admin/trusts" || locks[1].Name != "admin/users" {
			t.Fatalf("list: %+v, %v", locks, err)
		}
		_, err = e.s.ListLocks(ctx, e.usr, latchkey.Page{})
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, err = e.s.AcquireLock(ctx, e.ann, "bad name", latchkey.AcquireRequest{})
		wantCode(t, err, latchkey.EBADREQUEST)
		_, err = e.s.AcquireLock(ctx, e.ann, name, latchkey.AcquireRequest{TTLSeconds: ptr(0)})
		wantCode(t, err, latchkey.EBADREQUEST)
	})
}

// Fencing tokens keep growing after the store is closed and opened again.
func TestLockFenceSurvivesReopen(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustLockEnv(t, b)
		ctx := context.Background()
		a, err := e.s.AcquireLock(ctx, e.ann, "x", latchkey.AcquireRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.ReleaseLock(ctx, e.ann, "x", a.Token, false); err != nil {
			t.Fatal(err)
		}
		e.s.Close()
		s2 := sqlstoretest.Open(t, e.url, sqlstoretest.Options(e.clock))
		c, err := s2.AcquireLock(ctx, e.ann, "x", latchkey.AcquireRequest{})
		if err != nil || c.Token != a.Token+1 {
			t.Fatalf("after reopen: %+v, %v; want token %d", c, err, a.Token+1)
		}
	})
}

// Many holders race for one lock: every grant gets a new, larger token,
// and no two acquires ever hold it at once.
func TestLockConcurrentAcquireRelease(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustLockEnv(t, b)
		ctx := context.Background()
		callers := []latchkey.Caller{e.ann, e.bob}
		for i := range 6 {
			callers = append(callers, e.person(t, "d"+string(rune('a'+i)), latchkey.RoleDelegate))
		}
		var mu sync.Mutex
		holding := 0
		tokens := map[uint64]bool{}
		var wg sync.WaitGroup
		for _, c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 15 {
					r, err := e.s.AcquireLock(ctx, c, "hot", latchkey.AcquireRequest{})
					if err != nil {
						t.Error(err)
						return
					}
					if r.Mode != latchkey.LockExclusive {
						continue
					}
					mu.Lock()
					holding++
					if holding > 1 || tokens[r.Token] {
						t.Errorf("token %d: %d holders, seen before %v", r.Token, holding, tokens[r.Token])
					}
					tokens[r.Token] = true
					holding--
					mu.Unlock()
					if err := e.s.ReleaseLock(ctx, c, "hot", r.Token, false); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		l, err := e.s.GetLock(ctx, e.ann, "hot")
		if err != nil || int(l.Fence) != len(tokens) || len(tokens) == 0 {
			t.Fatalf("fence %v after %d grants: %v", l, len(tokens), err)
		}
		if v, err := e.s.VerifyAudit(ctx, admin); err != nil || !v.OK {
			t.Fatalf("audit verify: %+v, %v", v, err)
		}
	})
}

func ptr(n int) *int { return &n }
