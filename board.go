package latchkey

import (
	"slices"
	"strings"
	"time"
	"unicode"
)

// The sessions board (issue 13, screen 5): every terminal by site, who is
// on it and in what state, and whether its agent is online or working
// standalone. A person's page shows their sessions and the deferred
// events 24, 25 and 26 their terminals reported for them.

// BoardState is what a terminal's sessions say of it on the board.
type BoardState string

const (
	// BoardUnlocked: an ACTIVE session, not locked: the person works there.
	BoardUnlocked BoardState = "unlocked"
	// BoardLocked: an ACTIVE session, locked (by hand or for inactivity):
	// its person may work elsewhere meanwhile (concurrent login).
	BoardLocked BoardState = "locked"
	// BoardFailed: no ACTIVE session, and the latest one was FAILED (forced
	// off from another terminal, or cleaned up): the terminal must log out
	// and recover.
	BoardFailed BoardState = "failed"
	// BoardFree: nobody is logged on, and nothing failed last.
	BoardFree BoardState = "free"
)

// Board filters on the agent rather than the sessions.
const (
	BoardOffline    = "offline"    // the agent was not seen within two poll periods
	BoardStandalone = "standalone" // the agent last reported standalone mode
)

// BoardStates are the board's state filters, in the order the page
// offers them.
var BoardStates = []string{string(BoardUnlocked), string(BoardLocked), string(BoardFailed), string(BoardFree), BoardOffline, BoardStandalone}

// TerminalState classifies a terminal from its ACTIVE session (nil:
// none) and its latest session of any status (nil: it never had one), and
// says since when it is so (nil: not known, a terminal never used). A
// terminal has at most one ACTIVE session; when it has none, its latest
// session decides: FAILED shows failed (since it failed), anything else
// free (since the latest ended).
func TerminalState(active, latest *Session) (BoardState, *time.Time) {
	if active != nil && active.Status == SessionActive {
		if active.LockedAt != nil {
			return BoardLocked, active.LockedAt
		}
		return BoardUnlocked, &active.StartedAt
	}
	if latest == nil {
		return BoardFree, nil
	}
	if latest.Status == SessionFailed {
		return BoardFailed, latest.EndedAt
	}
	if latest.Status == SessionActive { // the latest is the ACTIVE one: passed as active above
		return TerminalState(latest, nil)
	}
	return BoardFree, latest.EndedAt
}

// BoardFilter selects the board's terminals: of one site (ID; "" for
// all), in one state (one of BoardStates; "" for all), and whose name, or
// the name or login ID of the person on it, contains Text (case
// insensitive; "" for all).
type BoardFilter struct {
	Site  string
	State string
	Text  string
}

// MaxBoardText bounds the board's text filter.
const MaxBoardText = 100

// Validate checks a filter, and trims its text.
func (f *BoardFilter) Validate() error {
	f.Text = strings.TrimSpace(f.Text)
	if f.State != "" && !slices.Contains(BoardStates, f.State) {
		return BadField("state", "state must be one of %s", strings.Join(BoardStates, ", "))
	}
	if len([]rune(f.Text)) > MaxBoardText {
		return BadField("q", "the text to look for must be at most %d characters", MaxBoardText)
	}
	for _, r := range f.Text + f.Site {
		if unicode.IsControl(r) {
			return BadField("q", "the filter must not contain control characters")
		}
	}
	if len(f.Site) > MaxNameLen {
		return BadField("site", "no such site")
	}
	return nil
}

// LikePattern is a LIKE pattern (with \ as its escape) that finds text
// anywhere, case folded to lower case: the text's own %, _ and \ match
// only themselves.
func LikePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(text)) + "%"
}

// BoardRow is one terminal on the board.
type BoardRow struct {
	Terminal Terminal // with Online, Standalone and AgentSeenAt
	SiteName string
	// Active is the terminal's ACTIVE session (nil: none) and ActiveName
	// its person's name.
	Active     *Session
	ActiveName string
	// Latest is, for a terminal without an ACTIVE session, its latest
	// session of any status (nil: none, or it has an ACTIVE one), and
	// LatestName its person's name: who was there when it failed.
	Latest     *Session
	LatestName string
}

// State is the row's state and since when (TerminalState).
func (r BoardRow) State() (BoardState, *time.Time) { return TerminalState(r.Active, r.Latest) }

// PersonSession is a session on a person's page, with its terminal's name.
type PersonSession struct {
	Session
	TerminalName string
}

// PersonEvent is a deferred event reported for a person (its identity is
// one of the person's login IDs), with its terminal's name.
type PersonEvent struct {
	TerminalEvent
	TerminalName string
}

// EventMeaning says a deferred event in words (concurrent-login design
// note, 2.1).
func EventMeaning(event int) string {
	switch event {
	case EventPositionLocked:
		return "Position locked"
	case EventPositionUnlocked:
		return "Position unlocked"
	case EventUnlockFailed:
		return "Unlock failed"
	}
	return "Unknown event"
}

// ReasonMeaning says the reason of a failed unlock (event 26) in words.
func ReasonMeaning(reason string) string {
	switch reason {
	case ReasonInvalidCredentials:
		return "wrong login ID or password"
	case ReasonAttemptsExceeded:
		return "too many attempts"
	case ReasonAccountLocked:
		return "the account is locked"
	case ReasonAccountDisabled:
		return "the account is disabled"
	}
	return reason
}

// CanViewSessionBoard: the sessions board, every terminal and who is on
// it, is for admins and delegates.
func CanViewSessionBoard(c Caller) error {
	if !c.IsStaff() {
		return Errorf(EFORBIDDEN, "the sessions board is for admins and delegates")
	}
	return nil
}

// CanViewPerson: a person's page (their sessions and the events reported
// for them) is for staff and the person themselves.
func CanViewPerson(c Caller, principalID string) error {
	if c.IsStaff() || (c.PrincipalID != "" && c.PrincipalID == principalID) {
		return nil
	}
	return Errorf(EFORBIDDEN, "you may only see your own page")
}
