package benchseed_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/benchseed"
	"latchkey/sqlstore/sqlstoretest"
)

func TestSeed(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		clock := sqlstoretest.NewClock()
		url := b.URL(t)
		s := sqlstoretest.Open(t, url, sqlstoretest.Options(clock))
		const principals, sessions = 50, 500
		var progress bytes.Buffer
		if err := benchseed.Seed(ctx, s, principals, sessions, &progress); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(progress.String(), "done") {
			t.Errorf("progress does not say it is done:\n%s", progress.String())
		}

		ps, next, err := s.ListPrincipals(ctx, admin, latchkey.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != principals || next != "" {
			t.Fatalf("%d principals (next %q), want %d", len(ps), next, principals)
		}
		names := map[string]bool{}
		for _, p := range ps {
			if p.Role != latchkey.RoleUser || p.Global || p.Disabled || !p.CreatedAt.Equal(clock.Now()) {
				t.Errorf("seeded principal %+v: want a plain enabled user created now", p)
			}
			names[p.Name] = true
		}
		for i := 0; i < principals; i++ {
			if !names[benchseed.PrincipalName(i)] {
				t.Errorf("no principal %s", benchseed.PrincipalName(i))
			}
		}

		terms, _, err := s.ListTerminals(ctx, admin, latchkey.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(terms) != benchseed.Terminals {
			t.Fatalf("%d terminals, want %d", len(terms), benchseed.Terminals)
		}
		sites, _, err := s.ListSites(ctx, admin, latchkey.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(sites) != 1 || sites[0].Name != benchseed.SiteName || terms[0].SiteID != sites[0].ID {
			t.Fatalf("sites %+v, want one named %q holding the terminals", sites, benchseed.SiteName)
		}
		// The site row holds the API's defaults, every column of them.
		want := latchkey.DefaultSite(benchseed.SiteName)
		want.ID, want.CreatedAt = sites[0].ID, sites[0].CreatedAt
		if sites[0] != want || !sites[0].CreatedAt.Equal(clock.Now()) {
			t.Fatalf("seeded site %+v, want %+v created now (%s)", sites[0], want, clock.Now())
		}

		// Sessions are checked in the tables: ListPrincipalSessions is the
		// API's view, but the seed is about what the rows hold.
		now := clock.Now()
		db := sqlstoretest.RawDB(t, b, url)
		var total, bad, principalsUsed, terminalsUsed int
		if err := db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT principal_id), COUNT(DISTINCT terminal_id) FROM sessions`).
			Scan(&total, &principalsUsed, &terminalsUsed); err != nil {
			t.Fatal(err)
		}
		if total != sessions {
			t.Fatalf("%d seeded sessions, want %d", total, sessions)
		}
		if principalsUsed < principals/2 || terminalsUsed < sessions/4 {
			t.Errorf("sessions spread over %d principals and %d terminals: want them spread", principalsUsed, terminalsUsed)
		}
		nowUS := now.UnixMicro()
		yearAgo := now.Add(-366 * 24 * time.Hour).UnixMicro()
		if err := db.QueryRow(`SELECT COUNT(*) FROM sessions s JOIN principals p ON p.id = s.principal_id
			JOIN identities i ON i.login = s.identity AND i.principal_id = p.id
			JOIN terminals t ON t.id = s.terminal_id AND t.site_id = s.site_id
			WHERE s.status = 'ended' AND s.end_reason = 'logout' AND s.locked_at IS NULL
			AND s.standalone = FALSE AND s.exempt = FALSE
			AND s.started_at > ` + strconv.FormatInt(yearAgo, 10) + ` AND s.started_at < s.ended_at
			AND s.last_activity_at >= s.started_at AND s.last_activity_at <= s.ended_at
			AND s.ended_at < ` + strconv.FormatInt(nowUS, 10)).Scan(&bad); err != nil {
			t.Fatal(err)
		}
		if bad != sessions {
			t.Fatalf("only %d of %d seeded sessions are ended by logout, never locked, under their principal's identity "+
				"at a seeded terminal, with started <= last activity <= ended < now", bad, sessions)
		}
		audit, err := s.ListAudit(ctx, admin, latchkey.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != 0 {
			t.Fatalf("seeding wrote %d audit records, want none", len(audit))
		}

		// The shared hash works, and seeded people can log on anew.
		tok, err := s.Login(ctx, benchseed.PrincipalName(7), benchseed.Password)
		if err != nil {
			t.Fatalf("login as a seeded identity: %v", err)
		}
		if tok.Principal.Name != benchseed.PrincipalName(7) {
			t.Fatalf("logged on as %+v", tok.Principal)
		}
		if _, err := s.Login(ctx, benchseed.PrincipalName(8), "wrong"); latchkey.ErrorCode(err) != latchkey.EINVALIDCREDENTIALS {
			t.Fatalf("wrong password: %v, want invalid_credentials", err)
		}
		term := benchseed.TerminalID(3)
		res, err := s.StartSession(ctx, latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: term}, term,
			latchkey.LoginRequest{Identity: benchseed.PrincipalName(9), Password: benchseed.Password, TimeSent: now})
		if err != nil {
			t.Fatalf("a seeded person logs on at a seeded terminal: %v", err)
		}
		if res.Session.Status != latchkey.SessionActive || len(res.Failed) != 0 {
			t.Fatalf("login result %+v: want a new active session failing nothing", res)
		}

		if err := benchseed.Seed(ctx, s, 1, 0, nil); err == nil || !strings.Contains(err.Error(), "seeded before") {
			t.Fatalf("second seed: %v, want a refusal", err)
		}
	})
}

func TestSeedBadInput(t *testing.T) {
	t.Parallel()
	s := sqlstoretest.Open(t, sqlstoretest.SQLite().URL(t), sqlstoretest.Options(sqlstoretest.NewClock()))
	ctx := context.Background()
	for _, c := range []struct{ principals, sessions int }{{-1, 0}, {0, -1}, {0, 10}, {benchseed.MaxPrincipals + 1, 0}} {
		if err := benchseed.Seed(ctx, s, c.principals, c.sessions, nil); err == nil {
			t.Errorf("Seed(%d, %d) succeeded", c.principals, c.sessions)
		}
	}
	ps, _, err := s.ListPrincipals(ctx, admin, latchkey.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 {
		t.Fatalf("refused seeds left %d principals", len(ps))
	}
}

var admin = latchkey.Caller{Role: latchkey.RoleAdmin, PrincipalID: "prn_test_admin"}
