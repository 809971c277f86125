package latchkey

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// QuotaUsed sums the minutes of sessions inside the day [dayStart,
// dayEnd): each session counts only the part that falls in the day; a
// running one (zero end) counts up to now.
func QuotaUsed(sessions [][2]time.Time, dayStart, dayEnd, now time.Time) time.Duration {
	var used time.Duration
	for _, s := range sessions {
		from, to := s[0], s[1]
		if to.IsZero() {
			to = now
		}
		from, to = maxTime(from, dayStart), minTime(to, dayEnd)
		if to.After(from) {
			used += to.Sub(from)
		}
	}
	return used
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// QuotaDay is the day (in loc) that contains t: midnight to midnight.
func QuotaDay(t time.Time, loc *time.Location) (time.Time, time.Time) {
	lt := t.In(loc)
	start := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	return start, start.AddDate(0, 0, 1)
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

// ErrBadSnapshot is returned for a quota snapshot whose signature does not
// verify under the pinned key.
var ErrBadSnapshot = errors.New("quota snapshot signature does not verify")

// Standalone quota settings of a site.
const (
	StandaloneQuotasOff      StandaloneQuotas = "off"
	StandaloneQuotasSnapshot StandaloneQuotas = "snapshot"
)
