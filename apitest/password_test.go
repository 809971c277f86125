package apitest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// staffMember creates a principal with role and one identity named login
// (password pw(login)), logs it on, and returns it with its client.
func (w *world) staffMember(login string, role latchkey.Role) (*latchkey.Principal, *client.Client) {
	w.t.Helper()
	ctx := context.Background()
	p, err := w.admin.CreatePrincipal(ctx, latchkey.Principal{Name: login, Role: role})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.admin.AddIdentity(ctx, p.ID, login, pw(login)); err != nil {
		w.t.Fatal(err)
	}
	return p, w.logOn(login, pw(login))
}

// logOn logs identity on with password and returns a client with its token.
func (w *world) logOn(identity, password string) *client.Client {
	w.t.Helper()
	tok, err := client.New(w.url).Login(context.Background(), identity, password)
	if err != nil {
		w.t.Fatalf("log on %s: %v", identity, err)
	}
	return client.New(w.url, client.WithToken(tok.Token))
}

// works reports whether c's token is still accepted.
func works(t *testing.T, c *client.Client) bool {
	t.Helper()
	_, _, err := c.ListSites(context.Background(), latchkey.Page{})
	switch latchkey.ErrorCode(err) {
	case "":
		return true
	case latchkey.EUNAUTHENTICATED:
		return false
	}
	t.Fatalf("list sites: %v", err)
	return false
}

// Hole 1: a delegate could set an admin's password without the old one
// and then log on as the admin. Only an admin sets an admin's password;
// staff reset only people below them; everyone gives the old password
// for their own.
func TestPasswordResetFollowsRoles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 0)
		_, deleg := w.staffMember("deleg", latchkey.RoleDelegate)
		_, deleg2 := w.staffMember("deleg2", latchkey.RoleDelegate)
		w.staffMember("admin2", latchkey.RoleAdmin)

		// The escalation: refused, and the admin's password is unchanged.
		wantCode(t, deleg.ChangePassword(ctx, "admin", "", "delegate-owns-you"), latchkey.EFORBIDDEN)
		if _, err := client.New(w.url).Login(ctx, "admin", "delegate-owns-you"); latchkey.ErrorCode(err) != latchkey.EINVALIDCREDENTIALS {
			t.Fatalf("log on as admin with the delegate's password: %v, want invalid_credentials", err)
		}
		w.logOn("admin", adminPassword)
		// Nor another delegate's.
		wantCode(t, deleg.ChangePassword(ctx, "deleg2", "", "new-password-1"), latchkey.EFORBIDDEN)
		works(t, deleg2)
		// A delegate resets a user's without the old one.
		if err := deleg.ChangePassword(ctx, "alice", "", "reset-by-deleg"); err != nil {
			t.Fatalf("delegate resets a user: %v", err)
		}
		w.logOn("alice", "reset-by-deleg")
		// An admin resets a delegate's and another admin's.
		if err := w.admin.ChangePassword(ctx, "deleg2", "", "reset-by-admin"); err != nil {
			t.Fatalf("admin resets a delegate: %v", err)
		}
		if err := w.admin.ChangePassword(ctx, "admin2", "", "reset-by-admin"); err != nil {
			t.Fatalf("admin resets another admin: %v", err)
		}
		// Staff changing their own password give the old one.
		err := deleg.ChangePassword(ctx, "deleg", "", "my-new-password")
		wantCode(t, err, latchkey.EBADREQUEST)
		if f := latchkey.ErrorDetails(err)["field"]; f != "old_password" {
			t.Fatalf("details.field = %v, want old_password", f)
		}
		wantCode(t, w.admin.ChangePassword(ctx, "admin", "wrong-old-password", "my-new-password"), latchkey.EINVALIDCREDENTIALS)
		if err := w.admin.ChangePassword(ctx, "admin", adminPassword, "my-new-password"); err != nil {
			t.Fatalf("admin changes own password with the old one: %v", err)
		}
		w.logOn("admin", "my-new-password")
	})
}

// Hole 6 (enumeration): a user learns nothing about other logins from
// the password route: someone else's and a missing one answer the same.
func TestPasswordRouteDoesNotTellLoginsApart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		alice := w.logOn("alice", "pw-alice")
		body := `{"old_password":"whatever-1","new_password":"new-password-1"}`
		st1, b1 := w.rawAs(alice.Token(), "POST", "/v1/identities/bob/password", body)
		st2, b2 := w.rawAs(alice.Token(), "POST", "/v1/identities/nobody-here/password", body)
		if st1 != http.StatusForbidden || st1 != st2 || b1 != b2 {
			t.Fatalf("other's login: %d %s; missing login: %d %s; want the same 403", st1, b1, st2, b2)
		}
		// Staff may tell them apart: they can list principals anyway.
		st, _ := w.adminRaw("POST", "/v1/identities/nobody-here/password", body)
		if st != http.StatusNotFound {
			t.Fatalf("admin, missing login: %d, want 404", st)
		}
	})
}

// Hole 2: a password change or reset revokes the principal's other user
// tokens; the caller's own current token survives its own change.
func TestPasswordChangeRevokesTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 0)
		a1 := w.logOn("alice", "pw-alice")
		a2 := w.logOn("alice2", "pw-alice2") // the same person, another identity
		a3 := w.logOn("alice", "pw-alice")
		if err := a1.ChangePassword(ctx, "alice", "pw-alice", "alice-new-pw"); err != nil {
			t.Fatal(err)
		}
		if !works(t, a1) {
			t.Fatal("the token that changed its own password stopped working")
		}
		if works(t, a2) || works(t, a3) {
			t.Fatal("alice's other tokens still work after her password change")
		}
		a4 := w.logOn("alice", "alice-new-pw")
		if err := w.admin.ChangePassword(ctx, "alice", "", "alice-reset-pw"); err != nil {
			t.Fatal(err)
		}
		if works(t, a1) || works(t, a4) {
			t.Fatal("alice's tokens still work after a reset")
		}
		if !works(t, w.admin) {
			t.Fatal("the admin's token stopped working after resetting someone else's password")
		}
	})
}

// Hole 2: POST /v1/principals/{id}/revoke-tokens, by admins for anyone and
// by delegates for non-admins; the revoked tokens' locks are freed.
func TestRevokeTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 0)
		dp, deleg := w.staffMember("deleg", latchkey.RoleDelegate)
		ap, admin2 := w.staffMember("admin2", latchkey.RoleAdmin)
		alice := w.logOn("alice", "pw-alice")

		wantCode(t, alice.RevokeTokens(ctx, w.bob.ID), latchkey.EFORBIDDEN)
		wantCode(t, deleg.RevokeTokens(ctx, ap.ID), latchkey.EFORBIDDEN)
		if !works(t, admin2) {
			t.Fatal("a refused revocation revoked")
		}
		wantCode(t, w.admin.RevokeTokens(ctx, "prn_missing"), latchkey.ENOTFOUND)

		if err := deleg.RevokeTokens(ctx, w.alice.ID); err != nil {
			t.Fatalf("delegate revokes a user's tokens: %v", err)
		}
		if works(t, alice) {
			t.Fatal("alice's token works after revoke-tokens")
		}

		// The delegate holds a lock; revoking its tokens frees it at once.
		if _, err := deleg.AcquireLock(ctx, "admin/users", latchkey.AcquireRequest{}); err != nil {
			t.Fatal(err)
		}
		if err := w.admin.RevokeTokens(ctx, dp.ID); err != nil {
			t.Fatalf("admin revokes a delegate's tokens: %v", err)
		}
		if works(t, deleg) {
			t.Fatal("the delegate's token works after revoke-tokens")
		}
		l, err := w.admin.GetLock(ctx, "admin/users")
		if err != nil {
			t.Fatal(err)
		}
		if l.Holder != nil {
			t.Fatalf("the revoked token still holds admin/users: %+v", l.Holder)
		}
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "auth.revoke_tokens", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 {
			t.Fatalf("%d auth.revoke_tokens records, want 2", len(recs))
		}
	})
}

// Hole 3: a terminal's token can be rotated; the old one stops at once.
func TestRotateTerminalToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 2)
		term := w.terms[0].ID
		alice := w.logOn("alice", "pw-alice")
		if _, err := alice.RotateTerminalToken(ctx, term); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("user rotates: %v, want forbidden", err)
		}
		if _, err := w.tc[0].RotateTerminalToken(ctx, term); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("terminal rotates its own: %v, want forbidden", err)
		}
		wantCode(t, func() error { _, err := w.admin.RotateTerminalToken(ctx, "term_missing"); return err }(), latchkey.ENOTFOUND)

		_, deleg := w.staffMember("deleg", latchkey.RoleDelegate)
		tok, err := deleg.RotateTerminalToken(ctx, term)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, "lkt_") || tok == w.terms[0].Token {
			t.Fatalf("new token %q", tok)
		}
		if _, err := w.tc[0].GetTerminal(ctx, term); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Fatalf("old token after rotation: %v, want unauthenticated", err)
		}
		nc := client.New(w.url, client.WithToken(tok))
		if _, err := nc.GetTerminal(ctx, term); err != nil {
			t.Fatalf("new token: %v", err)
		}
		if _, err := nc.StartSession(ctx, term, latchkey.LoginRequest{Identity: "alice", Password: "pw-alice", TimeSent: w.clock.Now()}); err != nil {
			t.Fatalf("log on with the new token: %v", err)
		}
		if _, err := w.tc[1].GetTerminal(ctx, w.terms[1].ID); err != nil {
			t.Fatalf("another terminal's token stopped working: %v", err)
		}
		// The answer carries a secret shown once: it cannot be replayed.
		req, _ := http.NewRequest("POST", w.url+"/v1/terminals/"+term+"/token", nil)
		req.Header.Set("Authorization", "Bearer "+w.admin.Token())
		req.Header.Set("Idempotency-Key", "k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("rotate with Idempotency-Key: %d, want 400", resp.StatusCode)
		}
		if _, err := nc.GetTerminal(ctx, term); err != nil {
			t.Fatalf("a refused rotation changed the token: %v", err)
		}
	})
}
