package latchkey

import "time"

// Standalone logon (API.md "Reservations and standalone mode",
// seeds/standalone-mode.txt): who a terminal lets log on while the server
// is unreachable, decided by the agent over the policy it cached.

// StandaloneAuth is a site's standalone logon setting: who a terminal
// lets log on while the server is unreachable.
type StandaloneAuth string

// Standalone logon settings of a site.
const (
	StandaloneAuthAny    StandaloneAuth = "any"
	StandaloneAuthCached StandaloneAuth = "cached"
)

// Valid reports whether a is one of the settings.
func (a StandaloneAuth) Valid() bool { return a == StandaloneAuthAny || a == StandaloneAuthCached }

// Offline failed-attempt limit: after MaxOfflineFailures wrong passwords
// in a row a cached login is refused for OfflineLockout.
const (
	MaxOfflineFailures = 5
	OfflineLockout     = 5 * time.Minute
)

// CachedVerifier is what the agent keeps for offline logon of one login:
// a slow, salted verifier made for the agent (never the server's own
// hash), its owner and role, when it stops being valid, and the offline
// failed-attempt count.
type CachedVerifier struct {
	Login       string    `json:"login"`
	Principal   string    `json:"principal"`
	Role        Role      `json:"role"`
	Verifier    string    `json:"verifier"`
	ExpiresAt   time.Time `json:"expires_at"`
	Failures    int       `json:"-"`
	LockedUntil time.Time `json:"-"`
}

// StandaloneLogonInput is an offline logon attempt with what the agent
// knows: the site's settings, the verifier cached for the login (nil if
// none), the reservation holding the terminal (nil if none).
type StandaloneLogonInput struct {
	AllowStandalone bool
	Auth            StandaloneAuth
	Login, Password string
	Verifier        *CachedVerifier
	Holding         *Reservation
}

// StandaloneLogonDecision is the agent's answer: allowed or not, why, and
// the verifier's updated failure state (nil when untouched).
type StandaloneLogonDecision struct {
	Allowed   bool
	Reason    string // when refused: not_allowed | invalid_credentials | account_locked | reserved
	Principal string // when known
	Verifier  *CachedVerifier
}

// DecideStandaloneLogon is the offline logon rule:
//   - allow_standalone false: only admins, checked against their cached
//     verifier;
//   - allow_standalone true, auth any: any login and password (the seed's
//     behaviour; a known risk);
//   - allow_standalone true, auth cached: the password must match an
//     unexpired cached verifier; unknown logins are refused.
//
// A cached login is refused for OfflineLockout after MaxOfflineFailures
// wrong passwords in a row. While a reservation holds the terminal only
// its person (or an admin) may log on; with auth any that person is
// recognised by the login of their cached verifier. verify checks a
// password against a verifier.
func DecideStandaloneLogon(in StandaloneLogonInput, verify func(verifier, password string) bool, now time.Time) StandaloneLogonDecision {
	v := in.Verifier
	if v != nil && !now.Before(v.ExpiresAt) {
		v = nil // an expired verifier is no verifier
	}
	mustVerify := !in.AllowStandalone || in.Auth != StandaloneAuthAny
	d := StandaloneLogonDecision{}
	if v != nil {
		d.Principal = v.Principal
	}
	if mustVerify {
		if v == nil {
			return StandaloneLogonDecision{Reason: EINVALIDCREDENTIALS}
		}
		if now.Before(v.LockedUntil) {
			return StandaloneLogonDecision{Reason: EACCOUNTLOCKED, Principal: v.Principal}
		}
		nv := *v
		if !verify(v.Verifier, in.Password) {
			nv.Failures++
			if nv.Failures >= MaxOfflineFailures {
				nv.Failures, nv.LockedUntil = 0, now.Add(OfflineLockout)
			}
			return StandaloneLogonDecision{Reason: EINVALIDCREDENTIALS, Principal: v.Principal, Verifier: &nv}
		}
		nv.Failures, nv.LockedUntil = 0, time.Time{}
		d.Verifier = &nv
		if !in.AllowStandalone && v.Role != RoleAdmin {
			return StandaloneLogonDecision{Reason: "not_allowed", Principal: v.Principal, Verifier: &nv}
		}
	}
	if h := in.Holding; h != nil && !(v != nil && (v.Role == RoleAdmin || v.Principal == h.Principal)) {
		return StandaloneLogonDecision{Reason: "reserved", Principal: d.Principal, Verifier: d.Verifier}
	}
	d.Allowed = true
	return d
}
