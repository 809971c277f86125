package latchkey

import "time"

// What a journal upload (POST /v1/agent/journal) may claim, and what the
// server believes of it (issue 10, hole 4). A terminal token is not a
// person: an entry's identity counts as checked only when the server can
// tell how it was checked, its times are bounded by what the server knows
// of the terminal, and it is never charged to a person the server could
// not establish.

// SentVerifier records that one terminal's agent was sent a login's
// offline logon verifier: from FirstSent (the issue time of the policy that
// first carried it, since it was last left out), valid until ExpiresAt (the
// latest expiry sent), until Withdrawn (the issue time of the first policy
// that left it out again; nil while it is still sent).
type SentVerifier struct {
	Login     string
	FirstSent time.Time
	ExpiresAt time.Time
	Withdrawn *time.Time
}

// HeldAt reports whether the agent held a usable copy of the verifier at
// t: it had been sent by then, had not expired and had not been withdrawn.
// A nil record (never sent) holds nothing.
func (sv *SentVerifier) HeldAt(t time.Time) bool {
	return sv != nil && !t.Before(sv.FirstSent) && t.Before(sv.ExpiresAt) && (sv.Withdrawn == nil || t.Before(*sv.Withdrawn))
}

// SentVerifierChanges is what a policy issued at issued to a terminal
// changes in its records old (by login): a login sent for the first time,
// or again after it was withdrawn, starts a new span at issued; a later
// expiry than recorded is kept; a login the policy leaves out is withdrawn
// at issued. Records that do not change are not returned, so a policy
// like the last one writes nothing.
func SentVerifierChanges(old map[string]SentVerifier, sent []CachedVerifier, issued time.Time) []SentVerifier {
	var out []SentVerifier
	in := make(map[string]bool, len(sent))
	for _, v := range sent {
		if in[v.Login] {
			continue
		}
		in[v.Login] = true
		o, ok := old[v.Login]
		switch {
		case !ok || o.Withdrawn != nil:
			out = append(out, SentVerifier{Login: v.Login, FirstSent: issued, ExpiresAt: v.ExpiresAt})
		case v.ExpiresAt.After(o.ExpiresAt):
			o.ExpiresAt = v.ExpiresAt
			out = append(out, o)
		}
	}
	for login, o := range old {
		if !in[login] && o.Withdrawn == nil {
			at := issued
			o.Withdrawn = &at
			out = append(out, o)
		}
	}
	return out
}

// Reasons of a journal verdict on an entry whose identity does not stand.
const (
	// JournalInvalidIdentity: checked and refused (unknown login, wrong
	// password, locked or disabled account).
	JournalInvalidIdentity = "invalid_identity"
	// JournalUnchecked: nothing the server trusts shows who it was (no
	// verifier of the login was ever sent to this terminal, no password,
	// or the upload's password checks were used up).
	JournalUnchecked = "unchecked"
	// JournalNotAllowed: the site allows admins only offline
	// (allow_standalone false) and the entry is not an admin's.
	JournalNotAllowed = "not_allowed"
)

// MaxJournalPasswordChecks bounds the passwords one upload has checked
// (standalone_auth any): each is an argon2id hash and a failed attempt of
// the identity, as at an online logon.
const MaxJournalPasswordChecks = 20

// JournalIdentityInput is what the server knows of how an offline
// session's person was checked: the site's settings; the principal's role
// and whether it is disabled; whether the agent says it checked a cached
// verifier (Verified) and whether this terminal held that login's verifier
// when the session started (VerifierHeld); and, for a password sent from
// the agent's memory (standalone_auth any), whether it was checked
// (within the upload's budget) and accepted by the credentials check.
type JournalIdentityInput struct {
	AllowStandalone bool
	Auth            StandaloneAuth
	Role            Role
	Disabled        bool
	Ended           bool
	Verified        bool
	VerifierHeld    bool
	PasswordChecked bool
	PasswordOK      bool
}

// JournalIdentity is the server's view of an entry's person: Valid when
// the identity stands (else Reason says why), Counts when the session is
// charged to the person's quota.
type JournalIdentity struct {
	Valid  bool
	Reason string
	Counts bool
}

// CheckJournalIdentity decides whether an uploaded entry's identity
// stands:
//   - `verified` proves something only when this terminal held the login's
//     verifier when the session started (it was in a policy the terminal
//     fetched, unexpired, not withdrawn);
//   - with standalone_auth cached (or allow_standalone false) that is the
//     only check: an entry without it is unchecked;
//   - with allow_standalone false only admins log on offline;
//   - with standalone_auth any a password sent along is checked like an
//     online logon (the caller passes the outcome); without one, and
//     without a held verifier, the entry is unchecked.
//
// A disabled person's entry is invalid whatever was checked. A session
// counts towards the person's quota when the identity stands; and, with
// standalone_auth any, an ended session counts on the name alone (the
// site chose to trust names offline, and an ended one had no password to
// send).
func CheckJournalIdentity(in JournalIdentityInput) JournalIdentity {
	held := in.Verified && in.VerifierHeld
	var out JournalIdentity
	switch {
	case in.Disabled:
		out.Reason = JournalInvalidIdentity
	case !in.AllowStandalone && in.Role != RoleAdmin:
		out.Reason = JournalNotAllowed
	case !in.AllowStandalone || in.Auth != StandaloneAuthAny:
		if held {
			out.Valid = true
		} else {
			out.Reason = JournalUnchecked
		}
	case in.PasswordChecked:
		if in.PasswordOK {
			out.Valid = true
		} else {
			out.Reason = JournalInvalidIdentity
		}
	case held:
		out.Valid = true
	default:
		out.Reason = JournalUnchecked
	}
	out.Counts = out.Valid || (in.Ended && !in.Disabled && in.AllowStandalone && in.Auth == StandaloneAuthAny)
	return out
}

// Flags of an entry whose times were bounded (kept in the audit record).
const (
	ClipFuture       = "future"            // a time after the server's now (within JournalClockSkew)
	ClipBeforePeriod = "before_standalone" // started before the standalone period the agent reported
	ClipMaxSession   = "max_session"       // longer than the site's maximum session
)

// JournalBounds is what the server knows to bound an entry's times: now;
// the start of the standalone period the agent reported (zero: none); the
// site's maximum session for the entry's person (0: none applies).
type JournalBounds struct {
	Now         time.Time
	PeriodStart time.Time
	MaxSession  time.Duration
}

// BoundedEntry is an entry's times after bounding, with what was clipped.
type BoundedEntry struct {
	StartedAt time.Time
	EndedAt   *time.Time
	Clipped   []string
}

// BoundJournalEntry bounds an entry's times: none after now (times further
// ahead than JournalClockSkew were refused by ValidateJournal; those
// within it are taken as now), no start before the reported standalone
// period (moved up to it), no end before the start, and no
// session longer than the maximum: an ended one ends at start + maximum;
// one in progress is taken to have started at now − maximum (so it is
// over its maximum, and is warned and logged off, and charges no more).
func BoundJournalEntry(start time.Time, end *time.Time, b JournalBounds) BoundedEntry {
	out := BoundedEntry{StartedAt: start}
	flag := func(f string) {
		for _, x := range out.Clipped {
			if x == f {
				return
			}
		}
		out.Clipped = append(out.Clipped, f)
	}
	if out.StartedAt.After(b.Now) {
		out.StartedAt = b.Now
		flag(ClipFuture)
	}
	if !b.PeriodStart.IsZero() && !b.PeriodStart.After(b.Now) && out.StartedAt.Before(b.PeriodStart) {
		out.StartedAt = b.PeriodStart
		flag(ClipBeforePeriod)
	}
	if end != nil {
		e := *end
		if e.After(b.Now) {
			e = b.Now
			flag(ClipFuture)
		}
		if e.Before(out.StartedAt) {
			e = out.StartedAt
		}
		if b.MaxSession > 0 && e.Sub(out.StartedAt) > b.MaxSession {
			e = out.StartedAt.Add(b.MaxSession)
			flag(ClipMaxSession)
		}
		out.EndedAt = &e
	} else if b.MaxSession > 0 && b.Now.Sub(out.StartedAt) > b.MaxSession {
		out.StartedAt = b.Now.Add(-b.MaxSession)
		flag(ClipMaxSession)
	}
	return out
}
