package agent

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"latchkey"
)

func snapshot(t *testing.T, key ed25519.PrivateKey, now time.Time, secondsLeft int64) *latchkey.QuotaSnapshot {
	t.Helper()
	start, end := latchkey.QuotaDay(now, time.UTC)
	s := &latchkey.QuotaSnapshot{Terminal: "ter_1", IssuedAt: now, ValidUntil: now.Add(2 * time.Hour), DayStart: start,
		DayEnd: end, DailyMinutes: 60, Entries: []latchkey.QuotaEntry{{Principal: "pri_a", SecondsLeft: secondsLeft}}}
	if err := s.Sign(key); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSnapshotQuotaOffline(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) {
		s.DailyQuotaMinutes = 60
		s.StandaloneQuotas = latchkey.StandaloneQuotasSnapshot
	})
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	f.policy.QuotaSnapshot = snapshot(t, f.key, fc.Real(), 600)
	g, _ := testGateway(t, f, t.TempDir())
	g.Sync(bg)
	f.setDown(true)
	st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	if st.Session.Limit != latchkey.LimitQuota || *st.MinutesLeft != 10 {
		t.Fatalf("with 10 min left: %+v", st.Session)
	}
	fc.Advance(4 * time.Minute)
	mustStatus(t)(g.Logout(bg))
	st = mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	if *st.MinutesLeft != 6 {
		t.Fatalf("after 4 min offline: %d min left", *st.MinutesLeft)
	}
	fc.Advance(6 * time.Minute)
	g.Tick(bg)
	if _, err := g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}); codeOf(err) != latchkey.EQUOTAEXCEEDED ||
		latchkey.ErrorDetails(err)["reset_at"] == nil {
		t.Fatalf("quota used up: %v", err)
	}

	// A snapshot under another key than the pinned server key is dropped
	// (the policy around it verifies): the full daily quota less today's
	// use applies.
	_, other, _ := ed25519.GenerateKey(nil)
	f.mu.Lock()
	f.policy.QuotaSnapshot = snapshot(t, other, fc.Real(), 3600)
	f.mu.Unlock()
	f.setDown(false)
	g.Sync(bg)
	if g.cachedPolicy().QuotaSnapshot != nil {
		t.Fatal("a snapshot under an unpinned key was kept")
	}
	f.setDown(true)
	st = mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	if *st.MinutesLeft != 50 {
		t.Fatalf("without a snapshot: %d min left, want 60 - 10", *st.MinutesLeft)
	}
}

func TestPasswordsNeverReachTheDisk(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.StandaloneAuth = latchkey.StandaloneAuthAny })
	dir := t.TempDir()
	g, j := testGateway(t, f, dir)
	g.Sync(bg)
	f.setDown(true)
	const secret = "correct-horse-battery-staple"
	mustStatus(t)(g.Login(bg, LoginRequest{Identity: "zed", Password: secret}))
	g.saveClock(bg, true)
	j.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("%s holds the password", p)
		}
	}
	// After a restart the password is gone: the entry goes without it.
	g, _ = testGateway(t, f, dir)
	f.setDown(false)
	g.Sync(bg)
	for _, ups := range f.entries {
		if ups[0].Password != "" {
			t.Fatalf("entry %+v sent a password it cannot have", ups[0])
		}
	}
}
