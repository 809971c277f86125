package agent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"latchkey"
)

// gatewaySchema holds the terminal gateway's tables:
//
//   - gw_sessions: every session the gateway ran, online or offline, with
//     what the server has been told of it: its sessionState, kept in the
//     columns known, pending (its entry must be uploaded), end_on_server
//     and ack (open | ended | rejected once acknowledged), which encoded
//     it before the type did (stateColumns);
//   - gw_state: small JSON documents by key (policy, pinned server key,
//     clock anchor and high-water mark, mode);
//   - gw_failures: offline failed-attempt counters by login.
const gatewaySchema = `
CREATE TABLE IF NOT EXISTS gw_sessions (
	id TEXT PRIMARY KEY,
	identity TEXT NOT NULL,
	principal TEXT NOT NULL,
	role TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	start_boot INTEGER NOT NULL,
	boot_id TEXT NOT NULL,
	ends_at INTEGER NOT NULL,
	warn_at INTEGER NOT NULL,
	lim TEXT NOT NULL,
	end_on_server INTEGER NOT NULL,
	locked_at INTEGER,
	lock_reason TEXT NOT NULL,
	server_locked INTEGER NOT NULL,
	standalone INTEGER NOT NULL,
	known INTEGER NOT NULL,
	verified INTEGER NOT NULL,
	reservation TEXT NOT NULL,
	ended_at INTEGER,
	end_reason TEXT NOT NULL,
	pending INTEGER NOT NULL,
	ack TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS gw_sessions_open ON gw_sessions (ended_at);
CREATE TABLE IF NOT EXISTS gw_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gw_failures (
	login TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_until INTEGER NOT NULL);`

// gwSession is one session the gateway runs or ran at this terminal.
type gwSession struct {
	ID        string // the server's session ID; an offline one's entry ID, kept by the server
	Identity  string
	Principal string // "" when unknown (an offline logon with auth any)
	Role      latchkey.Role
	StartedAt time.Time
	// StartBoot and BootID are the boottime reading at the start: the
	// session's length is measured on it.
	StartBoot time.Duration
	BootID    string
	// EndsAt and WarnAt are its limit and the Time Critical Warning (zero:
	// none); Limit names the limit (or a verdict's reason).
	EndsAt, WarnAt time.Time
	Limit          string
	// State is where it stands with the server (session_state.go): it
	// moves only by next.
	State sessionState
	// Lock is the terminal's lock (session_state.go): it moves only by
	// nextLock. It is not part of State, since a session in any state in
	// progress can be locked or not, the server told or not (and an ended
	// one keeps its lock for the upload). LockedAt is when it was locked:
	// nil exactly when Lock is unlocked.
	Lock       lockState
	LockedAt   *time.Time
	LockReason string
	// Standalone (started offline: an entry of the journal upload) and
	// Verified (its password was checked) are facts of the logon, set
	// once and never changed: data the entry carries, not state.
	Standalone  bool
	Verified    bool
	Reservation string
	// EndedAt is when it ended (nil while in progress: State.ended() is
	// false) and EndReason why.
	EndedAt   *time.Time
	EndReason string
}

const sessionColumns = `id, identity, principal, role, started_at, start_boot, boot_id, ends_at, warn_at, lim,
	end_on_server, locked_at, lock_reason, server_locked, standalone, known, verified, reservation, ended_at,
	end_reason, pending, ack`

// saveSession stores s (inserting or replacing it) in one synced commit.
func (j *Journal) saveSession(ctx context.Context, s *gwSession) error {
	c := s.State.columns()
	_, err := j.db.ExecContext(ctx, `INSERT OR REPLACE INTO gw_sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Identity, s.Principal, string(s.Role), micros(s.StartedAt), int64(s.StartBoot), s.BootID,
		micros(s.EndsAt), micros(s.WarnAt), s.Limit, c.EndOnServer, nullMicros(s.LockedAt), s.LockReason,
		s.Lock == lockedOnServer, s.Standalone, c.Known, s.Verified, s.Reservation, nullMicros(s.EndedAt), s.EndReason,
		c.Pending, c.Ack)
	return err
}

// openSession returns the session in progress (not ended), or nil.
func (j *Journal) openSession(ctx context.Context) (*gwSession, error) {
	ss, err := j.sessions(ctx, "WHERE ended_at IS NULL ORDER BY started_at DESC LIMIT 1")
	if err != nil || len(ss) == 0 {
		return nil, err
	}
	return &ss[0], nil
}

// pendingSessions returns the sessions whose entry must be uploaded,
// oldest first.
func (j *Journal) pendingSessions(ctx context.Context) ([]gwSession, error) {
	return j.sessions(ctx, "WHERE pending = 1 ORDER BY started_at, id")
}

// pendingCount counts the sessions whose entry must be uploaded.
func (j *Journal) pendingCount(ctx context.Context) (int, error) {
	var n int
	err := j.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM gw_sessions WHERE pending = 1").Scan(&n)
	return n, err
}

// personSessions returns the spans (start, end; zero end while in
// progress) of a person's sessions at this terminal that did not end
// before from. A person is their principal when
// known, else their identity.
func (j *Journal) personSessions(ctx context.Context, principal, identity string, from time.Time) ([][2]time.Time, error) {
	q := "SELECT started_at, ended_at FROM gw_sessions WHERE (ended_at IS NULL OR ended_at >= ?) AND "
	arg := principal
	if principal != "" {
		q += "principal = ?"
	} else {
		q += "identity = ? AND principal = ''"
		arg = identity
	}
	rows, err := j.db.QueryContext(ctx, q, micros(from), arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]time.Time
	for rows.Next() {
		var start int64
		var end sql.NullInt64
		if err := rows.Scan(&start, &end); err != nil {
			return nil, err
		}
		span := [2]time.Time{fromMicros(start)}
		if end.Valid {
			span[1] = fromMicros(end.Int64)
		}
		out = append(out, span)
	}
	return out, rows.Err()
}

// pruneSessions deletes ended, acknowledged sessions that ended before
// before (they no longer count towards any quota day).
func (j *Journal) pruneSessions(ctx context.Context, before time.Time) error {
	_, err := j.db.ExecContext(ctx, "DELETE FROM gw_sessions WHERE pending = 0 AND ended_at IS NOT NULL AND ended_at < ?", micros(before))
	return err
}

func (j *Journal) sessions(ctx context.Context, where string) ([]gwSession, error) {
	rows, err := j.db.QueryContext(ctx, "SELECT "+sessionColumns+" FROM gw_sessions "+where)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []gwSession
	for rows.Next() {
		var s gwSession
		var c stateColumns
		var serverLocked bool
		var role string
		var started, boot, ends, warn int64
		var locked, ended sql.NullInt64
		if err := rows.Scan(&s.ID, &s.Identity, &s.Principal, &role, &started, &boot, &s.BootID, &ends, &warn,
			&s.Limit, &c.EndOnServer, &locked, &s.LockReason, &serverLocked, &s.Standalone, &c.Known, &s.Verified,
			&s.Reservation, &ended, &s.EndReason, &c.Pending, &c.Ack); err != nil {
			return nil, err
		}
		s.Role, s.StartedAt, s.StartBoot = latchkey.Role(role), fromMicros(started), time.Duration(boot)
		s.EndsAt, s.WarnAt = zeroMicros(ends), zeroMicros(warn)
		s.LockedAt, s.EndedAt = ptrMicros(locked), ptrMicros(ended)
		s.State, s.Lock = stateOf(c, ended.Valid), lockOf(locked.Valid, serverLocked)
		out = append(out, s)
	}
	return out, rows.Err()
}

// getState decodes the JSON document stored under key into v; found is
// false when there is none.
func (j *Journal) getState(ctx context.Context, key string, v any) (found bool, err error) {
	var s string
	err = j.db.QueryRowContext(ctx, "SELECT value FROM gw_state WHERE key = ?", key).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal([]byte(s), v)
}

// putState stores v as JSON under key, in one synced commit.
func (j *Journal) putState(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = j.db.ExecContext(ctx, "INSERT OR REPLACE INTO gw_state (key, value) VALUES (?, ?)", key, string(b))
	return err
}

// failures returns a login's offline failed-attempt count and lock-out.
func (j *Journal) failures(ctx context.Context, login string) (int, time.Time, error) {
	var n int
	var until int64
	err := j.db.QueryRowContext(ctx, "SELECT failures, locked_until FROM gw_failures WHERE login = ?", login).Scan(&n, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return n, zeroMicros(until), err
}

// saveFailures stores a login's offline failed-attempt count and lock-out.
func (j *Journal) saveFailures(ctx context.Context, login string, n int, until time.Time) error {
	_, err := j.db.ExecContext(ctx, "INSERT OR REPLACE INTO gw_failures (login, failures, locked_until) VALUES (?, ?, ?)",
		login, n, micros(until))
	return err
}

// micros stores a time as microseconds since the epoch (0 for the zero time).
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func zeroMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicros(v)
}

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func ptrMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}
