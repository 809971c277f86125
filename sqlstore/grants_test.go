package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// appGrants are the grants docs/security.md ("The audit trail") gives the
// role latchkey runs as, for schema %[1]s and role %[2]s: everything it
// needs, and no UPDATE, DELETE or TRUNCATE on the audit table.
const appGrants = `GRANT USAGE ON SCHEMA %[1]s TO %[2]s;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %[1]s TO %[2]s;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %[1]s TO %[2]s;
REVOKE UPDATE, DELETE ON %[1]s.audit FROM %[2]s;
REVOKE INSERT, UPDATE, DELETE ON %[1]s.schema_migrations FROM %[2]s`

// TestPostgresAuditAppendOnly: latchkey runs as a role with the documented
// grants; that role cannot change or remove audit records (no right and
// the trigger), and not even the owner can without first putting the
// trigger out of the way.
func TestPostgresAuditAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerURL := sqlstoretest.PostgresSchemaURL(t)
	u, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	role := "lk_app_" + strings.TrimPrefix(schema, "t_")
	owner, err := sql.Open("pgx", ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	// The owner migrates (the first start, or a start after an upgrade).
	sqlstoretest.Open(t, ownerURL, sqlstoretest.Options(sqlstoretest.NewClock())).Close()
	if _, err := owner.Exec(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'app-secret'", role)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", ownerURL)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP OWNED BY " + role)
		db.Exec("DROP ROLE " + role)
	})
	for _, g := range strings.Split(fmt.Sprintf(appGrants, schema, role), ";\n") {
		if _, err := owner.Exec(g); err != nil {
			t.Fatalf("%s: %v", g, err)
		}
	}

	// latchkey works as the app role: it starts (migrations already
	// applied), bootstraps, serves a login, seals.
	u.User = url.UserPassword(role, "app-secret")
	appURL := u.String()
	clock := sqlstoretest.NewClock()
	s := sqlstoretest.Open(t, appURL, sqlstoretest.Options(clock))
	if _, _, err := s.Bootstrap(ctx, "admin-password"); err != nil {
		t.Fatal(err)
	}
	site, err := s.CreateSite(ctx, admin, latchkey.DefaultSite("s"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := s.RegisterTerminal(ctx, admin, "c", site.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePrincipal(ctx, admin, latchkey.Principal{Name: "alice", Role: latchkey.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddIdentity(ctx, admin, p.ID, "alice", "pw-alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartSession(ctx, latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: tm.ID}, tm.ID,
		latchkey.LoginRequest{Identity: "alice", Password: "pw-alice", TimeSent: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if seal, err := s.SealAuditIfDue(ctx, time.Hour); err != nil || seal == nil {
		t.Fatalf("seal as the app role: %+v %v", seal, err)
	}
	if v, err := s.VerifyAudit(ctx, admin); err != nil || !v.OK || v.Records < 5 {
		t.Fatalf("verify: %+v %v", v, err)
	}

	app, err := sql.Open("pgx", appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	refused := func(db *sql.DB, who, stmt, want string) {
		t.Helper()
		_, err := db.Exec(stmt)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %s: %v; want an error saying %q", who, stmt, err, want)
		}
	}
	for _, stmt := range []string{
		"UPDATE audit SET actor = 'mallory' WHERE seq = 2",
		"DELETE FROM audit WHERE seq = 2",
		"TRUNCATE audit",
		"ALTER TABLE audit DISABLE TRIGGER audit_append_only",
		"DROP TRIGGER audit_append_only ON audit",
		"SET session_replication_role = replica",
	} {
		refused(app, "app role", stmt, "SQLSTATE 42501") // insufficient privilege
	}
	// The rights are not all that stands in the way: the owner is refused
	// by the trigger.
	for _, stmt := range []string{
		"UPDATE audit SET actor = 'mallory' WHERE seq = 2",
		"DELETE FROM audit WHERE seq = 2",
		"TRUNCATE audit",
	} {
		refused(owner, "owner", stmt, "append-only")
	}
	if v, err := s.VerifyAudit(ctx, admin); err != nil || !v.OK {
		t.Fatalf("verify after the refused edits: %+v %v", v, err)
	}
}
