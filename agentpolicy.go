package latchkey

import (
	"context"
	"time"
)

// The agent's side of standalone mode (API.md "Reservations and standalone
// mode"): the policy it caches and the status it reports. The signed quota
// snapshot is in quota.go, the journal of offline sessions in journal.go.

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
