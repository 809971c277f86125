package apitest_test

import (
	"context"
	"errors"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// While an admin holds a dialog's edit lock, the operations that dialog
// manages are refused to everyone else through the API, whatever the
// client, with lock_held naming the holder, and nothing changes; the
// holder makes them under its grant; Change Pwd stays available; once
// the lock is free (or forced away) they work as before. Both stores.
func TestDialogLocksGuardTheirOperations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		carolP := w.person("carol", true, "carol")
		if _, err := w.admin.UpdatePrincipal(ctx, carolP.ID, latchkey.PrincipalUpdate{Role: client.Ptr(latchkey.RoleAdmin)}); err != nil {
			t.Fatal(err)
		}
		carol := w.userClient("carol") // a second admin
		held, err := w.admin.AcquireLock(ctx, latchkey.LockAdminUsers, latchkey.AcquireRequest{Note: "new counter staff"})
		if err != nil || held.Mode != latchkey.LockExclusive {
			t.Fatalf("acquire: %+v, %v", held, err)
		}
		before, _, _ := w.admin.ListPrincipals(ctx, latchkey.Page{Limit: 100})
		refused := func(what string, err error) {
			t.Helper()
			wantCode(t, err, latchkey.ELOCKHELD)
			var e *latchkey.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: %v", what, err)
			}
			if h, _ := e.Details["holder"].(map[string]any); h["name"] != "admin" || h["note"] != "new counter staff" || e.Details["lock"] != latchkey.LockAdminUsers {
				t.Fatalf("%s: details %v, want the holder and the lock", what, e.Details)
			}
		}
		_, err = carol.CreatePrincipal(ctx, latchkey.Principal{Name: "erin", Role: latchkey.RoleUser})
		refused("create a principal", err)
		_, err = carol.UpdatePrincipal(ctx, w.bob.ID, latchkey.PrincipalUpdate{Disabled: client.Ptr(true)})
		refused("disable a principal", err)
		_, err = carol.AddIdentity(ctx, w.bob.ID, "bob2", pw("bob2"))
		refused("add an identity", err)
		refused("allow offline logon", carol.SetOfflineLogon(ctx, w.bob.ID, true))
		_, err = carol.CreatePrincipal(client.UnderLock(ctx, held.Token), latchkey.Principal{Name: "erin", Role: latchkey.RoleUser})
		refused("create with the holder's token number", err)
		_, err = w.admin.CreatePrincipal(ctx, latchkey.Principal{Name: "erin", Role: latchkey.RoleUser})
		refused("the holder without its token", err)
		if after, _, _ := w.admin.ListPrincipals(ctx, latchkey.Page{Limit: 100}); len(after) != len(before) {
			t.Fatalf("%d principals after the refusals, %d before", len(after), len(before))
		}
		if p, _ := w.admin.GetPrincipal(ctx, w.bob.ID); p.Disabled {
			t.Fatal("bob was disabled by a refused call")
		}
		// Change Pwd for one account needs no lock: one's own, or a reset
		// by staff.
		if err := carol.ChangePassword(ctx, "carol", pw("carol"), "carol-new-password-1"); err != nil {
			t.Fatalf("own password: %v", err)
		}
		if err := carol.ChangePassword(ctx, "bob", "", "bob-new-password-1"); err != nil {
			t.Fatalf("a reset by staff: %v", err)
		}
		// The holder, under its grant.
		under := client.UnderLock(ctx, held.Token)
		erin, err := w.admin.CreatePrincipal(under, latchkey.Principal{Name: "erin", Role: latchkey.RoleUser})
		if err != nil {
			t.Fatalf("the holder creates: %v", err)
		}
		if _, err := w.admin.AddIdentity(under, erin.ID, "erin", pw("erin")); err != nil {
			t.Fatalf("the holder adds an identity: %v", err)
		}
		// Forced away: the old grant is refused, the new holder's works.
		forced, err := carol.AcquireLock(ctx, latchkey.LockAdminUsers, latchkey.AcquireRequest{Force: true, Note: "urgent"})
		if err != nil || forced.Mode != latchkey.LockExclusive {
			t.Fatalf("force: %+v, %v", forced, err)
		}
		_, err = w.admin.UpdatePrincipal(under, erin.ID, latchkey.PrincipalUpdate{Disabled: client.Ptr(true)})
		wantCode(t, err, latchkey.ELOCKHELD)
		if _, err := carol.UpdatePrincipal(client.UnderLock(ctx, forced.Token), erin.ID, latchkey.PrincipalUpdate{Disabled: client.Ptr(true)}); err != nil {
			t.Fatalf("the new holder: %v", err)
		}
		// Released: as if nothing managed them.
		if err := carol.ReleaseLock(ctx, latchkey.LockAdminUsers, forced.Token, false); err != nil {
			t.Fatal(err)
		}
		if _, err := w.admin.CreatePrincipal(ctx, latchkey.Principal{Name: "fay", Role: latchkey.RoleUser}); err != nil {
			t.Fatalf("with the lock free: %v", err)
		}

		// Signup Policy: sites' standalone, quota and reservation
		// settings; the rest of a site is not managed.
		sig, err := w.admin.AcquireLock(ctx, latchkey.LockAdminSignup, latchkey.AcquireRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = carol.UpdateSite(ctx, w.site.ID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: client.Ptr(90)}})
		wantCode(t, err, latchkey.ELOCKHELD)
		_, err = carol.UpdateSite(ctx, w.site.ID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{AllowStandalone: client.Ptr(true)}})
		wantCode(t, err, latchkey.ELOCKHELD)
		if s, err := carol.UpdateSite(ctx, w.site.ID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{InactivityLockMinutes: client.Ptr(7)}}); err != nil || s.DailyQuotaMinutes == 90 {
			t.Fatalf("an unmanaged site setting: %+v, %v", s, err)
		}
		if s, err := w.admin.UpdateSite(client.UnderLock(ctx, sig.Token), w.site.ID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: client.Ptr(90)}}); err != nil || s.DailyQuotaMinutes != 90 {
			t.Fatalf("the holder's quota: %+v, %v", s, err)
		}
	})
}
