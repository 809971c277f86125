package agent

import "fmt"

// sessionState is where a gateway session stands with the server: whether
// the server holds it, whether its journal entry must still be uploaded,
// and whether it has ended. It replaces the flags Known, Pending,
// EndOnServer and Ack, which together encoded it. A session moves only by
// next (the table sessionTransitions).
//
// The lock is a state of its own beside it (lockState, moved by
// nextLock): any session in progress can be locked or not, the server
// told or not, whatever its standing, so folding the two into one type
// would multiply their states. What else stays in gwSession is data, not
// state: Standalone and Verified are facts of the logon that never
// change; EndedAt, LockedAt and the rest are times and reasons.
type sessionState string

const (
	// stateOffline: started offline; the server does not hold it yet and
	// its entry waits for upload.
	stateOffline sessionState = "offline"
	// stateLive: started online; the server holds it as active.
	stateLive sessionState = "live"
	// stateAcked: started offline; the server acknowledged its entry in
	// progress (verdict ok) and holds it as active.
	stateAcked sessionState = "acked"
	// stateWarned: acknowledged in progress with the verdict
	// warn_then_logoff: it gets the Time Critical Warning and then ends,
	// and the agent calls the server's log out when it does.
	stateWarned sessionState = "warned"
	// stateEnding: ended; the server must still be sent its entry (with
	// its end).
	stateEnding sessionState = "ending"
	// stateEnded: ended; the server has nothing more to be told.
	stateEnded sessionState = "ended"
	// stateRejected: ended; the server refused its entry, which is not
	// sent again.
	stateRejected sessionState = "rejected"
)

// sessionStates lists every state.
var sessionStates = []sessionState{stateOffline, stateLive, stateAcked, stateWarned, stateEnding, stateEnded, stateRejected}

// sessionEvent is what moves a session from one state to another.
type sessionEvent string

const (
	// The server's verdict on the session's uploaded entry.
	evVerdictOK     sessionEvent = "verdict_ok"
	evVerdictWarn   sessionEvent = "verdict_warn_then_logoff"
	evVerdictLogoff sessionEvent = "verdict_logoff"
	// evRejected: the server refused the entry on its own.
	evRejected sessionEvent = "rejected"
	// evEndUntold: the agent ends it (log-out, limit, new logon, reboot)
	// and the server could not be told.
	evEndUntold sessionEvent = "end_untold"
	// evEndTold: the agent ends it and the server was told (or ended it
	// already, as for a new logon at the terminal).
	evEndTold sessionEvent = "end_told"
	// evEndByServer: the server ended it (failed, expired, logged off):
	// there is nothing to tell.
	evEndByServer sessionEvent = "end_by_server"
)

// sessionEvents lists every event.
var sessionEvents = []sessionEvent{evVerdictOK, evVerdictWarn, evVerdictLogoff, evRejected, evEndUntold, evEndTold, evEndByServer}

// sessionTransitions is every move a session can make; anything else is
// refused. Verdicts and rejections come only for an entry waiting for
// upload (offline, ending). A session started offline and since ended is
// uploaded again with its end even when the server was told (its entry
// carries it); the server cannot have been told of, or have ended, a
// session it does not hold yet (offline).
var sessionTransitions = map[sessionState]map[sessionEvent]sessionState{
	stateOffline: {
		evVerdictOK:     stateAcked,
		evVerdictWarn:   stateWarned,
		evVerdictLogoff: stateEnded,
		evRejected:      stateRejected,
		evEndUntold:     stateEnding,
	},
	stateLive: {
		evEndUntold:   stateEnding,
		evEndTold:     stateEnded,
		evEndByServer: stateEnded,
	},
	stateAcked: {
		evEndUntold:   stateEnding,
		evEndTold:     stateEnding,
		evEndByServer: stateEnded,
	},
	stateWarned: {
		evEndUntold:   stateEnding,
		evEndTold:     stateEnding,
		evEndByServer: stateEnded,
	},
	stateEnding: {
		evVerdictOK:     stateEnded,
		evVerdictWarn:   stateEnded,
		evVerdictLogoff: stateEnded,
		evRejected:      stateRejected,
	},
}

// next is the state ev moves a session in state st to; ok is false (and
// st is returned) when ev is refused in st.
func next(st sessionState, ev sessionEvent) (sessionState, bool) {
	to, ok := sessionTransitions[st][ev]
	if !ok {
		return st, false
	}
	return to, true
}

// refusedTransition is the error for a move next or nextLock refuses: a
// bug in the agent, never a request's fault.
func refusedTransition(id string, st, ev fmt.Stringer) error {
	return fmt.Errorf("session %s: %s is refused in state %s", id, ev, st)
}

func (st sessionState) String() string { return string(st) }
func (ev sessionEvent) String() string { return string(ev) }
func (ev lockEvent) String() string    { return string(ev) }

// known reports whether the server holds the session as active.
func (st sessionState) known() bool {
	return st == stateLive || st == stateAcked || st == stateWarned
}

// pending reports whether the session's entry must be uploaded.
func (st sessionState) pending() bool { return st == stateOffline || st == stateEnding }

// ended reports whether the session has ended.
func (st sessionState) ended() bool {
	return st == stateEnding || st == stateEnded || st == stateRejected
}

// lockState is a session's lock: none, made here only (the server could
// not be told: other terminals see the session as unlocked), or held by
// the server. It replaces the flag ServerLocked, with LockedAt nil exactly
// when unlocked. A lock moves only by nextLock (the table lockTransitions).
type lockState int

const (
	unlocked lockState = iota
	// lockedHere: locked at the terminal while the server could not be
	// reached; reported to the server (at the time it was made) when it
	// can be.
	lockedHere
	// lockedOnServer: the server holds the lock.
	lockedOnServer
)

var lockNames = [...]string{unlocked: "unlocked", lockedHere: "locked_here", lockedOnServer: "locked_on_server"}

func (l lockState) String() string {
	if int(l) < len(lockNames) {
		return lockNames[l]
	}
	return fmt.Sprintf("lockState(%d)", int(l))
}

// lockStates lists every lock state.
var lockStates = []lockState{unlocked, lockedHere, lockedOnServer}

// lockEvent is what moves a lock.
type lockEvent string

const (
	// evLockHere: the terminal locks without the server (offline).
	evLockHere lockEvent = "lock_here"
	// evLockOnServer: the server locked the session, or says it holds it
	// locked (every refresh says it again).
	evLockOnServer lockEvent = "lock_on_server"
	// evUnlock: the server unlocked it.
	evUnlock lockEvent = "unlock"
)

// lockEvents lists every lock event.
var lockEvents = []lockEvent{evLockHere, evLockOnServer, evUnlock}

// lockTransitions is every move a lock can make; anything else is
// refused: a locked terminal does not lock again, an unlocked one does not
// unlock, and a lock the server holds is never made local again.
var lockTransitions = map[lockState]map[lockEvent]lockState{
	unlocked:       {evLockHere: lockedHere, evLockOnServer: lockedOnServer},
	lockedHere:     {evLockOnServer: lockedOnServer, evUnlock: unlocked},
	lockedOnServer: {evLockOnServer: lockedOnServer, evUnlock: unlocked},
}

// nextLock is the lock state ev moves l to; ok is false (and l is
// returned) when ev is refused in l.
func nextLock(l lockState, ev lockEvent) (lockState, bool) {
	to, ok := lockTransitions[l][ev]
	if !ok {
		return l, false
	}
	return to, true
}

// lockOf reads a lock back from the journal: locked_at set or not, and the
// server_locked column.
func lockOf(locked, serverLocked bool) lockState {
	switch {
	case !locked:
		return unlocked
	case serverLocked:
		return lockedOnServer
	default:
		return lockedHere
	}
}

// Upload acknowledgement states of a session's entry: the journal's ack
// column (journal_sessions.go).
const (
	ackOpen     = "open"
	ackEnded    = "ended"
	ackRejected = "rejected"
)

// stateColumns are the journal's columns that encoded the state before
// sessionState (and still do, for an agent reading the journal back,
// older ones included): pending is what the journal's queries select on.
type stateColumns struct {
	Known, Pending, EndOnServer bool
	Ack                         string // "" | open | ended | rejected
}

// columns is how st is written to the journal.
func (st sessionState) columns() stateColumns {
	c := stateColumns{Known: st.known(), Pending: st.pending(), EndOnServer: st == stateWarned}
	switch st {
	case stateAcked, stateWarned:
		c.Ack = ackOpen
	case stateEnded:
		c.Ack = ackEnded
	case stateRejected:
		c.Ack = ackRejected
	}
	return c
}

// stateOf reads a session's state back from its journal columns (ended:
// its ended_at is set), whichever agent wrote them.
func stateOf(c stateColumns, ended bool) sessionState {
	switch {
	case ended && c.Pending:
		return stateEnding
	case ended && c.Ack == ackRejected:
		return stateRejected
	case ended:
		return stateEnded
	case c.Pending || !c.Known:
		// Not known and not pending cannot be written; should it be
		// read, uploading the entry lets the server decide.
		return stateOffline
	case c.EndOnServer:
		return stateWarned
	case c.Ack == ackOpen:
		return stateAcked
	default:
		return stateLive
	}
}
