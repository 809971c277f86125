package agent

import (
	"bytes"
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
	if st.Session.Limit != string(latchkey.LimitQuota) || *st.MinutesLeft != 10 {
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

// A password from standalone_auth any lives in the agent's memory only
// until the server acknowledges the entry it went with: it is on no file
// of the state directory (the journal open, its WAL included) and in no
// log line; it is sent again while the upload is unanswered, and never
// after the acknowledgement.
func TestAnyPasswordKeptOnlyUntilAcknowledged(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.StandaloneAuth = latchkey.StandaloneAuthAny })
	const secret = "tr0ub4dor-and-3-more-words"
	f.addPerson("zed", "pri_z", secret, latchkey.RoleUser, false)
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	logs := &syncBuffer{}
	g, err := OpenGateway(bg, GatewayOptions{Client: f.client(), Journal: j, Clock: f.clock,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), CallTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g.Sync(bg)
	f.setDown(true)
	st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "zed", Password: secret}))
	id := st.Session.ID
	stateHasNoSecret := func(when string) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(files) == 0 {
			t.Fatal("no state files to look at")
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Fatalf("%s: %s holds the password", when, p)
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("%s: the log holds the password", when)
		}
	}
	stateHasNoSecret("logged on offline")
	if g.passwords[id] != secret {
		t.Fatal("the password is not kept for the upload")
	}

	// Back online, the upload's answer is lost: not acknowledged, so the
	// password is kept and goes again with the next upload.
	f.mu.Lock()
	f.dropJournal = 1
	f.mu.Unlock()
	f.setDown(false)
	g.Sync(bg)
	if ups := f.uploads(id); len(ups) != 1 || ups[0].Password != secret || g.passwords[id] != secret {
		t.Fatalf("after a lost answer: uploads %+v, kept %v", ups, g.passwords[id] != "")
	}
	g.Sync(bg)
	ups := f.uploads(id)
	if len(ups) != 2 || ups[1].Password != secret {
		t.Fatalf("the upload after the lost answer: %+v", ups)
	}
	if _, kept := g.passwords[id]; kept {
		t.Fatal("the password is kept after the server acknowledged the entry")
	}
	stateHasNoSecret("acknowledged")

	// The session ends offline; its end goes up without the password.
	f.setDown(true)
	g.Sync(bg)
	mustStatus(t)(g.Logout(bg))
	f.setDown(false)
	g.Sync(bg)
	if len(f.uploads(id)) < 3 {
		t.Fatalf("the end was not uploaded: %+v", f.uploads(id))
	}
	for i, e := range f.uploads(id)[2:] {
		if e.Password != "" {
			t.Fatalf("upload %d after the acknowledgement carries the password", i+3)
		}
	}
	stateHasNoSecret("ended")
}
