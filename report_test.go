package latchkey_test

import (
	"strings"
	"testing"
	"time"

	"latchkey"
)

func TestReportRows(t *testing.T) {
	at := func(m int) time.Time { return tt0.Add(time.Duration(m) * time.Minute) }
	end := func(m int) *time.Time { x := at(m); return &x }
	names := map[string]string{"s1": "High Street", "s2": "Airport", "p1": "ann", "p2": "bob"}
	rows := latchkey.ReportRows([]latchkey.ReportSession{
		{Site: "s1", Principal: "p1", StartedAt: at(0), EndedAt: end(30)},
		{Site: "s1", Principal: "p1", StartedAt: at(60), EndedAt: end(75)},
		{Site: "s1", Principal: "p2", StartedAt: at(0), EndedAt: nil}, // running: up to now
		{Site: "s2", Principal: "p1", StartedAt: at(10), EndedAt: end(10)},
	}, []latchkey.ReportCheckout{{Site: "s1", Principal: "p2"}, {Site: "s1", Principal: "p2"}, {Site: "s2", Principal: "p2"}}, names, at(90))
	got := string(latchkey.ReportCSV(rows))
	want := strings.Join([]string{
		"site,site_name,principal,name,sessions,minutes,checkouts",
		"s2,Airport,p1,ann,1,0,0",
		"s2,Airport,p2,bob,0,0,1",
		"s1,High Street,p1,ann,2,45,0",
		"s1,High Street,p2,bob,1,90,2",
		"",
	}, "\n")
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestReportRange(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	from, _ := time.Parse(latchkey.TaskDateLayout, "2026-11-01")
	to, _ := time.Parse(latchkey.TaskDateLayout, "2026-11-02")
	lo, hi := latchkey.ReportRange(from, to, oslo)
	if lo.Format(time.RFC3339) != "2026-10-31T23:00:00Z" || hi.Format(time.RFC3339) != "2026-11-02T23:00:00Z" {
		t.Fatalf("%s to %s", lo, hi)
	}
}

func TestHourlySessions(t *testing.T) {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	got := latchkey.HourlySessions([]latchkey.ReportSession{
		{Site: "s1", StartedAt: time.Date(2026, 12, 4, 8, 30, 0, 0, time.UTC)}, // 09:30 in Oslo
		{Site: "s1", StartedAt: time.Date(2026, 12, 4, 8, 59, 0, 0, time.UTC)},
		{Site: "s2", StartedAt: time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)}, // UTC: hour 23
	}, map[string]*time.Location{"s1": oslo})
	if got["s1"][9] != 2 || got["s2"][23] != 1 || got["s1"][8] != 0 {
		t.Fatalf("%v", got)
	}
}
