package apitest_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/benchseed"
	"latchkey/sqlstore/sqlstoretest"
)

// BenchmarkConsoleAudit: the Audit screen's time at the server's door on
// the `latchkey bench seed` store (100k principals, 1M sessions), whose
// seed writes no audit records, with an audit log of 1M records added
// (LATCHKEY_BENCH_AUDIT changes the number): a valid chain over the
// seeded people and terminals, a year long, mostly session records, with
// a rare action (lock.force, 1 in 10,000). Each view is a filter a person
// would use; p50 and p99 in ms. Goal (issue 13): p99 < 50 ms. Run:
//
//	LATCHKEY_TEST_POSTGRES=... go test -run '^$' -bench ConsoleAudit -benchtime 200x ./apitest
func BenchmarkConsoleAudit(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("LATCHKEY_BENCH_AUDIT"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			storeURL := be.URL(b)
			s := sqlstoretest.Open(b, storeURL, sqlstoretest.Options(latchkey.SystemClock{}))
			if _, _, err := s.Bootstrap(ctx, adminPassword); err != nil {
				b.Fatal(err)
			}
			if err := benchseed.Seed(ctx, s, 100_000, 1_000_000, nil); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			db := sqlstoretest.RawDB(b, be, storeURL)
			people, span := seedAudit(b, db, be.Name == "postgres", n)
			b.Logf("%s: %d audit records added in %s", be.Name, n, time.Since(start).Round(time.Second))
			br := newBrowser(b, consoleServer(b, s))
			br.logOn("admin", adminPassword)
			mid := span.from.Add(span.to.Sub(span.from) / 2)
			views := []struct{ name, path string }{
				{"newest", "/audit"},
				{"older page", "/audit?before=" + strconv.Itoa(n/2)},
				{"action common", "/audit?action=session.lock"},
				{"action rare", "/audit?action=lock.force"},
				{"actor", "/audit?actor=" + people[7]},
				{"terminal", "/audit?terminal=" + benchseed.TerminalID(7)},
				{"hour", "/audit?from=" + url.QueryEscape(mid.Format(time.RFC3339)) + "&to=" + url.QueryEscape(mid.Add(time.Hour).Format(time.RFC3339))},
				{"since a year", "/audit?from=" + url.QueryEscape(span.from.Format(time.RFC3339))},
				{"terminal and action in a week", "/audit?terminal=" + benchseed.TerminalID(8) + "&action=session.login&from=" +
					url.QueryEscape(mid.Format(time.RFC3339)) + "&to=" + url.QueryEscape(mid.Add(7*24*time.Hour).Format(time.RFC3339))},
			}
			for _, v := range views {
				timePage(b, br, v.name, v.path, "<tr><td>")
			}
		})
	}
}

// auditSpan is the time the added records cover.
type auditSpan struct{ from, to time.Time }

// seedAudit appends n records to the log's chain straight into the table
// (with multi-row INSERTs; the chain and the head stay valid, so verify
// still says whole) and returns the principal IDs used as actors.
func seedAudit(b *testing.B, db *sql.DB, postgres bool, n int) ([]string, auditSpan) {
	b.Helper()
	ctx := context.Background()
	var people []string
	rows, err := db.QueryContext(ctx, "SELECT id FROM principals WHERE role = 'user' ORDER BY id LIMIT 1000")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		people = append(people, id)
	}
	rows.Close()
	var seq int64
	var prev string
	if err := db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &prev); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	span := auditSpan{from: now.Add(-365 * 24 * time.Hour), to: now}
	step := span.to.Sub(span.from) / time.Duration(n)
	actions := []latchkey.Action{latchkey.ActionSessionLogin, latchkey.ActionSessionLock, latchkey.ActionSessionUnlock, latchkey.ActionSessionLogout}
	const perInsert = 500
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var q strings.Builder
	args := make([]any, 0, perInsert*9)
	flush := func() {
		if len(args) == 0 {
			return
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			b.Fatal(err)
		}
		q.Reset()
		args = args[:0]
	}
	for i := 0; i < n; i++ {
		seq++
		r := latchkey.AuditRecord{Seq: seq, At: span.from.Add(time.Duration(i) * step), Actor: people[i%len(people)],
			Terminal: benchseed.TerminalID(i % benchseed.Terminals), Action: actions[i%len(actions)], Target: fmt.Sprintf("ses_bench%09d", i/4)}
		r.Details = []byte(fmt.Sprintf(`{"identity":"seed-%d","reason":"manual"}`, i%len(people)))
		if i%10_000 == 5_000 {
			r.Action, r.Terminal, r.Target, r.Details = latchkey.ActionLockForce, "", "admin/users", []byte(`{"principal":"`+r.Actor+`"}`)
		}
		r.PrevHash = prev
		r.Hash = latchkey.ChainHash(prev, r)
		prev = r.Hash
		if len(args) == 0 {
			q.WriteString("INSERT INTO audit (seq, at, actor, terminal, action, target, details, prev_hash, hash) VALUES ")
		} else {
			q.WriteString(", ")
		}
		q.WriteString("(")
		for c := 0; c < 9; c++ {
			if c > 0 {
				q.WriteString(", ")
			}
			if postgres {
				q.WriteString("$" + strconv.Itoa(len(args)+c+1))
			} else {
				q.WriteString("?")
			}
		}
		q.WriteString(")")
		args = append(args, r.Seq, r.At.UnixMicro(), r.Actor, r.Terminal, string(r.Action), r.Target, string(r.Details), r.PrevHash, r.Hash)
		if len(args) == perInsert*9 {
			flush()
		}
		if (i+1)%100_000 == 0 { // commit in batches
			flush()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	flush()
	head := "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
	if postgres {
		head = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"
	}
	if _, err := tx.ExecContext(ctx, head, seq, prev); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if postgres { // as autovacuum would soon after a bulk load (and as the seed does)
		if _, err := db.ExecContext(ctx, "ANALYZE audit"); err != nil {
			b.Fatal(err)
		}
	}
	return people, span
}
