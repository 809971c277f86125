package sqlstoretest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"latchkey"
)

// Tamper runs stmts on the store at url the way an attacker who can write
// the database would: as the database's owner, with the triggers that keep
// the audit table append-only out of the way (PostgreSQL: a superuser's
// session_replication_role = replica for this transaction; SQLite: the
// triggers dropped and put back around the statements). Tests use it to
// check that what the triggers cannot stop, the seals catch.
func Tamper(t testing.TB, url string, stmts ...string) {
	t.Helper()
	asOwner(t, url, func(tx *sql.Tx, _ func(string) string) {
		for _, s := range stmts {
			if _, err := tx.Exec(s); err != nil {
				t.Fatalf("tamper: %s: %v", s, err)
			}
		}
	})
}

// RewriteAudit is the rewrite the seals exist for: it changes record seq
// with edit, then recomputes the hash and link of it and every later
// record and the head, so the chain verifies again on its own.
func RewriteAudit(t testing.TB, url string, seq int64, edit func(r *latchkey.AuditRecord)) {
	t.Helper()
	asOwner(t, url, func(tx *sql.Tx, bind func(string) string) {
		rows, err := tx.Query(bind("SELECT seq, at, actor, terminal, action, target, details, prev_hash FROM audit WHERE seq >= ? ORDER BY seq"), seq)
		if err != nil {
			t.Fatal(err)
		}
		var recs []latchkey.AuditRecord
		for rows.Next() {
			var r latchkey.AuditRecord
			var at int64
			var details string
			if err := rows.Scan(&r.Seq, &at, &r.Actor, &r.Terminal, &r.Action, &r.Target, &details, &r.PrevHash); err != nil {
				t.Fatal(err)
			}
			r.At, r.Details = time.UnixMicro(at).UTC(), []byte(details)
			recs = append(recs, r)
		}
		rows.Close()
		if len(recs) == 0 || recs[0].Seq != seq {
			t.Fatalf("rewrite: no audit record %d", seq)
		}
		edit(&recs[0])
		prev := recs[0].PrevHash
		for _, r := range recs {
			r.PrevHash = prev
			r.Hash = latchkey.ChainHash(prev, r)
			if _, err := tx.Exec(bind("UPDATE audit SET at = ?, actor = ?, terminal = ?, action = ?, target = ?, details = ?, prev_hash = ?, hash = ? WHERE seq = ?"),
				r.At.UnixMicro(), r.Actor, r.Terminal, r.Action, r.Target, string(r.Details), r.PrevHash, r.Hash, r.Seq); err != nil {
				t.Fatal(err)
			}
			prev = r.Hash
		}
		if _, err := tx.Exec(bind("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), recs[len(recs)-1].Seq, prev); err != nil {
			t.Fatal(err)
		}
	})
}

// TruncateAudit deletes every record after seq keep and sets the head to
// the new end, so the shortened chain verifies on its own.
func TruncateAudit(t testing.TB, url string, keep int64) {
	t.Helper()
	asOwner(t, url, func(tx *sql.Tx, bind func(string) string) {
		hash := latchkey.GenesisHash
		if keep > 0 {
			if err := tx.QueryRow(bind("SELECT hash FROM audit WHERE seq = ?"), keep).Scan(&hash); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(bind("DELETE FROM audit WHERE seq > ?"), keep); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(bind("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), keep, hash); err != nil {
			t.Fatal(err)
		}
	})
}

// asOwner runs fn in one transaction on the database at url with the
// audit triggers out of the way; bind turns ? placeholders into the
// dialect's.
func asOwner(t testing.TB, url string, fn func(tx *sql.Tx, bind func(string) string)) {
	t.Helper()
	ctx := context.Background()
	var db *sql.DB
	var err error
	sqlite := strings.HasPrefix(url, "sqlite:")
	if sqlite {
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", url)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var triggers []string
	if sqlite {
		rows, err := tx.Query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var name, def string
			if err := rows.Scan(&name, &def); err != nil {
				t.Fatal(err)
			}
			names, triggers = append(names, name), append(triggers, def)
		}
		rows.Close()
		for _, n := range names {
			if _, err := tx.Exec("DROP TRIGGER " + n); err != nil {
				t.Fatal(err)
			}
		}
	} else if _, err := tx.Exec("SET LOCAL session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	bind := func(q string) string { return q }
	if !sqlite {
		bind = func(q string) string {
			var b strings.Builder
			n := 0
			for _, c := range q {
				if c == '?' {
					n++
					fmt.Fprintf(&b, "$%d", n)
					continue
				}
				b.WriteRune(c)
			}
			return b.String()
		}
	}
	fn(tx, bind)
	for _, def := range triggers {
		if _, err := tx.Exec(def); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
