package apitest_test

import (
	"context"
	"strings"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/passhash"
	"latchkey/sqlstore/sqlstoretest"
)

// TestNewPasswordRules is hole 9's password half: a password being set (a
// new identity, a change, a reset) has at least 8 characters and is not
// one of the most common passwords; a refusal names the field and changes
// nothing; and a short password set before the rule still logs on.
func TestNewPasswordRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 1)
		for _, weak := range []string{"short", "pw-bob", "password", "Password1", "QWERTYUIOP", "12345678"} {
			_, err := w.admin.AddIdentity(ctx, w.bob.ID, "bob-weak", weak)
			wantCode(t, err, latchkey.EBADREQUEST)
			if f := latchkey.ErrorDetails(err)["field"]; f != "password" {
				t.Fatalf("add identity with %q: field %v", weak, f)
			}
			err = w.admin.ChangePassword(ctx, "bob", "", weak)
			wantCode(t, err, latchkey.EBADREQUEST)
			if f := latchkey.ErrorDetails(err)["field"]; f != "new_password" {
				t.Fatalf("reset to %q: field %v", weak, f)
			}
		}
		if _, err := client.New(w.url).Login(ctx, "bob-weak", "short"); latchkey.ErrorCode(err) != latchkey.EINVALIDCREDENTIALS {
			t.Fatalf("a refused identity exists: %v", err)
		}
		bobTok, err := client.New(w.url).Login(ctx, "bob", pw("bob"))
		if err != nil {
			t.Fatalf("bob's password changed on a refusal: %v", err)
		}
		bob := client.New(w.url, client.WithToken(bobTok.Token))
		wantCode(t, bob.ChangePassword(ctx, "bob", pw("bob"), "iloveyou"), latchkey.EBADREQUEST)
		if err := bob.ChangePassword(ctx, "bob", pw("bob"), "bob's new passphrase"); err != nil {
			t.Fatalf("a good new password: %v", err)
		}
		if _, err := w.admin.AddIdentity(ctx, w.bob.ID, "bob-ok", "eight-ch"); err != nil {
			t.Fatalf("an 8-character password: %v", err)
		}

		// A short password from before the rule: logging on only checks it.
		hash, err := passhash.Test.Hash("old")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.openRawDB().Exec(rebindFor(w.storeURL, "UPDATE identities SET password_hash = ? WHERE login = ?"), hash, "alice2"); err != nil {
			t.Fatal(err)
		}
		if _, err := client.New(w.url).Login(ctx, "alice2", "old"); err != nil {
			t.Fatalf("a short password set before the rule no longer logs on: %v", err)
		}
		if _, err := w.tc[0].StartSession(ctx, w.terms[0].ID, latchkey.LoginRequest{Identity: "alice2", Password: "old", TimeSent: w.clock.Now()}); err != nil {
			t.Fatalf("terminal logon with an old short password: %v", err)
		}
	})
}

// rebindFor turns ? placeholders into PostgreSQL's $n for a postgres URL.
func rebindFor(storeURL, q string) string {
	if strings.HasPrefix(storeURL, "sqlite") {
		return q
	}
	var out strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			out.WriteString("$" + string(rune('0'+n)))
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}
