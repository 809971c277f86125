package sqlstoretest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// Tamper runs stmts on the store at url the way an attacker who can write
// the database would: as the database's owner, with the triggers that keep
// the audit table append-only out of the way (PostgreSQL: a superuser's
// session_replication_role = replica for this transaction; SQLite: the
// triggers dropped and put back around the statements). Tests use it to
// check that what the triggers cannot stop, the seals catch.
func Tamper(t testing.TB, url string, stmts ...string) {
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
	for _, s := range stmts {
		if _, err := tx.Exec(s); err != nil {
			t.Fatalf("tamper: %s: %v", s, err)
		}
	}
	for _, def := range triggers {
		if _, err := tx.Exec(def); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
