package sqlstore

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"latchkey"
)

var _ latchkey.AgentService = (*Store)(nil)

// Defaults of the offline logon verifiers in a policy.
const (
	DefaultOfflineDays = 14
	DefaultOfflineCap  = 200
	policyHorizon      = 24 * time.Hour
)

// AgentPolicy builds the policy of the caller's terminal: its site's
// settings, its reservations of the next 24 hours, the offline logon
// verifiers of admins, of people with a reservation there in that time
// and of people who used the site recently, the signed quota snapshot of
// the non-staff among them, and the groups of the group sets that may be
// checked out there; the whole document is signed with the server's key.
func (s *Store) AgentPolicy(ctx context.Context, c latchkey.Caller) (*latchkey.AgentPolicy, error) {
	if err := latchkey.CanActAsAgent(c, "the agent policy is read with a terminal token"); err != nil {
		return nil, err
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	var out latchkey.AgentPolicy
	err = s.read(ctx, func(t *tx) error {
		site, err := t.siteOfTerminal(c.TerminalID)
		if err != nil {
			return err
		}
		out = latchkey.AgentPolicy{Site: site, Terminal: c.TerminalID, IssuedAt: t.now, Reservations: []latchkey.Reservation{},
			ReservationGraceSeconds: int(t.s.opts.ReservationGrace / time.Second)}
		rs, err := t.terminalReservations(c.TerminalID, us(t.now))
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Start.Before(t.now.Add(policyHorizon)) {
				out.Reservations = append(out.Reservations, r)
			}
		}
		if out.Verifiers, err = t.offlineVerifiers(c.TerminalID, site, out.Reservations); err != nil {
			return err
		}
		if out.Groups, err = t.groupsAt(site.ID); err != nil {
			return err
		}
		if site.StandaloneQuotas == latchkey.StandaloneQuotasSnapshot && site.DailyQuotaMinutes > 0 {
			out.QuotaSnapshot, err = t.quotaSnapshot(c.TerminalID, site, out.Verifiers)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.recordSentVerifiers(ctx, c.TerminalID, out.Verifiers, out.IssuedAt); err != nil {
		return nil, err
	}
	if out.QuotaSnapshot != nil {
		if err := out.QuotaSnapshot.Sign(key); err != nil {
			return nil, err
		}
	}
	if err := out.Sign(key); err != nil {
		return nil, err
	}
	return &out, nil
}

// offlineVerifiers lists the verifiers the terminal's agent may cache:
// enabled principals whose offline logon is not revoked, that are admins,
// hold a reservation there in the next 24 hours (rs), or logged on at the
// site online within the offline days (a journal entry's standalone
// session never counts: a terminal token cannot pull a person's verifier
// into any policy). A verifier expires the offline days after the person's last
// online logon (or after it was made, if later); a reserved person's
// lasts at least until the reservation ends. Admins come first, then the
// reserved, then the most recent users, up to the cap.
func (t *tx) offlineVerifiers(terminal string, site latchkey.Site, rs []latchkey.Reservation) ([]latchkey.CachedVerifier, error) {
	days := time.Duration(t.s.opts.OfflineDays) * 24 * time.Hour
	reservedUntil := map[string]time.Time{}
	for _, r := range rs {
		if r.End().After(reservedUntil[r.Principal]) {
			reservedUntil[r.Principal] = r.End()
		}
	}
	rows, err := t.query(`SELECT i.login, i.principal_id, p.role, i.offline_verifier, i.offline_verifier_at, COALESCE(i.last_login_at, 0)
		FROM identities i JOIN principals p ON p.id = i.principal_id
		WHERE p.disabled = FALSE AND p.offline_logon = TRUE AND i.offline_verifier <> '' AND (p.role = 'admin'
			OR p.id IN (SELECT principal_id FROM reservations WHERE terminal_id = ? AND start_at < ? AND start_at + minutes * CAST(60000000 AS BIGINT) > ?)
			OR p.id IN (SELECT principal_id FROM sessions WHERE site_id = ? AND started_at > ? AND standalone = FALSE))`,
		terminal, us(t.now.Add(policyHorizon)), us(t.now), site.ID, us(t.now.Add(-days)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type ranked struct {
		v    latchkey.CachedVerifier
		rank int
		base time.Time
	}
	var all []ranked
	for rows.Next() {
		var r ranked
		var made, last int64
		if err := rows.Scan(&r.v.Login, &r.v.Principal, &r.v.Role, &r.v.Verifier, &made, &last); err != nil {
			return nil, err
		}
		r.base = fromUS(max(made, last))
		r.v.ExpiresAt = r.base.Add(days)
		r.rank = 2
		if until, ok := reservedUntil[r.v.Principal]; ok {
			r.rank = 1
			if until.After(r.v.ExpiresAt) {
				r.v.ExpiresAt = until
			}
		}
		if r.v.Role == latchkey.RoleAdmin {
			r.rank = 0
		}
		if r.v.ExpiresAt.After(t.now) {
			all = append(all, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b ranked) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return b.base.Compare(a.base)
	})
	out := []latchkey.CachedVerifier{}
	for _, r := range all[:min(len(all), t.s.opts.OfflineCap)] {
		out = append(out, r.v)
	}
	return out, nil
}

// quotaSnapshot states the remaining quota of the users among the cached
// people, for the site's day now.
func (t *tx) quotaSnapshot(terminal string, site latchkey.Site, vs []latchkey.CachedVerifier) (*latchkey.QuotaSnapshot, error) {
	loc, err := time.LoadLocation(site.Timezone)
	if err != nil {
		return nil, err
	}
	dayStart, dayEnd := latchkey.QuotaDay(t.now, loc)
	q := &latchkey.QuotaSnapshot{Terminal: terminal, IssuedAt: t.now, ValidUntil: minT(dayEnd, t.now.Add(policyHorizon)),
		DayStart: dayStart.UTC(), DayEnd: dayEnd.UTC(), DailyMinutes: site.DailyQuotaMinutes, Entries: []latchkey.QuotaEntry{}}
	users := map[string]bool{}
	for _, v := range vs {
		if v.Role == latchkey.RoleUser {
			users[v.Principal] = true
		}
	}
	if len(users) == 0 {
		return q, nil
	}
	people := make([]string, 0, len(users))
	for p := range users {
		people = append(people, p)
	}
	used, err := t.quotaUsedBy(site.ID, dayStart, dayEnd, people)
	if err != nil {
		return nil, err
	}
	full := time.Duration(site.DailyQuotaMinutes) * time.Minute
	for _, p := range people {
		left := full - used[p]
		q.Entries = append(q.Entries, latchkey.QuotaEntry{Principal: p, SecondsLeft: int64(left / time.Second)})
	}
	slices.SortFunc(q.Entries, func(a, b latchkey.QuotaEntry) int { return strings.Compare(a.Principal, b.Principal) })
	return q, nil
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ServerKey returns the server's ed25519 public key (base64), made on
// first use: what agents pin (`--server-key`), printed by serve and shown
// when a terminal is registered.
func (s *Store) ServerKey(ctx context.Context) (string, error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return "", err
	}
	return latchkey.PublicKeyText(key), nil
}

// signingKey loads (making it on first use) the server's ed25519 key: it
// signs agent policies, instructions and quota snapshots. Every node of a
// cluster reads the same row.
func (s *Store) signingKey(ctx context.Context) (ed25519.PrivateKey, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	load := func() (ed25519.PrivateKey, error) {
		var enc string
		if err := s.queryRow(ctx, "SELECT private_key FROM server_keys WHERE id = 'quota'").Scan(&enc); err != nil {
			return nil, err
		}
		seed, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, latchkey.Errorf(latchkey.EINTERNAL, "the stored quota signing key is malformed")
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	key, err := load()
	if err != nil {
		_, fresh, gerr := ed25519.GenerateKey(nil)
		if gerr != nil {
			return nil, gerr
		}
		if err := s.write(ctx, func(t *tx) error {
			_, err := t.exec("INSERT INTO server_keys (id, private_key, created_at) VALUES ('quota', ?, ?) ON CONFLICT (id) DO NOTHING",
				base64.StdEncoding.EncodeToString(fresh.Seed()), us(t.now))
			return err
		}); err != nil {
			return nil, err
		}
		if key, err = load(); err != nil {
			return nil, err
		}
	}
	s.key = key
	return key, nil
}
