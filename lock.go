package latchkey

import (
	"context"
	"strings"
	"time"
)

// Exclusive edit locks (API.md "Exclusive edit locks and atomic
// configuration"; seeds/exclusive-edit-locks.txt). A lock is held by one
// user token at a time under a lease; every grant takes the next fencing
// token of the lock, so tokens only grow; waiters queue in arrival order
// and are granted the lock the moment it is released, broken or expires.
//
// The functions below are the rules, over plain values. The store loads a
// lock, applies one of them and writes the result and its changes (each
// an audit record and an event) in one transaction.

// Lock lease bounds and the default.
const (
	DefaultLockTTL = 60 * time.Second
	MinLockTTL     = 1 * time.Second
	MaxLockTTL     = 24 * time.Hour
	MaxLockNameLen = 200
	MaxLockNoteLen = 500
)

// LockHolder is who holds a lock and under which grant.
type LockHolder struct {
	Principal string    `json:"principal"`
	Name      string    `json:"name"` // the principal's name
	Since     time.Time `json:"since"`
	Note      string    `json:"note,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	// Token is the grant's fencing token; TokenID names the user token that
	// holds it (never shown: it is the token's stored hash).
	Token   uint64        `json:"token"`
	TokenID string        `json:"-"`
	TTL     time.Duration `json:"-"`
}

// LockWaiter is one place in a lock's queue.
type LockWaiter struct {
	Principal  string        `json:"principal"`
	Name       string        `json:"name"`
	Note       string        `json:"note,omitempty"`
	EnqueuedAt time.Time     `json:"enqueued_at"`
	ExpiresAt  time.Time     `json:"expires_at"` // the place lapses unless renewed
	TTL        time.Duration `json:"-"`          // the lease of the grant, and of the place
	TokenID    string        `json:"-"`
}

// Lock is a lock's whole state. A lock that was never acquired is free
// with Fence 0.
type Lock struct {
	Name   string       `json:"name"`
	Holder *LockHolder  `json:"holder"`
	Fence  uint64       `json:"fence"` // the last token granted
	Queue  []LockWaiter `json:"queue"`
}

// LockChange is one thing that happened to a lock: an audit record and an
// event. Action is one of the lock.* actions of API.md.
type LockChange struct {
	Action    Action
	Principal string // whom it is about
	Token     uint64 // the grant it is about, if any
	Details   map[string]any
}

// LockRequester is who asks for a lock.
type LockRequester struct {
	Principal string
	Name      string
	TokenID   string
	Role      Role
}

// AcquireInput is a checked acquire request.
type AcquireInput struct {
	By LockRequester
	// TTL is the lease asked for; 0 means none was given: a new grant or
	// place gets DefaultLockTTL, and the holder or a waiter asking again
	// keeps the length it has.
	TTL   time.Duration
	Wait  bool
	Force bool
	Note  string
}

// AcquireOutcome is what DecideAcquire decides: the lock as it now
// stands and what changed (for the audit and the event stream), and the
// answer: the caller's grant, or the current holder and (when waiting)
// the caller's place in the queue.
type AcquireOutcome struct {
	Lock          Lock
	Changes       []LockChange
	Exclusive     bool
	Grant         LockHolder // when Exclusive
	Holder        LockHolder // when not
	QueuePosition int        // 1-based, when queued
}

// ValidLockName checks a lock name: path-like segments of letters,
// digits, '-', '_' and '.', separated by '/'.
func ValidLockName(field, name string) error {
	if name == "" || len(name) > MaxLockNameLen {
		return BadField(field, "%s must be 1 to %d characters", field, MaxLockNameLen)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return BadField(field, "%s must be segments separated by single slashes", field)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return BadField(field, "%s may hold letters, digits, '-', '_', '.' and '/'", field)
			}
		}
	}
	return nil
}

// held reports whether tokenID holds l with token now.
func (l Lock) held(tokenID string, token uint64, now time.Time) bool {
	h := l.Holder
	return h != nil && h.TokenID == tokenID && h.Token == token && now.Before(h.ExpiresAt)
}

// position is tokenID's 1-based place in the queue, 0 if none.
func (l Lock) position(tokenID string) int {
	for i, w := range l.Queue {
		if w.TokenID == tokenID {
			return i + 1
		}
	}
	return 0
}

// unqueue removes the waiter at 1-based position p, without touching the
// backing array of any other copy of the lock.
func (l *Lock) unqueue(p int) {
	l.Queue = append(l.Queue[:p-1:p-1], l.Queue[p:]...)
}

func (l Lock) clone() Lock {
	if l.Holder != nil {
		h := *l.Holder
		l.Holder = &h
	}
	l.Queue = append([]LockWaiter(nil), l.Queue...)
	return l
}

// SettleLock applies time to a lock: a holder whose lease ran out loses
// it (lock.expire), waiters whose places lapsed are dropped
// (lock.dequeue), and a free lock goes to the first waiter still there
// (lock.grant, with the next fencing token).
func SettleLock(l Lock, now time.Time) (Lock, []LockChange) {
	l = l.clone()
	var ch []LockChange
	if h := l.Holder; h != nil && !now.Before(h.ExpiresAt) {
		ch = append(ch, LockChange{Action: ActionLockExpire, Principal: h.Principal, Token: h.Token,
			Details: map[string]any{"expired_at": h.ExpiresAt}})
		l.Holder = nil
	}
	kept := l.Queue[:0]
	for _, w := range l.Queue {
		if now.Before(w.ExpiresAt) {
			kept = append(kept, w)
			continue
		}
		ch = append(ch, LockChange{Action: ActionLockDequeue, Principal: w.Principal,
			Details: map[string]any{"reason": "lapsed", "lapsed_at": w.ExpiresAt}})
	}
	l.Queue = kept
	return grantNext(l, now, ch)
}

// grantNext gives a free lock to the first waiter.
func grantNext(l Lock, now time.Time, ch []LockChange) (Lock, []LockChange) {
	if l.Holder != nil || len(l.Queue) == 0 {
		return l, ch
	}
	w := l.Queue[0]
	l.Queue = l.Queue[1:]
	l.Fence++
	l.Holder = &LockHolder{Principal: w.Principal, Name: w.Name, Since: now, Note: w.Note,
		ExpiresAt: now.Add(w.TTL), Token: l.Fence, TokenID: w.TokenID, TTL: w.TTL}
	ch = append(ch, LockChange{Action: ActionLockGrant, Principal: w.Principal, Token: l.Fence,
		Details: map[string]any{"expires_at": l.Holder.ExpiresAt, "waited_since": w.EnqueuedAt}})
	return l, ch
}

// DecideAcquire applies an acquire to a settled lock (SettleLock first):
// a free lock is granted; the holder asking again gets its grant back with
// a renewed lease; force (admin or delegate) breaks the holder's lock and
// grants it in one step; wait queues the caller (or renews its place);
// otherwise the caller is denied and told who holds the lock.
// A forced acquire by anyone but an admin or a delegate is refused
// (forbidden) and changes nothing.
func DecideAcquire(l Lock, in AcquireInput, now time.Time) (AcquireOutcome, error) {
	l = l.clone()
	by := in.By
	asked := in.TTL
	if in.TTL == 0 {
		in.TTL = DefaultLockTTL
	}
	if in.Force && by.Role != RoleAdmin && by.Role != RoleDelegate {
		return AcquireOutcome{Lock: l}, Errorf(EFORBIDDEN, "only an admin or a delegate may force a lock")
	}
	grant := func(action Action, details map[string]any) (AcquireOutcome, error) {
		if p := l.position(by.TokenID); p > 0 {
			l.unqueue(p)
		}
		l.Fence++
		l.Holder = &LockHolder{Principal: by.Principal, Name: by.Name, Since: now, Note: in.Note,
			ExpiresAt: now.Add(in.TTL), Token: l.Fence, TokenID: by.TokenID, TTL: in.TTL}
		details["expires_at"] = l.Holder.ExpiresAt
		return AcquireOutcome{Lock: l, Exclusive: true, Grant: *l.Holder,
			Changes: []LockChange{{Action: action, Principal: by.Principal, Token: l.Fence, Details: details}}}, nil
	}
	h := l.Holder
	switch {
	case h == nil:
		return grant(ActionLockAcquire, map[string]any{})
	case h.TokenID == by.TokenID:
		if asked == 0 && h.TTL > 0 {
			in.TTL = h.TTL
		}
		h.ExpiresAt, h.TTL = now.Add(in.TTL), in.TTL
		if in.Note != "" {
			h.Note = in.Note
		}
		return AcquireOutcome{Lock: l, Exclusive: true, Grant: *h,
			Changes: []LockChange{{Action: ActionLockAcquire, Principal: by.Principal, Token: h.Token,
				Details: map[string]any{"again": true, "expires_at": h.ExpiresAt}}}}, nil
	case in.Force:
		return grant(ActionLockForce, map[string]any{"broke": h.Token, "from": h.Principal})
	case in.Wait:
		if p := l.position(by.TokenID); p > 0 {
			w := &l.Queue[p-1]
			if asked == 0 && w.TTL > 0 {
				in.TTL = w.TTL
			}
			w.ExpiresAt, w.TTL = now.Add(in.TTL), in.TTL
			if in.Note != "" {
				w.Note = in.Note
			}
			return AcquireOutcome{Lock: l, Holder: *h, QueuePosition: p}, nil
		}
		l.Queue = append(l.Queue, LockWaiter{Principal: by.Principal, Name: by.Name, Note: in.Note,
			EnqueuedAt: now, ExpiresAt: now.Add(in.TTL), TTL: in.TTL, TokenID: by.TokenID})
		p := len(l.Queue)
		return AcquireOutcome{Lock: l, Holder: *h, QueuePosition: p,
			Changes: []LockChange{{Action: ActionLockQueue, Principal: by.Principal,
				Details: map[string]any{"holder": h.Principal, "position": p, "name": by.Name, "note": in.Note}}}}, nil
	}
	// Denied; a caller already waiting is told its place (which it keeps).
	return AcquireOutcome{Lock: l, Holder: *h, QueuePosition: l.position(by.TokenID),
		Changes: []LockChange{{Action: ActionLockDeny, Principal: by.Principal, Details: map[string]any{"holder": h.Principal}}}}, nil
}

// DecideKeepalive renews the holder's lease: only the holder's token with
// the current fencing token, before the lease ran out. A zero ttl renews
// for the grant's own lease length.
func DecideKeepalive(l Lock, tokenID string, token uint64, ttl time.Duration, now time.Time) (Lock, error) {
	if !l.held(tokenID, token, now) {
		return l, lockNotHeld(l, token)
	}
	l = l.clone()
	if ttl == 0 {
		ttl = l.Holder.TTL
	}
	if ttl == 0 {
		ttl = DefaultLockTTL
	}
	l.Holder.ExpiresAt, l.Holder.TTL = now.Add(ttl), ttl
	return l, nil
}

// DecideRelease frees the lock if tokenID holds it with token and grants
// it to the first waiter; a stale or unknown token changes nothing
// (release is idempotent). Token 0 means "leave the queue": the caller's
// place, if any, is given up.
func DecideRelease(l Lock, tokenID string, token uint64, now time.Time) (Lock, []LockChange) {
	l = l.clone()
	if token == 0 {
		p := l.position(tokenID)
		if p == 0 {
			return l, nil
		}
		w := l.Queue[p-1]
		l.unqueue(p)
		return l, []LockChange{{Action: ActionLockDequeue, Principal: w.Principal, Details: map[string]any{"reason": "left"}}}
	}
	if !l.held(tokenID, token, now) {
		return l, nil
	}
	h := l.Holder
	l.Holder = nil
	return grantNext(l, now, []LockChange{{Action: ActionLockRelease, Principal: h.Principal, Token: h.Token,
		Details: map[string]any{}}})
}

// CheckFence guards a managed write: it passes only for the holder's
// token with the current fencing token, before the lease ran out.
func CheckFence(l Lock, tokenID string, token uint64, now time.Time) error {
	if l.held(tokenID, token, now) {
		return nil
	}
	return lockNotHeld(l, token)
}

// lockNotHeld explains why token is not good for l.
func lockNotHeld(l Lock, token uint64) error {
	e := Errorf(ELOCKNOTHELD, "lock %s is not held with token %d", l.Name, token).With("lock", l.Name).With("token", token)
	if l.Holder != nil {
		e = e.With("holder", l.Holder.Principal)
	}
	return e
}

// AcquireRequest is the body of POST /v1/locks/{name}/acquire.
type AcquireRequest struct {
	TTLSeconds *int   `json:"ttl_seconds,omitempty"`
	Wait       bool   `json:"wait,omitempty"`
	Force      bool   `json:"force,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Validate checks an acquire: the lease length, when given, and the note.
// The HTTP layer and the store both call it.
func (r AcquireRequest) Validate() error {
	if r.TTLSeconds != nil {
		if _, err := LockTTL(*r.TTLSeconds); err != nil {
			return err
		}
	}
	if len(r.Note) > MaxLockNoteLen {
		return BadField("note", "note must be at most %d bytes", MaxLockNoteLen)
	}
	return nil
}

// TTL is the lease length the request asks for (Validate it first); 0
// when none was given: the lock rules then fill in the default
// (DecideAcquire), and the holder or a waiter asking again keeps its own.
func (r AcquireRequest) TTL() time.Duration {
	if r.TTLSeconds == nil {
		return 0
	}
	return time.Duration(*r.TTLSeconds) * time.Second
}

// LockTTL checks a lease length in seconds (ttl_seconds of an acquire or
// a keepalive): MinLockTTL to MaxLockTTL.
func LockTTL(seconds int) (time.Duration, error) {
	d := time.Duration(seconds) * time.Second
	if d < MinLockTTL || d > MaxLockTTL {
		return 0, BadField("ttl_seconds", "ttl_seconds must be %d to %d", int(MinLockTTL/time.Second), int(MaxLockTTL/time.Second))
	}
	return d, nil
}

// LockMode is what an acquire's answer gives the caller: the lock, or a
// read-only view of who holds it.
type LockMode string

// Lock modes of an acquire's answer.
const (
	LockExclusive LockMode = "exclusive"
	LockReadOnly  LockMode = "read_only"
)

// AcquireResult answers an acquire: the caller's grant (mode exclusive),
// or who holds the lock (mode read_only) and the caller's place in the
// queue when it waits.
type AcquireResult struct {
	Mode          LockMode    `json:"mode"`
	Token         uint64      `json:"token,omitempty"`
	Holder        *LockHolder `json:"holder"`
	AcquiredAt    *time.Time  `json:"acquired_at,omitempty"`
	ExpiresAt     *time.Time  `json:"expires_at,omitempty"`
	QueuePosition int         `json:"queue_position,omitempty"`
}

// LockService keeps exclusive edit locks (API.md "Exclusive edit locks").
// Every route needs an admin's or a delegate's user token (EFORBIDDEN
// otherwise); a lock is held by the user token that acquired it.
type LockService interface {
	// AcquireLock grants, queues or denies (AcquireResult.Mode read_only);
	// EFORBIDDEN for force by a user, EBADREQUEST for a bad name or TTL.
	AcquireLock(ctx context.Context, c Caller, name string, r AcquireRequest) (*AcquireResult, error)
	// KeepaliveLock renews the caller's lease: ELOCKNOTHELD unless the
	// caller holds the lock with token. A zero ttl keeps the grant's lease
	// length.
	KeepaliveLock(ctx context.Context, c Caller, name string, token uint64, ttl time.Duration) (time.Time, error)
	// ReleaseLock frees the lock if the caller holds it with token (a
	// stale or zero token changes nothing) and, with leaveQueue, gives up
	// the caller's place in the queue: one transaction.
	ReleaseLock(ctx context.Context, c Caller, name string, token uint64, leaveQueue bool) error
	// GetLock shows a lock's holder, lease and queue (ENOTFOUND for a lock
	// never acquired); ListLocks lists them by name.
	GetLock(ctx context.Context, c Caller, name string) (*Lock, error)
	ListLocks(ctx context.Context, c Caller, p Page) ([]Lock, error)
	// SweepLocks applies lease expiry to every lock due and returns how
	// many locks it changed and how long until the next expiry is due (0
	// when none is).
	SweepLocks(ctx context.Context) (int, time.Duration, error)
}
