package agent

import (
	"context"
	"time"

	"latchkey"
)

// loginOffline logs a person on in standalone mode by the cached policy:
// latchkey.DecideStandaloneLogon says who may (the offline failed-attempt
// counters are journalled), the reservations cached before the cut say
// whose turn it is, and latchkey.SessionAllowance with the offline quota
// says until when. The session is journalled, synced, before the person
// is let in.
func (g *Gateway) loginOffline(ctx context.Context, r LoginRequest) error {
	p := g.cachedPolicy()
	if p == nil {
		return latchkey.Errorf(latchkey.EUNAVAILABLE,
			"the server cannot be reached and the agent has no policy from it yet: nobody can log on until it is reached").
			With("offline", true)
	}
	dctx := context.WithoutCancel(ctx)
	now := g.clock.Now()
	v, err := g.verifierFor(dctx, p, r.Identity)
	if err != nil {
		return err
	}
	holding := latchkey.HoldingReservation(p.Reservations, now, p.ReservationGrace(),
		func(res latchkey.Reservation) bool { return g.showedUp(dctx, res) })
	d := latchkey.DecideStandaloneLogon(latchkey.StandaloneLogonInput{
		AllowStandalone: p.AllowStandalone, Auth: p.StandaloneAuth,
		Login: r.Identity, Password: r.Password, Verifier: v, Holding: holding,
	}, func(verifier, password string) bool { return g.verify(password, verifier) }, now)
	if d.Verifier != nil {
		if err := g.j.saveFailures(dctx, r.Identity, d.Verifier.Failures, d.Verifier.LockedUntil); err != nil {
			return err
		}
	}
	if !d.Allowed {
		g.log.Info("offline logon refused", "identity", r.Identity, "reason", d.Reason)
		return offlineRefusal(d, v, holding)
	}
	// Was the password checked? Always when a verifier was required; with
	// auth any, when a cached verifier matches it.
	verified := !p.AllowStandalone || p.StandaloneAuth != latchkey.StandaloneAuthAny
	if !verified && v != nil && now.Before(v.ExpiresAt) && g.verify(r.Password, v.Verifier) {
		verified = true
	}
	role := latchkey.RoleUser
	if verified && v != nil {
		role = v.Role
	}
	quotaLeft, dayEnd := g.offlineQuota(dctx, p, d.Principal, r.Identity, role, now)
	if quotaLeft != nil && *quotaLeft <= 0 {
		return latchkey.Errorf(latchkey.EQUOTAEXCEEDED, "the daily quota is used up").
			With("reset_at", dayEnd).With("offline", true)
	}
	var others []latchkey.Reservation
	for _, res := range p.Reservations {
		if d.Principal == "" || res.Principal != d.Principal {
			others = append(others, res)
		}
	}
	allow := latchkey.SessionAllowance(now, time.Duration(p.MaxSessionMinutes)*time.Minute, quotaLeft,
		latchkey.NextReservationStart(others, now), time.Duration(p.WarningSeconds)*time.Second)
	if old := g.current(); old != nil {
		if err := g.endSession(ctx, *old, g.sessionNow(old), latchkey.EndTerminalCleanup, endCleanup); err != nil {
			return err
		}
	}
	boot, bootID := g.clock.Boot()
	s := gwSession{ID: latchkey.NewID("ses"), Identity: r.Identity, Principal: d.Principal, Role: role,
		StartedAt: now, StartBoot: boot, BootID: bootID, EndsAt: allow.Ends, WarnAt: allow.WarnAt, Limit: string(allow.Reason),
		Standalone: true, Verified: verified, State: stateOffline}
	if holding != nil {
		s.Reservation = holding.ID
	}
	if err := g.store(ctx, s); err != nil {
		return err
	}
	if !verified {
		g.mu.Lock()
		g.passwords[s.ID] = r.Password
		g.mu.Unlock()
	}
	g.log.Info("logged on offline", "session", s.ID, "identity", s.Identity, "verified", verified, "ends_at", s.EndsAt)
	return nil
}

// findVerifier returns a copy of the policy's verifier for login, or nil.
func findVerifier(p *latchkey.AgentPolicy, login string) *latchkey.CachedVerifier {
	if p == nil {
		return nil
	}
	for _, v := range p.Verifiers {
		if v.Login == login {
			return &v
		}
	}
	return nil
}

// verifierFor returns the cached verifier for login with its journalled
// failure counters, or nil.
func (g *Gateway) verifierFor(ctx context.Context, p *latchkey.AgentPolicy, login string) (*latchkey.CachedVerifier, error) {
	v := findVerifier(p, login)
	if v == nil {
		return nil, nil
	}
	n, until, err := g.j.failures(ctx, login)
	if err != nil {
		return nil, err
	}
	v.Failures, v.LockedUntil = n, until
	return v, nil
}

// showedUp reports whether a reservation's person has logged on at this
// terminal since it started.
func (g *Gateway) showedUp(ctx context.Context, r latchkey.Reservation) bool {
	if r.Principal == "" {
		return false
	}
	spans, err := g.j.personSessions(ctx, r.Principal, "", r.Start)
	if err != nil {
		g.log.Error("journal sessions", "err", err)
		return false
	}
	for _, s := range spans {
		if !s[0].Before(r.Start) {
			return true
		}
	}
	return false
}

// offlineQuota is the person's quota left offline (nil: none applies) and
// the end of the site's day.
func (g *Gateway) offlineQuota(ctx context.Context, p *latchkey.AgentPolicy, principal, identity string, role latchkey.Role, now time.Time) (*time.Duration, time.Time) {
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil || p.Timezone == "" {
		loc = time.UTC
	}
	dayStart, dayEnd := latchkey.QuotaDay(now, loc)
	return latchkey.OfflineQuotaLeft(latchkey.OfflineQuotaInput{
		Mode: p.StandaloneQuotas, DailyMinutes: p.DailyQuotaMinutes, Principal: principal, Role: role,
		Snapshot: p.QuotaSnapshot, DayStart: dayStart, DayEnd: dayEnd, Now: now,
		UsedSince: func(t time.Time) time.Duration {
			spans, err := g.j.personSessions(ctx, principal, identity, t)
			if err != nil {
				g.log.Error("journal sessions", "err", err)
			}
			return latchkey.QuotaUsed(spans, t, dayEnd, now)
		},
	}), dayEnd
}

// offlineRefusal is the API error for a refused offline logon.
func offlineRefusal(d latchkey.StandaloneLogonDecision, v *latchkey.CachedVerifier, holding *latchkey.Reservation) error {
	var e *latchkey.Error
	switch d.Reason {
	case latchkey.EACCOUNTLOCKED:
		e = latchkey.Errorf(latchkey.EACCOUNTLOCKED, "too many failed attempts offline; try again later")
		if v != nil {
			e = e.With("until", v.LockedUntil)
		}
	case "not_allowed":
		e = latchkey.Errorf(latchkey.EFORBIDDEN,
			"the server cannot be reached and this site does not allow standalone logon: only administrators can log on now")
	case "reserved":
		e = latchkey.Errorf(latchkey.ECONFLICT, "the terminal is reserved for someone else now")
		if holding != nil {
			e = e.With("reservation", holding.ID).With("until", holding.End())
		}
	default:
		e = latchkey.Errorf(latchkey.EINVALIDCREDENTIALS,
			"wrong identity or password (checked offline against the cached verifiers: the server cannot be reached)")
	}
	return e.With("offline", true)
}
