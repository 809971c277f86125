package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrations embed.FS

// migrate applies the embedded migrations not yet applied, each in its own
// transaction. On PostgreSQL an advisory lock keeps nodes that start at
// once from migrating twice.
func (s *Store) migrate(ctx context.Context) error {
	dir := "migrations/" + s.d.name()
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	// Create the table only when it is missing: on PostgreSQL even CREATE
	// TABLE IF NOT EXISTS needs the right to create in the schema, which the
	// role latchkey runs as should not have (docs/security.md).
	var one int
	if err := s.w.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&one); err != nil {
		if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return err
		}
	}
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		body, err := fs.ReadFile(migrations, dir+"/"+e.Name())
		if err != nil {
			return err
		}
		if err := s.applyMigration(ctx, v, e.Name(), string(body)); err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, version int, name, body string) error {
	t, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer t.Rollback()
	if lock := s.d.advisoryLock(7420001); lock != "" {
		if _, err := t.ExecContext(ctx, lock); err != nil {
			return err
		}
	}
	var n int
	if err := t.QueryRowContext(ctx, s.d.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range splitSQL(body) {
		if _, err := t.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w in: %.80s", err, stmt)
		}
	}
	if _, err := t.ExecContext(ctx, s.d.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		version, name, us(s.now())); err != nil {
		return err
	}
	return t.Commit()
}

// splitSQL splits a migration into statements at semicolons that end a
// line, dropping comment-only lines.
func splitSQL(body string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}
