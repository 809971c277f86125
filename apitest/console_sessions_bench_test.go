package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/benchseed"
	"latchkey/sqlstore/sqlstoretest"
)

// BenchmarkConsoleSessionsBoard: the sessions board's pages at the
// server's door on `latchkey bench seed`'s store (100k principals, 1000
// terminals, 1M past sessions), with 300 people logged on: 100 of them
// locked, and 100 forced off one terminal onto another (so 100 terminals
// show failed). Reported: p50 and p99 in ms. Goal (issue 13): p99 < 50
// ms. Run:
//
//	LATCHKEY_TEST_POSTGRES=... go test -run '^$' -bench ConsoleSessionsBoard -benchtime 300x ./apitest
func BenchmarkConsoleSessionsBoard(b *testing.B) {
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			s := seededStore(b, be)
			logOn := func(term, person int, force bool) latchkey.Session {
				id := benchseed.TerminalID(term)
				r, err := s.StartSession(ctx, latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: id}, id,
					latchkey.LoginRequest{Identity: benchseed.PrincipalName(person), Password: benchseed.Password, Force: force, TimeSent: time.Now()})
				if err != nil {
					b.Fatalf("log on %d at %d: %v", person, term, err)
				}
				return r.Session
			}
			var person string
			for i := 0; i < 300; i++ {
				ses := logOn(i, i, false)
				switch {
				case i < 100: // locked
					id := benchseed.TerminalID(i)
					if _, err := s.LockSession(ctx, latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: id}, ses.ID,
						latchkey.LockRequest{TimeSent: time.Now(), Reason: "manual"}); err != nil {
						b.Fatal(err)
					}
				case i < 200: // forced off terminal i onto terminal 300+i: i shows failed
					logOn(300+i, i, true)
					person = ses.PrincipalID
				}
			}
			br := newBrowser(b, consoleServer(b, s))
			br.logOn("admin", adminPassword)
			for _, path := range []string{"/sessions", "/sessions/rows", "/sessions?state=failed", "/sessions?state=free",
				"/sessions?q=seed-150", "/sessions?q=counter+999", "/people/" + person} {
				timePage(b, br, path, path, "")
			}
		})
	}
}
