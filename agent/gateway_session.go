package agent

import (
	"context"
	"errors"
	"strings"
	"time"

	"latchkey"
)

// LoginRequest is POST /login: a person logs on at the terminal.
type LoginRequest struct {
	Identity string `json:"identity"`
	Password string `json:"password"`
	// Force fails the person's unlocked sessions at other terminals
	// (online only).
	Force bool `json:"force"`
}

// LockRequest is POST /lock.
type LockRequest struct {
	Reason string `json:"reason"` // manual (default) | inactivity
	// Choice answers an offline manual lock: lock_anyway, retry or
	// abandon ("" asks).
	Choice string `json:"choice"`
	// InTransaction says a transaction is in progress (EUM-CE-CL-30): a
	// manual lock pauses it, or is refused (conflict, details.transaction
	// must_complete) when the site wants it completed first; offline the
	// cached policy's site decides.
	InTransaction bool `json:"in_transaction,omitempty"`
}

// UnlockRequest is POST /unlock. Identity defaults to the session's.
type UnlockRequest struct {
	Identity string `json:"identity"`
	Password string `json:"password"`
	Force    bool   `json:"force"`
}

// Lock reasons and the choices of an offline manual lock.
const (
	LockManual     = string(latchkey.LockManual) // the server's lock reasons (latchkey.LockReason)
	LockInactivity = string(latchkey.LockInactivity)

	ChoiceLockAnyway = "lock_anyway"
	ChoiceRetry      = "retry"
	ChoiceAbandon    = "abandon"
)

// How a session ends, which says whether and how the server is told.
type endKind int

const (
	endLogout  endKind = iota // the person logs out: the server is told
	endLimit                  // its limit came: the server ends it too, told if it has not
	endVerdict                // a reconnect verdict's warning ran out: the server is told
	endCleanup                // a new logon at the terminal: an online one told the server
	endServer                 // the server ended it (failed, expired, logged off): nothing to tell
)

// Login logs a person on: through the server when online; when the
// server cannot be reached, offline by the site's standalone rules. A
// session in progress at the terminal ends first (the terminal has one).
// The new session is journalled (synced) before Login returns.
func (g *Gateway) Login(ctx context.Context, r LoginRequest) (Status, error) {
	if strings.TrimSpace(r.Identity) == "" {
		return Status{}, latchkey.BadField("identity", "identity is required")
	}
	g.op.Lock()
	defer g.op.Unlock()
	if g.online() {
		notices, err := g.loginOnline(ctx, r)
		if err == nil {
			st := g.Status(ctx)
			st.Notices = notices
			return st, nil
		}
		if !isUnreachable(err) {
			return Status{}, err
		}
	}
	if err := g.loginOffline(ctx, r); err != nil {
		return Status{}, err
	}
	return g.Status(ctx), nil
}

// loginOnline logs on through the server; the notices are the server's
// (EUM-CE-CL-20), for the counter to show.
func (g *Gateway) loginOnline(ctx context.Context, r LoginRequest) ([]latchkey.Notice, error) {
	term, err := g.terminalID(ctx)
	if err != nil {
		return nil, err
	}
	res, err := call(g, ctx, func(c context.Context) (*latchkey.LoginResult, error) {
		return g.client.StartSession(c, term, latchkey.LoginRequest{
			Identity: r.Identity, Password: r.Password, Force: r.Force, TimeSent: g.clock.Now()})
	})
	if err != nil {
		return nil, err
	}
	if old := g.current(); old != nil {
		if err := g.endSession(ctx, *old, g.sessionNow(old), latchkey.EndTerminalCleanup, endCleanup); err != nil {
			return nil, err
		}
	}
	boot, bootID := g.clock.Boot()
	s := gwSession{ID: res.Session.ID, Identity: res.Session.Identity, Principal: res.Session.PrincipalID,
		Role: latchkey.RoleUser, StartedAt: res.Session.StartedAt.UTC(), StartBoot: boot, BootID: bootID, State: stateLive,
		Verified: true}
	if v := findVerifier(g.cachedPolicy(), r.Identity); v != nil && v.Principal == s.Principal {
		s.Role = v.Role
	}
	g.adoptServer(&s, &res.Session)
	g.log.Info("logged on", "session", s.ID, "identity", s.Identity, "ends_at", s.EndsAt)
	return res.Notices, g.store(ctx, s)
}

// terminalID is the terminal's ID: the option's, else the cached
// policy's, fetched if there is none yet.
func (g *Gateway) terminalID(ctx context.Context) (string, error) {
	if g.o.Terminal != "" {
		return g.o.Terminal, nil
	}
	if p := g.cachedPolicy(); p != nil && p.Terminal != "" {
		return p.Terminal, nil
	}
	if err := g.syncLocked(ctx); err != nil {
		return "", err
	}
	if p := g.cachedPolicy(); p != nil && p.Terminal != "" {
		return p.Terminal, nil
	}
	return "", latchkey.Errorf(latchkey.EUNAVAILABLE, "the agent does not know its terminal yet: the server gave it no policy")
}

// adoptServer takes the server's view of a known session: its limit
// (unless a verdict's warning ends it sooner) and its lock.
func (g *Gateway) adoptServer(s *gwSession, srv *latchkey.Session) {
	if srv.EndsAt != nil && (s.State != stateWarned || s.EndsAt.IsZero() || srv.EndsAt.Before(s.EndsAt)) {
		s.EndsAt, s.Limit, s.WarnAt = srv.EndsAt.UTC(), string(srv.Limit), srv.EndsAt.UTC()
		if srv.WarnAt != nil {
			s.WarnAt = srv.WarnAt.UTC()
		}
	}
	if srv.LockedAt != nil {
		t := srv.LockedAt.UTC()
		s.LockedAt = &t
		s.Lock, _ = nextLock(s.Lock, evLockOnServer) // taken in every lock state
	}
	if s.Principal == "" {
		s.Principal = srv.PrincipalID
	}
	g.seen(s.ID, srv.LastActivityAt)
}

// Lock locks the terminal. Online the server records the lock. Offline an
// inactivity lock locks locally without a word (the server will not count
// it: other terminals see the session as unlocked); a manual lock asks
// first (conflict, details.offline and details.choices) and with choice
// lock_anyway locks locally, retry tries the server again, abandon leaves
// the terminal unlocked.
func (g *Gateway) Lock(ctx context.Context, r LockRequest) (Status, error) {
	if r.Reason == "" {
		r.Reason = LockManual
	}
	if r.Reason != LockManual && r.Reason != LockInactivity {
		return Status{}, latchkey.BadField("reason", "reason must be manual or inactivity")
	}
	switch r.Choice {
	case "", ChoiceLockAnyway, ChoiceRetry, ChoiceAbandon:
	default:
		return Status{}, latchkey.BadField("choice", "choice must be lock_anyway, retry or abandon")
	}
	g.op.Lock()
	defer g.op.Unlock()
	s := g.current()
	if s == nil {
		return Status{}, noSession()
	}
	if s.Lock != unlocked || r.Choice == ChoiceAbandon {
		return g.Status(ctx), nil
	}
	if r.Choice == ChoiceRetry && !g.online() || g.online() && !s.State.known() {
		if err := g.syncLocked(ctx); err != nil && !isUnreachable(err) {
			g.log.Error("sync before lock", "err", err)
		}
		if s = g.current(); s == nil || s.Lock != unlocked {
			return g.Status(ctx), nil // a verdict logged it off, or the lock was reported
		}
	}
	if g.online() && s.State.known() {
		err := g.lockOnline(ctx, *s, r.Reason, r.InTransaction, g.clock.Now())
		if !isUnreachable(err) {
			return g.Status(ctx), err
		}
	}
	if p := g.cachedPolicy(); p != nil {
		if err := latchkey.DecideTransactionOnLock(p.Site, latchkey.LockReason(r.Reason), r.InTransaction); err != nil {
			return Status{}, err.(*latchkey.Error).With("offline", true)
		}
	}
	if r.Reason == LockInactivity || r.Choice == ChoiceLockAnyway {
		n := *s
		now := g.clock.Now()
		l, ok := nextLock(n.Lock, evLockHere)
		if !ok {
			return Status{}, refusedTransition(n.ID, n.Lock, evLockHere)
		}
		n.Lock, n.LockedAt, n.LockReason = l, &now, r.Reason
		g.log.Warn("terminal locked locally; the server cannot be told", "session", n.ID, "reason", r.Reason)
		if err := g.store(ctx, n); err != nil {
			return Status{}, err
		}
		g.raise(ctx, deferredEvent(latchkey.EventPositionLocked, n, now))
		return g.Status(ctx), nil
	}
	return Status{}, latchkey.Errorf(latchkey.ECONFLICT,
		"the server cannot be reached, so it cannot be told that this terminal is locked: other counters "+
			"will see this session as unlocked; lock anyway, retry, or abandon the lock").
		With("offline", true).With("choices", []string{ChoiceLockAnyway, ChoiceRetry, ChoiceAbandon})
}

// lockOnline has the server lock s as of at, during a transaction or
// not: a transaction the site wants completed first is refused, and the
// session stays as it is.
func (g *Gateway) lockOnline(ctx context.Context, s gwSession, reason string, inTransaction bool, at time.Time) error {
	srv, err := call(g, ctx, func(c context.Context) (*latchkey.Session, error) {
		return g.client.LockSession(c, s.ID, latchkey.LockRequest{TimeSent: at, Reason: latchkey.LockReason(reason),
			InTransaction: inTransaction})
	})
	if err != nil {
		if isUnreachable(err) || mustComplete(err) {
			return err
		}
		return errors.Join(err, g.dropIfGone(ctx, s, err))
	}
	s.LockReason = reason
	g.adoptServer(&s, srv)
	if s.LockedAt == nil { // the server answered without a lock time: keep ours
		at = at.UTC()
		s.LockedAt = &at
	}
	s.Lock, _ = nextLock(s.Lock, evLockOnServer) // taken in every lock state
	if err := g.store(ctx, s); err != nil {
		return err
	}
	g.raise(ctx, deferredEvent(latchkey.EventPositionLocked, s, *s.LockedAt))
	return nil
}

// Unlock unlocks the terminal through the server, which checks the
// credentials and the person's other sessions. When the server cannot be
// reached it fails with unavailable and the terminal stays locked.
func (g *Gateway) Unlock(ctx context.Context, r UnlockRequest) (Status, error) {
	g.op.Lock()
	defer g.op.Unlock()
	s := g.current()
	if s == nil {
		return Status{}, noSession()
	}
	if s.Lock == unlocked {
		return g.Status(ctx), nil
	}
	if r.Identity == "" {
		r.Identity = s.Identity
	}
	if !g.online() || !s.State.known() {
		if err := g.syncLocked(ctx); err != nil && !isUnreachable(err) {
			g.log.Error("sync before unlock", "err", err)
		}
		if s = g.current(); s == nil {
			return g.Status(ctx), nil // a verdict logged it off
		}
	}
	unavailable := latchkey.Errorf(latchkey.EUNAVAILABLE,
		"the server cannot be reached, so the terminal cannot be unlocked now: it stays locked; try again when the network is back").
		With("offline", true)
	if !g.online() || !s.State.known() {
		return Status{}, unavailable
	}
	srv, err := call(g, ctx, func(c context.Context) (*latchkey.Session, error) {
		return g.client.UnlockSession(c, s.ID, latchkey.UnlockRequest{
			Identity: r.Identity, Password: r.Password, Force: r.Force, TimeSent: g.clock.Now()})
	})
	if isUnreachable(err) {
		return Status{}, unavailable
	}
	if err != nil {
		return Status{}, errors.Join(err, g.dropIfGone(ctx, *s, err))
	}
	n := *s
	l, ok := nextLock(n.Lock, evUnlock)
	if !ok {
		return Status{}, refusedTransition(n.ID, n.Lock, evUnlock)
	}
	n.Lock, n.LockedAt, n.LockReason = l, nil, ""
	g.adoptServer(&n, srv)
	if err := g.store(ctx, n); err != nil {
		return Status{}, err
	}
	g.raise(ctx, deferredEvent(latchkey.EventPositionUnlocked, n, g.clock.Now()))
	return g.Status(ctx), nil
}

// Logout ends the session in progress (none: nothing happens). Online the
// server is told; offline the end is journalled for upload.
func (g *Gateway) Logout(ctx context.Context) (Status, error) {
	g.op.Lock()
	defer g.op.Unlock()
	if s := g.current(); s != nil {
		if err := g.endSession(ctx, *s, g.sessionNow(s), latchkey.EndLogout, endLogout); err != nil {
			return Status{}, err
		}
	}
	return g.Status(ctx), nil
}

func noSession() error {
	return latchkey.Errorf(latchkey.ECONFLICT, "no session is in progress at this terminal")
}

// endSession ends s at at and journals it. The server is told now if it
// holds the session and can be reached; otherwise (and always for a
// session started offline, whose entry carries its end) the end is
// pending upload.
func (g *Gateway) endSession(ctx context.Context, s gwSession, at time.Time, reason string, kind endKind) error {
	ev := evEndByServer
	if kind != endServer {
		told := false
		if s.State.known() && g.online() {
			switch kind {
			case endCleanup:
				told = true // the server failed it when the new logon began
			case endLimit:
				told = g.tellLimit(ctx, s)
			default:
				told = g.tellEnd(ctx, s.ID)
			}
		}
		ev = evEndUntold
		if told {
			ev = evEndTold
		}
	}
	return g.finish(ctx, s, ev, at, reason)
}

// finish moves s by ev to the state it ends in, records its end at at,
// journals it and, when its end must be uploaded and the server can be
// reached, uploads it.
func (g *Gateway) finish(ctx context.Context, s gwSession, ev sessionEvent, at time.Time, reason string) error {
	st, ok := next(s.State, ev)
	if !ok || !st.ended() {
		return refusedTransition(s.ID, s.State, ev)
	}
	t := at.UTC()
	s.State, s.EndedAt, s.EndReason = st, &t, reason
	g.log.Info("session ended", "session", s.ID, "reason", reason, "pending_upload", st.pending())
	if err := g.store(ctx, s); err != nil {
		return err
	}
	if st.pending() && g.online() {
		if err := g.uploadPending(ctx); err != nil && !isUnreachable(err) {
			return err
		}
	}
	return nil
}

// tellEnd logs a session out on the server; it reports whether the server
// now holds it as ended (an API refusal means it already did).
func (g *Gateway) tellEnd(ctx context.Context, id string) bool {
	_, err := call(g, ctx, func(c context.Context) (*latchkey.Session, error) { return g.client.EndSession(c, id) })
	if err != nil && !isUnreachable(err) {
		g.log.Info("log out refused: the session is no longer active on the server", "session", id, "err", err)
	}
	return !isUnreachable(err)
}

// limitSkew is how far the server's end of a session may lie after the
// agent's and still count as the same limit: the agent's clock follows the
// server's, give or take the network and the time since the last policy.
const limitSkew = 30 * time.Second

// tellLimit makes sure the server ends a session whose limit came. The
// server logs sessions off at their ends_at itself, with the limit as the
// reason, so a session it still shows active but due to end within
// limitSkew is left to it (a log-out now would record it as an ordinary
// log-out); one the server holds no such limit for is logged out.
func (g *Gateway) tellLimit(ctx context.Context, s gwSession) bool {
	srv, err := call(g, ctx, func(c context.Context) (*latchkey.Session, error) { return g.client.GetSession(c, s.ID) })
	switch {
	case isUnreachable(err):
		return false
	case err != nil || srv.Status != latchkey.SessionActive:
		return true
	case srv.EndsAt != nil && srv.EndsAt.Sub(g.clock.Now()) <= limitSkew:
		return true
	}
	return g.tellEnd(ctx, s.ID)
}

// dropIfGone ends the local session when the server's refusal says it no
// longer holds it as active (failed, ended, unknown).
func (g *Gateway) dropIfGone(ctx context.Context, s gwSession, err error) error {
	switch code := latchkey.ErrorCode(err); code {
	case latchkey.ESESSIONFAILED, latchkey.ENOTFOUND, latchkey.ECONFLICT:
		reason := code
		if code == latchkey.ESESSIONFAILED {
			reason = string(latchkey.SessionFailed)
		}
		return g.endSession(ctx, s, g.sessionNow(&s), reason, endServer)
	}
	return nil
}

// mustComplete reports whether err is the server's refusal of a lock
// during a transaction the site wants completed first.
func mustComplete(err error) bool {
	var le *latchkey.Error
	return errors.As(err, &le) && le.Code == latchkey.ECONFLICT && le.Details["transaction"] == latchkey.TransactionMustComplete
}
