package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/passhash"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// A policy holds at most OfflineCap verifiers: admins first, then the
// people with a reservation at the terminal, then the most recent users.
func TestAgentPolicyCap(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoreOptions(clock, 3))
		site, err := s.CreateSite(ctx, admin, latchkey.DefaultSite("capped"))
		if err != nil {
			t.Fatal(err)
		}
		term, err := s.RegisterTerminal(ctx, admin, "pc", site.ID)
		if err != nil {
			t.Fatal(err)
		}
		tc := latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: term.ID}
		mk := func(name string, role latchkey.Role) *latchkey.Principal {
			p, err := s.CreatePrincipal(ctx, admin, latchkey.Principal{Name: name, Role: role})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddIdentity(ctx, admin, p.ID, name, pw(name)); err != nil {
				t.Fatal(err)
			}
			return p
		}
		mk("boss", latchkey.RoleAdmin)
		reserved := mk("reserved", latchkey.RoleUser)
		// Four users log on one after the other: the latest are the most recent.
		for _, n := range []string{"u1", "u2", "u3", "u4"} {
			mk(n, latchkey.RoleUser)
			r, err := s.StartSession(ctx, tc, term.ID, latchkey.LoginRequest{Identity: n, Password: pw(n), TimeSent: clock.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.EndSession(ctx, tc, r.Session.ID); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
		}
		if _, err := s.CreateReservation(ctx, admin, latchkey.Reservation{Terminal: term.ID, Principal: reserved.ID, Start: clock.Now().Add(time.Hour), Minutes: 30}); err != nil {
			t.Fatal(err)
		}
		p, err := s.AgentPolicy(ctx, tc)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range p.Verifiers {
			got = append(got, v.Login)
		}
		if len(got) != 3 || got[0] != "boss" || got[1] != "reserved" || got[2] != "u4" {
			t.Fatalf("verifiers %v, want [boss reserved u4]: admin, reserved, most recent", got)
		}
	})
}

func sqlstoreOptions(clock latchkey.Clock, offlineCap int) sqlstore.Options {
	o := sqlstoretest.Options(clock)
	o.Password, o.OfflineCap = passhash.Test, offlineCap
	return o
}
