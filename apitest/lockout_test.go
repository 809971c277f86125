package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	lkhttp "latchkey/http"
	"latchkey/sqlstore/sqlstoretest"
)

// lockedUntil returns details.until of an account_locked error.
func lockedUntil(t *testing.T, err error) time.Time {
	t.Helper()
	wantCode(t, err, latchkey.EACCOUNTLOCKED)
	s, _ := latchkey.ErrorDetails(err)["until"].(string)
	u, perr := time.Parse(time.RFC3339, s)
	if perr != nil {
		t.Fatalf("details.until %q: %v", s, perr)
	}
	return u
}

// Hole 6: five bad guesses lock a user out for 15 minutes, but an admin
// (or delegate) only for a second, doubling per further failure up to a
// minute: nobody can lock the admin out for 15 minutes with 5 guesses.
func TestStaffLockoutBacksOff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 0)
		// The login throttle runs on the test's clock too, so the minutes
		// this test skips let it forget the failures as they would.
		anon := client.New(serveNode(t, w.store, lkhttp.Options{Now: w.clock.Now}))
		guess := func(identity string) error {
			_, err := anon.Login(ctx, identity, "a-wrong-guess")
			return err
		}
		for i := 0; i < 4; i++ {
			wantCode(t, guess("admin"), latchkey.EINVALIDCREDENTIALS)
			wantCode(t, guess("alice"), latchkey.EINVALIDCREDENTIALS)
		}
		now := w.clock.Now()
		if u := lockedUntil(t, guess("admin")); u.Sub(now) > 2*time.Second {
			t.Fatalf("the admin is locked until %v, %v from now; want about a second", u, u.Sub(now))
		}
		if u := lockedUntil(t, guess("alice")); u.Sub(now) < 14*time.Minute {
			t.Fatalf("alice is locked until %v, only %v from now; want 15 minutes", u, u.Sub(now))
		}
		// While locked, even the right password is refused.
		if _, err := anon.Login(ctx, "admin", adminPassword); latchkey.ErrorCode(err) != latchkey.EACCOUNTLOCKED {
			t.Fatalf("admin while locked: %v", err)
		}
		// Each further failure after a lapse doubles the wait.
		want := time.Second
		for i := 0; i < 8; i++ {
			w.clock.Advance(2 * time.Minute)
			want = min(2*want, time.Minute)
			now := w.clock.Now()
			if got := lockedUntil(t, guess("admin")).Sub(now); got < want-time.Second || got > want+time.Second {
				t.Fatalf("failure %d after a lapse: locked for %v, want %v", i+1, got, want)
			}
		}
		w.clock.Advance(2 * time.Minute)
		if _, err := anon.Login(ctx, "admin", adminPassword); err != nil {
			t.Fatalf("admin after the lock lapsed: %v", err)
		}
		// The count starts afresh after a success: the fifth failure is 1 s again.
		for i := 0; i < 4; i++ {
			wantCode(t, guess("admin"), latchkey.EINVALIDCREDENTIALS)
		}
		now = w.clock.Now()
		if u := lockedUntil(t, guess("admin")); u.Sub(now) > 2*time.Second {
			t.Fatalf("after a success, the fifth failure locks until %v", u)
		}
	})
}
