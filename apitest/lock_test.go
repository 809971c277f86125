package apitest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// staff creates a principal with role and one identity and returns a
// client with a fresh user token of it.
func (w *world) staff(name string, role latchkey.Role) (*latchkey.Principal, *client.Client) {
	w.t.Helper()
	ctx := context.Background()
	p, err := w.admin.CreatePrincipal(ctx, latchkey.Principal{Name: name, Role: role})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.admin.AddIdentity(ctx, p.ID, name, pw(name)); err != nil {
		w.t.Fatal(err)
	}
	return p, w.userClient(name)
}

// userClient logs identity on (password pw(identity)) and returns a
// client with the new user token.
func (w *world) userClient(identity string) *client.Client {
	w.t.Helper()
	tok, err := client.New(w.url).Login(context.Background(), identity, pw(identity))
	if err != nil {
		w.t.Fatal(err)
	}
	return client.New(w.url, client.WithToken(tok.Token))
}

// lockActions returns the actions of the audit records about lock name
// after seq, in order.
func (w *world) lockActions(name string, after int64) []string {
	w.t.Helper()
	recs, _, err := w.admin.ListAudit(context.Background(), latchkey.AuditFilter{After: after, Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if strings.HasPrefix(string(r.Action), "lock.") && r.Target == name {
			out = append(out, string(r.Action))
		}
	}
	return out
}

func ttlSeconds(n int) *int { return &n }

// The seed's screen scenario through the API: ACCESS: EXCLUSIVE for the
// first, READ ONLY with holder and note for the second, the FIFO queue,
// hand-over on release, keepalive, FORCE LOCK, lease expiry, independent
// locks, and an audit record for every step.
func TestLockScenario(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		const name = "admin/users"
		dora, delegate := w.staff("dora", latchkey.RoleDelegate)
		w.person("ursula", false, "ursula") // before dora holds admin/users, which manages principals
		admin := w.admin

		if _, err := admin.GetLock(ctx, name); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("a lock never acquired: %v, want not_found", err)
		}
		// Refused calls on it do not make it exist.
		if _, err := admin.KeepaliveLock(ctx, name, 7, 0); latchkey.ErrorCode(err) != latchkey.ELOCKNOTHELD {
			t.Fatalf("keepalive of a lock never acquired: %v, want lock_not_held", err)
		}
		if err := admin.ReleaseLock(ctx, name, 7, true); err != nil {
			t.Fatalf("release of a lock never acquired: %v, want 204", err)
		}
		if _, err := admin.GetLock(ctx, name); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("a lock only asked about: %v, want not_found", err)
		}
		g, err := admin.AcquireLock(ctx, name, latchkey.AcquireRequest{Note: "adding the new counter staff", TTLSeconds: ttlSeconds(300)})
		if err != nil || g.Mode != latchkey.LockExclusive || g.Token == 0 || g.ExpiresAt == nil || !g.ExpiresAt.Equal(w.clock.Now().Add(300*time.Second)) {
			t.Fatalf("first acquire: %+v, %v; want exclusive for 300 s", g, err)
		}
		ro, err := delegate.AcquireLock(ctx, name, latchkey.AcquireRequest{})
		if err != nil || ro.Mode != latchkey.LockReadOnly || ro.Holder == nil || ro.Holder.Name != "admin" ||
			ro.Holder.Note != "adding the new counter staff" || ro.Token != 0 || ro.QueuePosition != 0 {
			t.Fatalf("second acquire: %+v, %v; want read_only naming admin and the note", ro, err)
		}
		q, err := delegate.AcquireLock(ctx, name, latchkey.AcquireRequest{Wait: true, TTLSeconds: ttlSeconds(300)})
		if err != nil || q.Mode != latchkey.LockReadOnly || q.QueuePosition != 1 {
			t.Fatalf("acquire with wait: %+v, %v; want read_only at queue position 1", q, err)
		}
		l, err := admin.GetLock(ctx, name)
		if err != nil || l.Holder == nil || l.Holder.Token != g.Token || len(l.Queue) != 1 || l.Queue[0].Principal != dora.ID {
			t.Fatalf("GET lock: %+v, %v; want admin holding, dora queued", l, err)
		}

		// Independent locks are held by different people at once.
		tr, err := delegate.AcquireLock(ctx, "admin/trusts", latchkey.AcquireRequest{})
		if err != nil || tr.Mode != latchkey.LockExclusive {
			t.Fatalf("an independent lock: %+v, %v; want exclusive", tr, err)
		}

		// Release hands the lock to the first waiter with the next token.
		if err := admin.ReleaseLock(ctx, name, g.Token, false); err != nil {
			t.Fatal(err)
		}
		if err := admin.ReleaseLock(ctx, name, g.Token, false); err != nil {
			t.Fatalf("release again: %v, want 204 (idempotent)", err)
		}
		l, _ = admin.GetLock(ctx, name)
		if l.Holder == nil || l.Holder.Principal != dora.ID || l.Holder.Token != g.Token+1 || len(l.Queue) != 0 {
			t.Fatalf("after release: %+v; want dora holding with token %d", l, g.Token+1)
		}
		dt := l.Holder.Token
		if _, err := admin.KeepaliveLock(ctx, name, g.Token, 0); latchkey.ErrorCode(err) != latchkey.ELOCKNOTHELD {
			t.Fatalf("keepalive with the released token: %v, want lock_not_held", err)
		}
		w.clock.Advance(100 * time.Second)
		exp, err := delegate.KeepaliveLock(ctx, name, dt, 0)
		if err != nil || !exp.Equal(w.clock.Now().Add(300*time.Second)) {
			t.Fatalf("keepalive: %v, %v; want renewed by the grant's 300 s", exp, err)
		}

		// A user may not touch locks; FORCE LOCK breaks and takes in one step.
		user := w.userClient("ursula")
		if _, err := user.AcquireLock(ctx, name, latchkey.AcquireRequest{Force: true}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a user's acquire: %v, want forbidden", err)
		}
		if _, err := user.GetLock(ctx, name); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a user's GET lock: %v, want forbidden", err)
		}
		f, err := admin.AcquireLock(ctx, name, latchkey.AcquireRequest{Force: true, TTLSeconds: ttlSeconds(60)})
		if err != nil || f.Mode != latchkey.LockExclusive || f.Token != dt+1 {
			t.Fatalf("force: %+v, %v; want exclusive with token %d", f, err, dt+1)
		}
		if _, err := delegate.KeepaliveLock(ctx, name, dt, 0); latchkey.ErrorCode(err) != latchkey.ELOCKNOTHELD {
			t.Fatalf("the broken holder's keepalive: %v, want lock_not_held", err)
		}

		// A lease that runs out frees the lock; the token is dead after.
		w.clock.Advance(61 * time.Second)
		l, _ = admin.GetLock(ctx, name)
		if l.Holder != nil || l.Fence != f.Token {
			t.Fatalf("after the lease ran out: %+v; want free, fence %d", l, f.Token)
		}
		if _, err := admin.KeepaliveLock(ctx, name, f.Token, 0); latchkey.ErrorCode(err) != latchkey.ELOCKNOTHELD {
			t.Fatalf("keepalive after expiry: %v, want lock_not_held", err)
		}
		all, _, err := admin.ListLocks(ctx, latchkey.Page{})
		if err != nil || len(all) != 2 || all[0].Name != "admin/trusts" || all[1].Name != name {
			t.Fatalf("list: %+v, %v; want admin/trusts and admin/users", all, err)
		}

		want := []string{"lock.acquire", "lock.deny", "lock.queue", "lock.release", "lock.grant", "lock.force", "lock.expire"}
		if got := w.lockActions(name, 0); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("audit of %s: %v, want %v", name, got, want)
		}
	})
}

// Lock names travel in the URL unescaped or with %2F; bad names, actions
// and bodies are bad_request (or not_found) and change nothing.
func TestLockPaths(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		post := func(path, body string) (int, string) { return w.adminRaw(http.MethodPost, path, body) }
		if st, body := post("/v1/locks/admin%2Fusers/acquire", `{}`); st != 200 || !strings.Contains(body, `"exclusive"`) {
			t.Fatalf("acquire with %%2F: %d %s", st, body)
		}
		l, err := w.admin.GetLock(ctx, "admin/users")
		if err != nil || l.Holder == nil {
			t.Fatalf("the %%2F name is the unescaped one: %+v, %v", l, err)
		}
		before := w.snapshot()
		for _, c := range []struct {
			path, body string
			status     int
		}{
			{"/v1/locks/admin/users%2F%2Fx/acquire", `{}`, 400},
			{"/v1/locks/admin/%2E%2E/acquire", `{}`, 400},
			{"/v1/locks/admin/us%20ers/acquire", `{}`, 400},
			{"/v1/locks/admin/users/steal", `{}`, 404},
			{"/v1/locks/acquire", `{}`, 404},
			{"/v1/locks/admin/users/acquire", `{"ttl_seconds": 0}`, 400},
			{"/v1/locks/admin/users/acquire", `{"ttl_seconds": 86401}`, 400},
			{"/v1/locks/admin/users/acquire", `{"note": "` + strings.Repeat("n", 501) + `"}`, 400},
			{"/v1/locks/admin/users/acquire", `{"wait": "yes"}`, 400},
			{"/v1/locks/admin/users/acquire", `{"force": true, "extra": 1}`, 400},
			{"/v1/locks/admin/users/keepalive", `{}`, 400},
			{"/v1/locks/admin/users/keepalive", `{"token": -1}`, 400},
			{"/v1/locks/admin/users/keepalive", `{"token": 1, "ttl_seconds": -5}`, 400},
			{"/v1/locks/admin/users/release", `{}`, 400},
			{"/v1/locks/admin/users/release", `{"token": "1"}`, 400},
		} {
			if st, body := post(c.path, c.body); st != c.status || !strings.Contains(body, `"error"`) {
				t.Errorf("POST %s %s: %d %s, want %d with the error shape", c.path, c.body, st, body, c.status)
			}
		}
		w.assertUnchanged(before, "bad lock calls")
		if after, err := w.admin.GetLock(ctx, "admin/users"); err != nil || after.Fence != l.Fence || after.Holder.ExpiresAt != l.Holder.ExpiresAt {
			t.Fatalf("bad lock calls changed the lock: %+v -> %+v, %v", l, after, err)
		}
	})
}

// Logging out releases the token's locks at once, to the next waiter, and
// gives up its places in queues.
func TestLogoutReleasesLocks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		dora, delegate := w.staff("dora", latchkey.RoleDelegate)
		g, err := delegate.AcquireLock(ctx, "admin/trusts", latchkey.AcquireRequest{TTLSeconds: ttlSeconds(3600)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.admin.AcquireLock(ctx, "admin/trusts", latchkey.AcquireRequest{Wait: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.admin.AcquireLock(ctx, "admin/users", latchkey.AcquireRequest{}); err != nil {
			t.Fatal(err)
		}
		if q, err := delegate.AcquireLock(ctx, "admin/users", latchkey.AcquireRequest{Wait: true}); err != nil || q.QueuePosition != 1 {
			t.Fatalf("queue: %+v, %v", q, err)
		}
		if err := delegate.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		l, err := w.admin.GetLock(ctx, "admin/trusts")
		if err != nil || l.Holder == nil || l.Holder.Principal == dora.ID || l.Holder.Token != g.Token+1 {
			t.Fatalf("after the holder logged out: %+v, %v; want admin granted token %d", l, err, g.Token+1)
		}
		if l, _ := w.admin.GetLock(ctx, "admin/users"); len(l.Queue) != 0 {
			t.Fatalf("the logged-out waiter is still queued: %+v", l.Queue)
		}
		if got := w.lockActions("admin/trusts", 0); strings.Join(got, " ") != "lock.acquire lock.queue lock.release lock.grant" {
			t.Fatalf("audit of admin/trusts: %v", got)
		}
	})
}
