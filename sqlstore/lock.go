package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"latchkey"
)

var _ latchkey.LockService = (*Store)(nil)

// loadLock locks a lock's row (making it on first use) and loads the lock
// with its queue in arrival order.
func (t *tx) loadLock(name string) (latchkey.Lock, error) {
	l := latchkey.Lock{Name: name}
	var pid, pname, token sql.NullString
	var note string
	var acquired, expires, ttl sql.NullInt64
	var fence int64
	var waiting int64
	var err error
	if t.s.d.singleWriter() {
		// SQLite: the one writer (BEGIN IMMEDIATE) reads the last commit,
		// and nothing else writes before this transaction ends, so a plain
		// read with the holder's name joined is the whole load: no write
		// to lock the row, no second statement. A lock never used reads
		// as free; saveLock makes its row when there is something to keep.
		err = t.queryRow(`SELECT l.fence, l.holder_principal, l.holder_token, l.holder_note, l.acquired_at, l.expires_at,
			l.ttl_us, l.waiting, p.name FROM locks l LEFT JOIN principals p ON p.id = l.holder_principal WHERE l.name = ?`, name).
			Scan(&fence, &pid, &token, &note, &acquired, &expires, &ttl, &waiting, &pname)
		if errors.Is(err, sql.ErrNoRows) {
			return l, nil
		}
	} else {
		// One statement makes or locks the row (ON CONFLICT DO UPDATE
		// locks it as FOR UPDATE would) and reads it, with how many wait.
		// On PostgreSQL only RETURNING sees the row as of the lock: a join
		// or a subquery on locks would read the statement's snapshot,
		// taken before waiting for another transaction's row lock, and
		// could miss what that transaction committed (the linearizability
		// test caught exactly that). The holder's name is joined from
		// principals, as of that snapshot: a holder made after it (made,
		// logged on and granted the lock while this statement waited for
		// it) reads as no name, and is read again on its own.
		err = t.queryRow(`WITH l AS (INSERT INTO locks (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET fence = locks.fence
			RETURNING fence, holder_principal, holder_token, holder_note, acquired_at, expires_at, ttl_us, waiting)
			SELECT l.fence, l.holder_principal, l.holder_token, l.holder_note, l.acquired_at, l.expires_at, l.ttl_us, l.waiting, p.name
			FROM l LEFT JOIN principals p ON p.id = l.holder_principal`, name).
			Scan(&fence, &pid, &token, &note, &acquired, &expires, &ttl, &waiting, &pname)
		if err == nil && pid.Valid && !pname.Valid {
			err = t.queryRow("SELECT name FROM principals WHERE id = ?", pid.String).Scan(&pname)
		}
	}
	if err != nil {
		return l, err
	}
	l.Fence = uint64(fence)
	if token.Valid {
		l.Holder = &latchkey.LockHolder{Principal: pid.String, Name: pname.String, Since: fromUS(acquired.Int64), Note: note,
			ExpiresAt: fromUS(expires.Int64), Token: l.Fence, TokenID: token.String, TTL: time.Duration(ttl.Int64) * time.Microsecond}
	}
	if waiting == 0 {
		return l, nil
	}
	rows, err := t.query(`SELECT w.principal_id, p.name, w.note, w.enqueued_at, w.expires_at, w.ttl_us, w.token
		FROM lock_waiters w JOIN principals p ON p.id = w.principal_id WHERE w.lock_name = ? ORDER BY w.seq`, name)
	if err != nil {
		return l, err
	}
	defer rows.Close()
	for rows.Next() {
		var w latchkey.LockWaiter
		var enq, exp, ttl int64
		if err := rows.Scan(&w.Principal, &w.Name, &w.Note, &enq, &exp, &ttl, &w.TokenID); err != nil {
			return l, err
		}
		w.EnqueuedAt, w.ExpiresAt, w.TTL = fromUS(enq), fromUS(exp), time.Duration(ttl)*time.Microsecond
		l.Queue = append(l.Queue, w)
	}
	return l, rows.Err()
}

// saveLock writes what changed from old to l: the holder and fence, and
// the queue (the rules only drop waiters or add them at the end, so the
// stored arrival order stays right).
func (t *tx) saveLock(old, l latchkey.Lock) error {
	if old.Fence != l.Fence || !sameHolder(old.Holder, l.Holder) || len(old.Queue) != len(l.Queue) {
		var pid, token, acquired, expires, ttl any // NULL while free
		note := ""
		if h := l.Holder; h != nil {
			pid, token, note, acquired, expires, ttl = h.Principal, h.TokenID, h.Note, us(h.Since), us(h.ExpiresAt), h.TTL.Microseconds()
		}
		q := `UPDATE locks SET fence = ?, holder_principal = ?, holder_token = ?, holder_note = ?,
			acquired_at = ?, expires_at = ?, ttl_us = ?, waiting = ? WHERE name = ?`
		if t.s.d.singleWriter() { // the row is made here on first use (see loadLock)
			q = `INSERT INTO locks (fence, holder_principal, holder_token, holder_note, acquired_at, expires_at, ttl_us, waiting, name)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET fence = excluded.fence,
				holder_principal = excluded.holder_principal, holder_token = excluded.holder_token, holder_note = excluded.holder_note,
				acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, ttl_us = excluded.ttl_us, waiting = excluded.waiting`
		}
		if err := t.execLater(q, int64(l.Fence), pid, token, note, acquired, expires, ttl, len(l.Queue), l.Name); err != nil {
			return err
		}
	}
	was := map[string]latchkey.LockWaiter{}
	for _, w := range old.Queue {
		was[w.TokenID] = w
	}
	now := map[string]bool{}
	for _, w := range l.Queue {
		now[w.TokenID] = true
		o, ok := was[w.TokenID]
		switch {
		case !ok:
			if err := t.execLater(`INSERT INTO lock_waiters (lock_name, token, seq, principal_id, note, enqueued_at, expires_at, ttl_us)
				VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM lock_waiters WHERE lock_name = ?), ?, ?, ?, ?, ?)`,
				l.Name, w.TokenID, l.Name, w.Principal, w.Note, us(w.EnqueuedAt), us(w.ExpiresAt), w.TTL.Microseconds()); err != nil {
				return err
			}
		case o != w:
			if err := t.execLater("UPDATE lock_waiters SET note = ?, expires_at = ?, ttl_us = ? WHERE lock_name = ? AND token = ?",
				w.Note, us(w.ExpiresAt), w.TTL.Microseconds(), l.Name, w.TokenID); err != nil {
				return err
			}
		}
	}
	for tok := range was {
		if !now[tok] {
			if err := t.execLater("DELETE FROM lock_waiters WHERE lock_name = ? AND token = ?", l.Name, tok); err != nil {
				return err
			}
		}
	}
	return nil
}

func sameHolder(a, b *latchkey.LockHolder) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// recordLock queues an audit record for each change of lock name.
func (t *tx) recordLock(actor, name string, ch []latchkey.LockChange) {
	for _, c := range ch {
		d := map[string]any{"principal": c.Principal}
		if c.Token != 0 {
			d["token"] = c.Token
		}
		for k, v := range c.Details {
			d[k] = v
		}
		t.record(actor, "", c.Action, name, d)
	}
}

// onLock runs fn on a settled lock and saves and records the outcome.
func (s *Store) onLock(ctx context.Context, actor, name string, fn func(t *tx, l latchkey.Lock) (latchkey.Lock, []latchkey.LockChange, error)) error {
	return s.write(ctx, func(t *tx) error {
		old, err := t.loadLock(name)
		if err != nil {
			return err
		}
		l, ch := latchkey.SettleLock(old, t.now)
		l, more, ferr := fn(t, l)
		if err := t.saveLock(old, l); err != nil {
			return err
		}
		t.recordLock("system", name, ch)
		t.recordLock(actor, name, more)
		if ferr != nil {
			return keep(ferr) // the settling and the refusal's record stand
		}
		return nil
	})
}

func requireLockCaller(c latchkey.Caller, name string) error {
	if err := latchkey.CanUseLocks(c); err != nil {
		return err
	}
	return latchkey.ValidLockName("name", name)
}

// AcquireLock grants, queues or denies a lock.
func (s *Store) AcquireLock(ctx context.Context, c latchkey.Caller, name string, r latchkey.AcquireRequest) (*latchkey.AcquireResult, error) {
	if err := requireLockCaller(c, name); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	ttl := r.TTL()
	var res latchkey.AcquireResult
	err := s.onLock(ctx, c.PrincipalID, name, func(t *tx, l latchkey.Lock) (latchkey.Lock, []latchkey.LockChange, error) {
		pname := c.Name
		if pname == "" { // a caller not from Authenticate
			if err := t.queryRow("SELECT name FROM principals WHERE id = ?", c.PrincipalID).Scan(&pname); err != nil {
				return l, nil, notFound(err, "principal %s not found", c.PrincipalID)
			}
		}
		in := latchkey.AcquireInput{By: latchkey.LockRequester{Principal: c.PrincipalID, Name: pname, TokenID: c.TokenID, Role: c.Role},
			TTL: ttl, Wait: r.Wait, Force: r.Force, Note: r.Note}
		out, err := latchkey.DecideAcquire(l, in, t.now)
		if err != nil {
			return l, []latchkey.LockChange{{Action: latchkey.ActionLockDeny, Principal: c.PrincipalID,
				Details: map[string]any{"code": latchkey.ErrorCode(err), "force": r.Force}}}, err
		}
		if out.Exclusive {
			g := out.Grant
			res = latchkey.AcquireResult{Mode: latchkey.LockExclusive, Token: g.Token, Holder: &g, AcquiredAt: &g.Since, ExpiresAt: &g.ExpiresAt}
		} else {
			h := out.Holder
			res = latchkey.AcquireResult{Mode: latchkey.LockReadOnly, Holder: &h, QueuePosition: out.QueuePosition}
		}
		return out.Lock, out.Changes, nil
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// KeepaliveLock renews the caller's lease.
func (s *Store) KeepaliveLock(ctx context.Context, c latchkey.Caller, name string, token uint64, ttl time.Duration) (time.Time, error) {
	if err := requireLockCaller(c, name); err != nil {
		return time.Time{}, err
	}
	var exp time.Time
	err := s.onLock(ctx, c.PrincipalID, name, func(t *tx, l latchkey.Lock) (latchkey.Lock, []latchkey.LockChange, error) {
		next, err := latchkey.DecideKeepalive(l, c.TokenID, token, ttl, t.now)
		if err != nil {
			return l, nil, err
		}
		exp = next.Holder.ExpiresAt
		return next, nil, nil
	})
	return exp, err
}

// ReleaseLock frees the caller's lock, or its place in the queue.
func (s *Store) ReleaseLock(ctx context.Context, c latchkey.Caller, name string, token uint64, leaveQueue bool) error {
	if err := requireLockCaller(c, name); err != nil {
		return err
	}
	return s.onLock(ctx, c.PrincipalID, name, func(t *tx, l latchkey.Lock) (latchkey.Lock, []latchkey.LockChange, error) {
		var ch []latchkey.LockChange
		if token != 0 {
			l, ch = latchkey.DecideRelease(l, c.TokenID, token, t.now)
		}
		if leaveQueue {
			var left []latchkey.LockChange
			l, left = latchkey.DecideRelease(l, c.TokenID, 0, t.now)
			ch = append(ch, left...)
		}
		return l, ch, nil
	})
}

// GetLock shows one lock, settled first.
func (s *Store) GetLock(ctx context.Context, c latchkey.Caller, name string) (*latchkey.Lock, error) {
	if err := requireLockCaller(c, name); err != nil {
		return nil, err
	}
	var exists int
	// A lock row with fence 0 was only ever asked about (a refused
	// keepalive or release): never acquired.
	if err := s.queryRow(ctx, "SELECT COUNT(*) FROM locks WHERE name = ? AND fence > 0", name).Scan(&exists); err != nil {
		return nil, err
	}
	if exists == 0 {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "lock %s was never acquired", name)
	}
	return s.settledLock(ctx, name)
}

// settledLock loads a lock that exists, applying its due expiries.
func (s *Store) settledLock(ctx context.Context, name string) (*latchkey.Lock, error) {
	var out latchkey.Lock
	err := s.onLock(ctx, "system", name, func(t *tx, l latchkey.Lock) (latchkey.Lock, []latchkey.LockChange, error) {
		out = l
		return l, nil, nil
	})
	return &out, err
}

// ListLocks lists locks by name, each settled.
func (s *Store) ListLocks(ctx context.Context, c latchkey.Caller, p latchkey.Page) ([]latchkey.Lock, error) {
	if err := latchkey.CanUseLocks(c); err != nil {
		return nil, err
	}
	p = p.Normalize()
	names, err := s.queryNames(ctx, "SELECT name FROM locks WHERE name > ? AND fence > 0 ORDER BY name LIMIT ?", p.After, p.Limit)
	if err != nil {
		return nil, err
	}
	out := []latchkey.Lock{}
	for _, n := range names {
		l, err := s.settledLock(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, *l)
	}
	return out, nil
}

// SweepLocks settles every lock whose holder's lease or a waiter's place
// has run out, and says how long until the next one will (0: none).
func (s *Store) SweepLocks(ctx context.Context) (int, time.Duration, error) {
	if err := s.resume(ctx); err != nil {
		return 0, 0, err
	}
	now := us(s.now())
	names, err := s.queryNames(ctx, `SELECT name FROM locks WHERE holder_token IS NOT NULL AND expires_at <= ?
		UNION SELECT lock_name FROM lock_waiters WHERE expires_at <= ?`, now, now)
	if err != nil {
		return 0, 0, err
	}
	for _, n := range names {
		if err := s.onLock(ctx, "system", n, func(t *tx, l latchkey.Lock) (latchkey.Lock, []latchkey.LockChange, error) {
			return l, nil, nil
		}); err != nil {
			return 0, 0, err
		}
	}
	var next sql.NullInt64
	if err := s.queryRow(ctx, `SELECT MIN(e) FROM (SELECT MIN(expires_at) AS e FROM locks WHERE holder_token IS NOT NULL
		UNION ALL SELECT MIN(expires_at) AS e FROM lock_waiters) AS due`).Scan(&next); err != nil {
		return 0, 0, err
	}
	var in time.Duration
	if next.Valid {
		in = max(fromUS(next.Int64).Sub(s.now()), time.Millisecond)
	}
	return len(names), in, nil
}

// queryNames reads a one-column list of strings from the read pool.
func (s *Store) queryNames(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// releaseTokenLocks frees the locks a user token holds and gives up its
// places in queues, in the transaction that revokes the token: a logged
// out holder's lock goes to the next waiter now, not when its lease ends.
func (t *tx) releaseTokenLocks(tokenID, actor string) error {
	rows, err := t.query("SELECT name FROM locks WHERE holder_token = ? UNION SELECT lock_name FROM lock_waiters WHERE token = ?", tokenID, tokenID)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	slices.Sort(names) // one order for every transaction that locks several
	for _, n := range names {
		old, err := t.loadLock(n)
		if err != nil {
			return err
		}
		l, settled := latchkey.SettleLock(old, t.now)
		var ch []latchkey.LockChange
		if h := l.Holder; h != nil && h.TokenID == tokenID {
			l, ch = latchkey.DecideRelease(l, tokenID, h.Token, t.now)
		}
		l, left := latchkey.DecideRelease(l, tokenID, 0, t.now)
		if err := t.saveLock(old, l); err != nil {
			return err
		}
		t.recordLock("system", n, settled)
		t.recordLock(actor, n, append(ch, left...))
	}
	return nil
}

// checkManaged applies latchkey.CheckManaged to an operation that lock
// manages: the lock's row is locked for the rest of the transaction, so
// a grant, force or release cannot slip between the check and the
// operation's commit.
func (t *tx) checkManaged(lock string, c latchkey.Caller) error {
	var n int
	if err := t.queryRow("SELECT COUNT(*) FROM locks WHERE name = ?", lock).Scan(&n); err != nil || n == 0 {
		return err // never acquired: nobody holds it (and the check does not make it exist)
	}
	l, err := t.loadLock(lock)
	if err != nil {
		return err
	}
	l, _ = latchkey.SettleLock(l, t.now)
	return latchkey.CheckManaged(l, c, t.now)
}
