package agent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"latchkey"
	"latchkey/private"
)

// Journal is the agent's durable record (a SQLite file in its state
// directory, synced on every commit): the instructions it executed with
// the reply it made, and the memberships it applied with their
// generation and end (removed ones are kept, so that their generation is
// never applied again); for the terminal gateway also its sessions and
// their upload state, the cached policy, the offline failed-attempt
// counters and the trusted clock's anchor (journal_sessions.go).
type Journal struct {
	db *sql.DB
}

// Executed is a journalled instruction's reply.
type Executed struct {
	Result latchkey.ReplyResult
	Detail string
}

// OpenJournal opens (creating) the journal in dir.
func OpenJournal(dir string) (*Journal, error) {
	// The state directory 0700 and the journal's files 0600, whatever
	// they were: the journal holds the policy's offline verifiers.
	if err := private.Dir(dir); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	path := filepath.Join(dir, "journal.db")
	if err := private.Create(path); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := private.Files(private.SQLite(path)...); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS executed (
			id TEXT PRIMARY KEY, kind TEXT NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL, at INTEGER NOT NULL);
		CREATE TABLE IF NOT EXISTS memberships (
			grp TEXT NOT NULL, login TEXT NOT NULL, generation INTEGER NOT NULL, ends_at INTEGER NOT NULL,
			removed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (grp, login));` + gatewaySchema + eventsSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	if err := private.Files(private.SQLite(path)...); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Journal{db: db}, nil
}

// Close closes the journal.
func (j *Journal) Close() error { return j.db.Close() }

// Lookup returns the reply recorded for an instruction already executed.
func (j *Journal) Lookup(ctx context.Context, id string) (*Executed, error) {
	var e Executed
	err := j.db.QueryRowContext(ctx, "SELECT result, detail FROM executed WHERE id = ?", id).Scan(&e.Result, &e.Detail)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &e, err
}

// Memberships returns the memberships the agent has applied.
func (j *Journal) Memberships(ctx context.Context) (map[latchkey.MemberKey]latchkey.Membership, error) {
	rows, err := j.db.QueryContext(ctx, "SELECT grp, login, generation, ends_at, removed FROM memberships")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[latchkey.MemberKey]latchkey.Membership{}
	for rows.Next() {
		var k latchkey.MemberKey
		var gen, ends int64
		var removed bool
		if err := rows.Scan(&k.Group, &k.Login, &gen, &ends, &removed); err != nil {
			return nil, err
		}
		m[k] = latchkey.Membership{Generation: uint64(gen), EndsAt: time.UnixMicro(ends).UTC(), Removed: removed}
	}
	return m, rows.Err()
}

// Record stores, in one synced transaction, the memberships as they are
// now and (when id is not "") the instruction executed with its reply.
func (j *Journal) Record(ctx context.Context, id string, kind latchkey.InstructionKind, e Executed, m map[latchkey.MemberKey]latchkey.Membership, now time.Time) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM memberships"); err != nil {
		return err
	}
	for k, v := range m {
		if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (grp, login, generation, ends_at, removed) VALUES (?, ?, ?, ?, ?)",
			k.Group, k.Login, int64(v.Generation), v.EndsAt.UnixMicro(), v.Removed); err != nil {
			return err
		}
	}
	if id != "" {
		if _, err := tx.ExecContext(ctx, "INSERT INTO executed (id, kind, result, detail, at) VALUES (?, ?, ?, ?, ?)",
			id, kind, e.Result, e.Detail, now.UnixMicro()); err != nil {
			return err
		}
	}
	return tx.Commit()
}
