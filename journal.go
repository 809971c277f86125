package latchkey

import (
	"strconv"
	"time"
)

// JournalVerdict is the server's verdict on one offline session of a
// terminal's journal (POST /v1/agent/journal).
type JournalVerdict string

// JournalEntryCheck is what the server knows on reconnect of one offline
// session: whether it has ended, whether its identity is valid now (it
// exists, its password was right when checked, its principal is enabled),
// whether another person's reservation holds the terminal now, whether the
// principal has another unlocked session elsewhere (rule 5), whether the
// site's maximum session duration has passed, and the person's remaining
// quota for the day with this session counted (nil: no quota).
type JournalEntryCheck struct {
	Ended         bool
	IdentityValid bool
	// IdentityReason is the reason of a logoff for an identity that is not
	// valid (CheckJournalIdentity's); empty means JournalInvalidIdentity.
	IdentityReason string
	Reserved       bool
	Concurrent     bool
	OverMax        bool
	QuotaLeft      *time.Duration
}

// DecideJournalEntry is the reconnect verdict of an offline session: an
// ended one is ok (nothing is left to log off; its minutes count towards
// the quota, and a clash with a reservation is reported, not undone). A
// running one is logged off at once when its identity is not valid or
// when the person is unlocked elsewhere (one unlocked session per person);
// it gets the Time Critical Warning, then is logged off, when another
// person's reservation holds the terminal (the reservation wins: it was
// booked on the server), when the maximum duration has passed, or when
// the person is over quota.
func DecideJournalEntry(e JournalEntryCheck) (verdict JournalVerdict, reason string) {
	switch {
	case e.Ended:
		return VerdictOK, ""
	case !e.IdentityValid:
		if e.IdentityReason != "" {
			return VerdictLogoff, e.IdentityReason
		}
		return VerdictLogoff, JournalInvalidIdentity
	case e.Concurrent:
		return VerdictLogoff, ECONCURRENTSESSION
	case e.Reserved:
		return VerdictWarnThenLogoff, string(LimitReservation)
	case e.OverMax:
		return VerdictWarnThenLogoff, string(LimitMaxSession)
	case e.QuotaLeft != nil && *e.QuotaLeft <= 0:
		return VerdictWarnThenLogoff, EQUOTAEXCEEDED
	}
	return VerdictOK, ""
}

// JournalEntry is one offline session in POST /v1/agent/journal. ID is
// made by the agent and stays the session's ID on the server. Session
// names an online session that continued offline (its end is reported,
// it is not a new session). Password is sent only for a session still in
// progress whose password the agent could not check itself (auth any), and
// only from memory; Verified says the agent checked it against a cached
// verifier.
type JournalEntry struct {
	ID          string     `json:"id"`
	Identity    string     `json:"identity"`
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	Standalone  bool       `json:"standalone"`
	Reservation string     `json:"reservation,omitempty"`
	Session     string     `json:"session,omitempty"`
	Verified    bool       `json:"verified,omitempty"`
	Password    string     `json:"password,omitempty"`
	LockedAt    *time.Time `json:"locked_at,omitempty"`
}

// JournalResult is the verdict on one uploaded entry.
type JournalResult struct {
	ID             string         `json:"id"`
	Verdict        JournalVerdict `json:"verdict"`
	Reason         string         `json:"reason,omitempty"`
	WarningSeconds int            `json:"warning_seconds,omitempty"`
	// Session is the server's session of the entry (the same ID).
	Session string `json:"session,omitempty"`
}

// ValidateJournal checks an upload before anything is recorded: 1 to
// MaxJournalEntries entries, each with a well-formed, unique ID, an
// identity, a start, an end not before it, times not in the future.
func ValidateJournal(entries []JournalEntry, now time.Time) error {
	if len(entries) == 0 || len(entries) > MaxJournalEntries {
		return BadField("entries", "entries must hold 1 to %d entries", MaxJournalEntries)
	}
	seen := make(map[string]bool, len(entries))
	late := now.Add(JournalClockSkew)
	for i, e := range entries {
		f := func(name string) string { return "entries[" + strconv.Itoa(i) + "]." + name }
		if !validEntryID(e.ID) {
			return BadField(f("id"), "an entry id is 1 to 64 letters, digits, '_' or '-'")
		}
		if seen[e.ID] {
			return BadField(f("id"), "entry %s appears twice", e.ID)
		}
		seen[e.ID] = true
		if err := ValidName(f("identity"), e.Identity); err != nil {
			return err
		}
		if e.Session != "" && !validEntryID(e.Session) {
			return BadField(f("session"), "session must be a session id")
		}
		if e.StartedAt.IsZero() || e.StartedAt.After(late) {
			return BadField(f("started_at"), "started_at is required and may not be in the future")
		}
		if e.EndedAt != nil && (e.EndedAt.Before(e.StartedAt) || e.EndedAt.After(late)) {
			return BadField(f("ended_at"), "ended_at may not be before started_at or in the future")
		}
		if len(e.Password) > MaxPasswordLen {
			return BadField(f("password"), "password must be at most %d bytes", MaxPasswordLen)
		}
	}
	return nil
}

func validEntryID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Journal verdicts.
const (
	VerdictOK             JournalVerdict = "ok"
	VerdictLogoff         JournalVerdict = "logoff"
	VerdictWarnThenLogoff JournalVerdict = "warn_then_logoff"
)

// MaxJournalEntries bounds one upload.
const MaxJournalEntries = 1000

// JournalClockSkew is how far in the future of the server's clock an
// uploaded entry may start or end (the agent's clock follows the server's).
const JournalClockSkew = 10 * time.Minute

// JournalSessionRules applies to an offline session still in progress,
// started at started, the rules a logon at its terminal would meet now
// (in, without Force): the person unlocked elsewhere (Concurrent; else
// fail holds the terminal's own stale session, to clean up), another
// person's reservation holding the terminal (Reserved), and the site's
// maximum session, counted from the start, passed (OverMax). The rest of
// the check (ended, identity, quota with this session counted) is the
// caller's to fill in before DecideJournalEntry.
func JournalSessionRules(in LoginInput, started time.Time) (check JournalEntryCheck, fail []FailedSession) {
	in.Force = false
	fail, err := sessionRules(in)
	check.Concurrent = err != nil
	if check.Concurrent {
		fail = nil
	}
	check.Reserved = CheckHolding(in.Holding, in.Principal) != nil
	if max := MaxSessionFor(in.Principal.Role, in.Site); max > 0 {
		check.OverMax = !in.Now.Before(started.Add(max))
	}
	return check, fail
}
