package apitest_test

import (
	"context"
	"net/http"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

func strp(s string) *string { return &s }
func i64p(n int64) *int64   { return &n }

// Configuration domains through the API: items commit together with a
// version; a managed domain needs its lock's current token, checked in
// the write's own transaction; security/2fa is for admins; the
// always-available operations need no lock.
func TestConfigScenario(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		_, delegate := w.staff("dora", latchkey.RoleDelegate)

		if d, err := w.admin.GetConfig(ctx, "signup-policy"); err != nil || d.Version != 0 || len(d.Items) != 0 {
			t.Fatalf("a domain never written: %+v, %v; want version 0, no items", d, err)
		}
		v, err := delegate.PutConfig(ctx, "signup-policy", latchkey.ConfigWrite{Items: map[string]*string{"open": strp("yes"), "max": strp("10")}})
		if err != nil || v != 1 {
			t.Fatalf("unmanaged write: %d, %v; want version 1", v, err)
		}
		_, err = w.admin.PutConfig(ctx, "signup-policy", latchkey.ConfigWrite{Items: map[string]*string{"max": strp("20")}, IfVersion: i64p(0)})
		wantCode(t, err, latchkey.EVERSIONMISMATCH)
		if v, err = w.admin.PutConfig(ctx, "signup-policy", latchkey.ConfigWrite{Items: map[string]*string{"max": strp("20"), "open": nil}, IfVersion: i64p(1)}); err != nil || v != 2 {
			t.Fatalf("write at the right version: %d, %v", v, err)
		}
		if d, _ := w.admin.GetConfig(ctx, "signup-policy"); d.Version != 2 || len(d.Items) != 1 || d.Items["max"] != "20" {
			t.Fatalf("after two writes: %+v; want version 2 with max=20 only", d)
		}

		// users is managed by admin/users.
		users := latchkey.ConfigWrite{Items: map[string]*string{"ann.role": strp("clerk"), "bob.role": strp("manager")}}
		_, err = w.admin.PutConfig(ctx, "users", users)
		wantCode(t, err, latchkey.ELOCKNOTHELD)
		g, err := w.admin.AcquireLock(ctx, "admin/users", latchkey.AcquireRequest{})
		if err != nil {
			t.Fatal(err)
		}
		users.LockToken = g.Token
		if _, err = delegate.PutConfig(ctx, "users", users); latchkey.ErrorCode(err) != latchkey.ELOCKNOTHELD {
			t.Fatalf("another person's write with the holder's token number: %v, want lock_not_held", err)
		}
		if v, err = w.admin.PutConfig(ctx, "users", users); err != nil || v != 1 {
			t.Fatalf("the holder's write: %d, %v", v, err)
		}
		// FORCE LOCK: the broken holder's next write is refused, nothing changes.
		f, err := delegate.AcquireLock(ctx, "admin/users", latchkey.AcquireRequest{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		stale := latchkey.ConfigWrite{Items: map[string]*string{"ann.role": strp("admin")}, LockToken: g.Token}
		_, err = w.admin.PutConfig(ctx, "users", stale)
		wantCode(t, err, latchkey.ELOCKNOTHELD)
		if d, _ := w.admin.GetConfig(ctx, "users"); d.Version != 1 || d.Items["ann.role"] != "clerk" {
			t.Fatalf("after the refused write: %+v; want version 1 unchanged", d)
		}
		if v, err = delegate.PutConfig(ctx, "users", latchkey.ConfigWrite{Items: map[string]*string{"ann.role": strp("teller")}, LockToken: f.Token}); err != nil || v != 2 {
			t.Fatalf("the new holder's write: %d, %v", v, err)
		}

		// Delegates may not write security/2fa; admins may, without a lock.
		_, err = delegate.PutConfig(ctx, "security/2fa", latchkey.ConfigWrite{Items: map[string]*string{"required": strp("true")}})
		wantCode(t, err, latchkey.EFORBIDDEN)
		if v, err = w.admin.PutConfig(ctx, "security/2fa", latchkey.ConfigWrite{Items: map[string]*string{"required": strp("true")}}); err != nil || v != 1 {
			t.Fatalf("admin writes security/2fa: %d, %v", v, err)
		}
		if d, err := delegate.GetConfig(ctx, "security/2fa"); err != nil || d.Items["required"] != "true" {
			t.Fatalf("a delegate reads security/2fa: %+v, %v", d, err)
		}

		// Changing a password is always available: no lock is needed
		// while admin/users is held by someone else.
		if err := w.admin.ChangePassword(ctx, "bob", "", "bob-new-password"); err != nil {
			t.Fatalf("password change while admin/users is held: %v", err)
		}

		// People without a staff role cannot read or write configuration.
		user := w.userClient("alice")
		if _, err := user.GetConfig(ctx, "signup-policy"); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a user's read: %v, want forbidden", err)
		}

		var got []string
		recs, _, _ := w.admin.ListAudit(ctx, latchkey.AuditFilter{Limit: 1000})
		for _, r := range recs {
			if r.Target == "users" {
				got = append(got, string(r.Action))
			}
		}
		want := []string{"config.write_refused", "config.write_refused", "config.write", "config.write_refused", "config.write"}
		if len(got) != len(want) {
			t.Fatalf("audit of domain users: %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("audit of domain users: %v, want %v", got, want)
			}
		}
	})
}

// Bad config writes are bad_request and change nothing.
func TestConfigBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		if _, err := w.admin.PutConfig(ctx, "signup-policy", latchkey.ConfigWrite{Items: map[string]*string{"a": strp("1")}}); err != nil {
			t.Fatal(err)
		}
		before := w.snapshot()
		for _, c := range []struct{ path, body string }{
			{"/v1/config/signup-policy", `{"items": {"a": 2}}`},
			{"/v1/config/signup-policy", `{"items": {}}`},
			{"/v1/config/signup-policy", `{"items": {"": "x"}}`},
			{"/v1/config/signup-policy", `{"items": {"a": "1"}, "if_version": -1}`},
			{"/v1/config/signup-policy", `{"items": {"a": "1"}, "lock_token": "7"}`},
			{"/v1/config/signup-policy", `{"items": {"a": "1"}, "surprise": true}`},
			{"/v1/config/signup-policy", `{"items": {"a": "1"}} {}`},
			{"/v1/config/sign%20up", `{"items": {"a": "1"}}`},
			{"/v1/config/a%2F%2Fb", `{"items": {"a": "1"}}`},
		} {
			if st, _ := w.adminRaw(http.MethodPut, c.path, c.body); st != http.StatusBadRequest {
				t.Errorf("PUT %s %s: %d, want 400", c.path, c.body, st)
			}
		}
		w.assertUnchanged(before, "bad config writes")
		if d, err := w.admin.GetConfig(ctx, "signup-policy"); err != nil || d.Version != 1 || d.Items["a"] != "1" || len(d.Items) != 1 {
			t.Fatalf("after bad writes: %+v, %v; want version 1 unchanged", d, err)
		}
	})
}
