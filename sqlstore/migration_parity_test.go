package sqlstore

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// dialectLines are the SQL lines (comments and white space aside) in
// which the SQLite and PostgreSQL migration of a file may differ, each
// side's set with the reason. Any other difference fails the test: a
// change made to one dialect only, or a migration added to one only.
var dialectLines = []struct {
	file             string
	sqlite, postgres []string
	why              string
}{
	{
		file:     "001_init.sql",
		sqlite:   []string{"seq INTEGER PRIMARY KEY AUTOINCREMENT,", "body BLOB,"},
		postgres: []string{"seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,", "body BYTEA,"},
		why:      "the audit sequence and a byte column are spelt differently",
	},
	{
		file: "013_audit_append_only.sql",
		sqlite: []string{
			"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE on audit refused'); END;",
			"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE on audit refused'); END;",
		},
		postgres: []string{
			"CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit records are append-only: % on audit refused', TG_OP USING ERRCODE = 'insufficient_privilege'; END $$;",
			"CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();",
			"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();",
		},
		why: "triggers are written differently, and only PostgreSQL has TRUNCATE",
	},
	{
		file:   "030_people_search.sql",
		sqlite: []string{"CREATE INDEX principals_search_name ON principals (lower(name));"},
		postgres: []string{
			`CREATE INDEX principals_search_name ON principals ((translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"));`,
			`CREATE INDEX identities_search_login ON identities ((login COLLATE "C"));`,
		},
		why: "SQLite's lower() folds A-Z only, PostgreSQL's more, so PostgreSQL folds A-Z with translate(); both compare in byte order, which PostgreSQL says with COLLATE \"C\" (SQLite's login primary key already is)",
	},
	{
		file:     "033_audit_pending.sql",
		sqlite:   []string{"id INTEGER PRIMARY KEY AUTOINCREMENT,"},
		postgres: []string{"id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"},
		why:      "the pending batches' sequence is spelt differently, as terminal_events'",
	},
}

// sqlLines are a migration's statements line by line, comments dropped
// and white space folded.
func sqlLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := fs.ReadFile(migrations, path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, "--"); i >= 0 && !strings.Contains(l[:i], "'") {
			l = l[:i]
		}
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// minus is the lines of a not in b (as many times as they are more in a).
func minus(a, b []string) []string {
	left := slices.Clone(b)
	var out []string
	for _, l := range a {
		if i := slices.Index(left, l); i >= 0 {
			left = slices.Delete(left, i, i+1)
		} else {
			out = append(out, l)
		}
	}
	return out
}

func TestMigrationParity(t *testing.T) {
	names := func(dir string) []string {
		es, err := fs.ReadDir(migrations, "migrations/"+dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	lite, pg := names("sqlite"), names("postgres")
	if !slices.Equal(lite, pg) {
		t.Fatalf("the dialects have different migrations:\n sqlite   %v\n postgres %v", lite, pg)
	}
	for _, f := range lite {
		var allowLite, allowPG []string
		for _, d := range dialectLines {
			if d.file == f {
				allowLite, allowPG = d.sqlite, d.postgres
			}
		}
		l, p := sqlLines(t, "migrations/sqlite/"+f), sqlLines(t, "migrations/postgres/"+f)
		onlyLite, onlyPG := minus(l, p), minus(p, l)
		if !slices.Equal(onlyLite, allowLite) || !slices.Equal(onlyPG, allowPG) {
			t.Errorf("%s: the dialects differ beyond the allowed lines:\n only in sqlite:   %q\n only in postgres: %q", f, onlyLite, onlyPG)
		}
	}
}
