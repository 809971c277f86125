package latchkey

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// The agent's side of standalone mode (API.md "Reservations and standalone
// mode"): the policy it caches, the signed quota snapshot, and the journal
// of offline sessions it uploads when contact returns.

// AgentPolicy is GET /v1/agent/policy: the terminal's site settings
// (flattened), its reservations of the next 24 hours, the offline logon
// verifiers made for the agent, and (standalone_quotas snapshot) the
// signed quota snapshot.
type AgentPolicy struct {
	Site
	Terminal      string           `json:"terminal"`
	Reservations  []Reservation    `json:"reservations"`
	Verifiers     []CachedVerifier `json:"verifiers"`
	QuotaSnapshot *QuotaSnapshot   `json:"quota_snapshot,omitempty"`
	IssuedAt      time.Time        `json:"issued_at"`
	// ReservationGraceSeconds is how long a reservation waits for its
	// person before it is released (the server's setting).
	ReservationGraceSeconds int `json:"reservation_grace_seconds"`
	// Groups are the local groups of the group sets that may be checked
	// out on this terminal: the agent grants no other (signature.go).
	Groups []string `json:"groups"`
	// ServerKey is the server's ed25519 public key (base64) and Signature
	// its signature of the whole document (PolicyDomain); the agent
	// checks it under the key it pinned, never under this one.
	ServerKey string `json:"server_key"`
	Signature string `json:"signature,omitempty"`
	// Raw is the document as received (set by the client), which the
	// signature is checked over.
	Raw []byte `json:"-"`
}

// ReservationGrace is the policy's grace, or the default without one.
func (p AgentPolicy) ReservationGrace() time.Duration {
	if p.ReservationGraceSeconds <= 0 {
		return DefaultReservationGrace
	}
	return time.Duration(p.ReservationGraceSeconds) * time.Second
}

// QuotaEntry is one person's remaining daily quota in a snapshot.
type QuotaEntry struct {
	Principal   string `json:"principal"`
	SecondsLeft int64  `json:"seconds_left"`
}

// QuotaSnapshot is the server's signed statement of the remaining quota of
// the people cached for one terminal, valid for the site's day it was
// issued in (DayStart to DayEnd) and no later than ValidUntil. PublicKey is
// the server's ed25519 key (base64); the agent pins the first key it sees.
type QuotaSnapshot struct {
	Terminal     string       `json:"terminal"`
	IssuedAt     time.Time    `json:"issued_at"`
	ValidUntil   time.Time    `json:"valid_until"`
	DayStart     time.Time    `json:"day_start"`
	DayEnd       time.Time    `json:"day_end"`
	DailyMinutes int          `json:"daily_minutes"`
	Entries      []QuotaEntry `json:"entries"`
	PublicKey    string       `json:"public_key"`
	Signature    string       `json:"signature,omitempty"`
}

// signedBytes is what the signature covers: the snapshot's JSON without
// the signature. encoding/json writes struct fields in order and times in
// RFC 3339 with nanoseconds, so both sides produce the same bytes.
func (q QuotaSnapshot) signedBytes() ([]byte, error) {
	q.Signature = ""
	for _, t := range []*time.Time{&q.IssuedAt, &q.ValidUntil, &q.DayStart, &q.DayEnd} {
		*t = t.UTC()
	}
	return json.Marshal(q)
}

// Sign sets the snapshot's public key and signature.
func (q *QuotaSnapshot) Sign(key ed25519.PrivateKey) error {
	q.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	b, err := q.signedBytes()
	if err != nil {
		return err
	}
	q.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, b))
	return nil
}

// ErrBadSnapshot is returned for a quota snapshot whose signature does not
// verify under the pinned key.
var ErrBadSnapshot = errors.New("quota snapshot signature does not verify")

// Verify checks the snapshot's signature under the pinned public key
// (base64; empty pins the snapshot's own key, for the first fetch).
func (q QuotaSnapshot) Verify(pinned string) error {
	if pinned == "" {
		pinned = q.PublicKey
	}
	if pinned != q.PublicKey {
		return ErrBadSnapshot
	}
	pub, err := base64.StdEncoding.DecodeString(pinned)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return ErrBadSnapshot
	}
	sig, err := base64.StdEncoding.DecodeString(q.Signature)
	if err != nil {
		return ErrBadSnapshot
	}
	b, err := q.signedBytes()
	if err != nil || !ed25519.Verify(ed25519.PublicKey(pub), b, sig) {
		return ErrBadSnapshot
	}
	return nil
}

// StandaloneQuotas is a site's standalone quota setting: whether a
// terminal enforces daily quotas from a signed snapshot while the server is
// unreachable.
type StandaloneQuotas string

// Standalone quota settings of a site.
const (
	StandaloneQuotasOff      StandaloneQuotas = "off"
	StandaloneQuotasSnapshot StandaloneQuotas = "snapshot"
)

// Valid reports whether q is one of the settings.
func (q StandaloneQuotas) Valid() bool {
	return q == StandaloneQuotasOff || q == StandaloneQuotasSnapshot
}

// OfflineQuotaInput is what the agent knows offline about one person's
// quota: the site's settings, the person (principal ID when known, role),
// the verified snapshot (nil if none), the site's day at now, and
// usedSince(t) — the minutes of this person's offline sessions at this
// terminal since t (from the journal).
type OfflineQuotaInput struct {
	Mode             StandaloneQuotas
	DailyMinutes     int
	Principal        string
	Role             Role
	Snapshot         *QuotaSnapshot
	DayStart, DayEnd time.Time
	Now              time.Time
	UsedSince        func(t time.Time) time.Duration
}

// OfflineQuotaLeft is how much quota a person has left offline (nil: no
// quota applies). With standalone_quotas off, or no daily quota, or for
// staff, none applies (the seed's behaviour). Otherwise: a valid snapshot
// of today gives the person's remaining time at issue (a person not in it
// has the full quota), less offline use since the snapshot was issued;
// without one (none fetched, expired, or of another day) the person has
// the full daily quota less offline use today.
func OfflineQuotaLeft(in OfflineQuotaInput) *time.Duration {
	if in.Mode != StandaloneQuotasSnapshot || in.DailyMinutes <= 0 || in.Role == RoleAdmin || in.Role == RoleDelegate {
		return nil
	}
	full := time.Duration(in.DailyMinutes) * time.Minute
	s := in.Snapshot
	if s != nil && !in.Now.Before(s.DayStart) && in.Now.Before(s.DayEnd) && in.Now.Before(s.ValidUntil) {
		left := full
		for _, e := range s.Entries {
			if e.Principal == in.Principal && in.Principal != "" {
				left = time.Duration(e.SecondsLeft) * time.Second
			}
		}
		left -= in.UsedSince(maxTime(s.IssuedAt, in.DayStart))
		return &left
	}
	left := full - in.UsedSince(in.DayStart)
	return &left
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

// MaxJournalEntries bounds one upload.
const MaxJournalEntries = 1000

// AgentStatus is POST /v1/agent/status: the agent reports its mode, and
// since when. Coming back online, StandaloneFrom says when the standalone
// period that just ended began (the agent could not report it then).
type AgentStatus struct {
	Standalone     bool      `json:"standalone"`
	Since          time.Time `json:"since"`
	StandaloneFrom time.Time `json:"standalone_from,omitzero"`
}

// AgentService is the server side of standalone mode; every call needs
// the terminal's own token.
type AgentService interface {
	// AgentPolicy builds the terminal's policy now.
	AgentPolicy(ctx context.Context, c Caller) (*AgentPolicy, error)
	// UploadJournal records offline sessions (idempotently) and answers a
	// verdict for each.
	UploadJournal(ctx context.Context, c Caller, entries []JournalEntry) ([]JournalResult, error)
	// ReportAgentStatus records the agent's mode (terminal.standalone).
	ReportAgentStatus(ctx context.Context, c Caller, s AgentStatus) (*Terminal, error)
	// SetOfflineLogon allows or revokes a principal's offline logon
	// (staff): revoked, the next policy fetch of every agent leaves the
	// person's verifiers out, until it is allowed again.
	SetOfflineLogon(ctx context.Context, c Caller, principal string, enabled bool) error
}

// JournalClockSkew is how far in the future of the server's clock an
// uploaded entry may start or end (the agent's clock follows the server's).
const JournalClockSkew = 10 * time.Minute

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
