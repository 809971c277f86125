package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/benchseed"
	"latchkey/sqlstore/sqlstoretest"
)

// BenchmarkConsoleReservations: the Reservations screen's time at the
// server's door on `latchkey bench seed`'s store (100k principals, 1M
// past sessions over a year, one site of 1000 terminals), with 200
// reservations booked at the site: the admin's day view today and
// yesterday (a full day of the seed's sessions: its list of people and
// their minutes), and a user's. Reported: p50 and p99 in ms. Goal (issue
// 13): p99 < 50 ms. Run:
//
//	LATCHKEY_TEST_POSTGRES=... go test -run '^$' -bench ConsoleReservations -benchtime 200x ./apitest
func BenchmarkConsoleReservations(b *testing.B) {
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			s := seededStore(b, be)
			srv := struct{ URL string }{consoleServer(b, s)}
			tok, err := client.New(srv.URL).Login(ctx, "admin", adminPassword)
			if err != nil {
				b.Fatal(err)
			}
			api := client.New(srv.URL, client.WithToken(tok.Token))
			people, _, err := api.ListPrincipals(ctx, latchkey.Page{Limit: 200})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
			for i, p := range people {
				if _, err := api.CreateReservation(ctx, latchkey.Reservation{Terminal: benchseed.TerminalID(i % 100), Principal: p.ID,
					Start: start.Add(time.Duration(i/100) * 2 * time.Hour), Minutes: 60}); err != nil {
					b.Fatal(err)
				}
			}
			admin := newBrowser(b, srv.URL)
			admin.logOn("admin", adminPassword)
			user := newBrowser(b, srv.URL)
			user.logOn(benchseed.PrincipalName(1), benchseed.Password)
			yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
			for _, pg := range []struct {
				name string
				br   *browser
				path string
			}{
				{"admin/today", admin, "/reservations"},
				{"admin/yesterday", admin, "/reservations?day=" + yesterday},
				{"user/today", user, "/reservations"},
			} {
				timePage(b, pg.br, pg.name, pg.path, "")
			}
		})
	}
}
