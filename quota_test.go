package latchkey_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"latchkey"
)

func TestQuotaUsed(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no tzdata")
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, loc)
	start, end := latchkey.QuotaDay(now, loc)
	if !start.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, loc)) || end.Sub(start) != 24*time.Hour {
		t.Fatalf("day %s – %s", start, end)
	}
	sessions := [][2]time.Time{
		{start.Add(-30 * time.Minute), start.Add(30 * time.Minute)}, // across midnight: 30 minutes count
		{start.Add(2 * time.Hour), start.Add(3 * time.Hour)},        // 60
		{now.Add(-15 * time.Minute), {}},                            // running: 15 so far
		{end.Add(time.Hour), end.Add(2 * time.Hour)},                // another day
	}
	if got := latchkey.QuotaUsed(sessions, start, end, now); got != 105*time.Minute {
		t.Fatalf("used %s, want 1h45m", got)
	}
}

func TestQuotaSnapshotSignature(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	q := latchkey.QuotaSnapshot{Terminal: "trm_1", IssuedAt: day.Add(9 * time.Hour), ValidUntil: day.Add(24 * time.Hour),
		DayStart: day, DayEnd: day.Add(24 * time.Hour), DailyMinutes: 60,
		Entries: []latchkey.QuotaEntry{{Principal: "prn_a", SecondsLeft: 600}}}
	if err := q.Sign(key); err != nil {
		t.Fatal(err)
	}
	if err := q.Verify(""); err != nil {
		t.Fatalf("fresh snapshot: %v", err)
	}
	if err := q.Verify(q.PublicKey); err != nil {
		t.Fatalf("pinned key: %v", err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	forged := q
	forged.Entries = []latchkey.QuotaEntry{{Principal: "prn_a", SecondsLeft: 6000}}
	resigned := forged
	if err := resigned.Sign(other); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]latchkey.QuotaSnapshot{
		"more minutes, old signature": forged,
		"re-signed with another key":  resigned,
		"later validity": func() latchkey.QuotaSnapshot {
			x := q
			x.ValidUntil = x.ValidUntil.Add(time.Hour)
			return x
		}(),
		"no signature": func() latchkey.QuotaSnapshot { x := q; x.Signature = ""; return x }(),
	} {
		if err := s.Verify(q.PublicKey); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	// A round trip through another time zone's representation verifies.
	rt := q
	rt.IssuedAt = rt.IssuedAt.In(time.FixedZone("x", 3600))
	if err := rt.Verify(q.PublicKey); err != nil {
		t.Errorf("same instants in another zone: %v", err)
	}
}

func TestOfflineQuotaLeft(t *testing.T) {
	day := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	snap := &latchkey.QuotaSnapshot{IssuedAt: day.Add(9 * time.Hour), ValidUntil: day.Add(24 * time.Hour),
		DayStart: day, DayEnd: day.Add(24 * time.Hour), DailyMinutes: 60,
		Entries: []latchkey.QuotaEntry{{Principal: "prn_a", SecondsLeft: 600}}}
	// usedSince: 5 offline minutes at 10:00 and 3 at 08:00 (before the snapshot).
	used := func(since time.Time) time.Duration {
		var d time.Duration
		if !day.Add(10 * time.Hour).Before(since) {
			d += 5 * time.Minute
		}
		if !day.Add(8 * time.Hour).Before(since) {
			d += 3 * time.Minute
		}
		return d
	}
	m := func(x time.Duration) *time.Duration { return &x }
	base := latchkey.OfflineQuotaInput{Mode: "snapshot", DailyMinutes: 60, Principal: "prn_a", Role: latchkey.RoleUser,
		Snapshot: snap, DayStart: day, DayEnd: day.Add(24 * time.Hour), Now: day.Add(11 * time.Hour), UsedSince: used}
	for _, c := range []struct {
		name string
		edit func(*latchkey.OfflineQuotaInput)
		want *time.Duration
	}{
		{"snapshot: its minutes less offline use since it was issued", func(*latchkey.OfflineQuotaInput) {}, m(5 * time.Minute)},
		{"off: the seed's behaviour, no quota", func(i *latchkey.OfflineQuotaInput) { i.Mode = "off" }, nil},
		{"no daily quota", func(i *latchkey.OfflineQuotaInput) { i.DailyMinutes = 0 }, nil},
		{"admins are exempt", func(i *latchkey.OfflineQuotaInput) { i.Role = latchkey.RoleAdmin }, nil},
		{"delegates are exempt", func(i *latchkey.OfflineQuotaInput) { i.Role = latchkey.RoleDelegate }, nil},
		{"a person not in the snapshot: the full quota less offline use since it", func(i *latchkey.OfflineQuotaInput) { i.Principal = "prn_b" }, m(55 * time.Minute)},
		{"an unknown person (auth any)", func(i *latchkey.OfflineQuotaInput) { i.Principal = "" }, m(55 * time.Minute)},
		{"no snapshot: full quota less all offline use today", func(i *latchkey.OfflineQuotaInput) { i.Snapshot = nil }, m(52 * time.Minute)},
		{"expired snapshot: as none", func(i *latchkey.OfflineQuotaInput) {
			s := *snap
			s.ValidUntil = day.Add(10 * time.Hour)
			i.Snapshot = &s
		}, m(52 * time.Minute)},
		{"next day: a fresh quota", func(i *latchkey.OfflineQuotaInput) {
			i.DayStart, i.DayEnd, i.Now = day.Add(24*time.Hour), day.Add(48*time.Hour), day.Add(30*time.Hour)
			i.UsedSince = func(time.Time) time.Duration { return 0 }
		}, m(60 * time.Minute)},
		{"used up: negative", func(i *latchkey.OfflineQuotaInput) {
			s := *snap
			s.Entries = []latchkey.QuotaEntry{{Principal: "prn_a", SecondsLeft: 60}}
			i.Snapshot = &s
		}, m(-4 * time.Minute)},
	} {
		in := base
		c.edit(&in)
		got := latchkey.OfflineQuotaLeft(in)
		if (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
			t.Errorf("%s: got %v, want %v", c.name, fmtDur(got), fmtDur(c.want))
		}
	}
}

func fmtDur(d *time.Duration) string {
	if d == nil {
		return "none"
	}
	return d.String()
}
