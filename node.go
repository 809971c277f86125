package latchkey

import (
	"context"
	"time"
)

// A Node is one `latchkey serve` process of a cluster. Every node
// heartbeats into the store; it is alive while its last beat, judged by
// the store's clock (never the node's own), is younger than the dead-after
// time (API.md "Health and operations").
type Node struct {
	ID        string    `json:"id"`
	Addr      string    `json:"addr"`
	StartedAt time.Time `json:"started_at"` // its first heartbeat, by the store's clock
	LastSeen  time.Time `json:"last_seen"`
	Alive     bool      `json:"alive"`
}

// Node liveness defaults.
const (
	// DefaultHeartbeat is how often a node beats.
	DefaultHeartbeat = time.Second
	// DefaultNodeDeadAfter is how long after its last beat a node is
	// taken for dead.
	DefaultNodeDeadAfter = 3 * time.Second
	// NodeForgetAfter is how long a dead node stays listed.
	NodeForgetAfter = 24 * time.Hour
)

// NewNodeID returns a fresh node ID ("node_..."): a node takes a new one
// at every start, so a restarted process is a new node and its old row
// ages out.
func NewNodeID() string { return NewID("node") }

// NodeAlive says whether a node last seen at lastSeen is alive at now.
func NodeAlive(lastSeen, now time.Time, deadAfter time.Duration) bool {
	return now.Sub(lastSeen) < deadAfter
}

// OutageGrace is the time to give back to leases when the cluster shows
// its first sign of life at now after its last at lastBeat: the whole
// silence, when it lasted longer than deadAfter (the database could not
// be reached, or every node was down, so no holder could renew and no
// sweep ran); else nothing. A zero lastBeat (none yet) gives nothing.
func OutageGrace(lastBeat, now time.Time, deadAfter time.Duration) time.Duration {
	if lastBeat.IsZero() || now.Sub(lastBeat) <= deadAfter {
		return 0
	}
	return now.Sub(lastBeat)
}

// NodeService keeps the cluster's node registry.
type NodeService interface {
	// Heartbeat records that the node is alive now (by the store's clock).
	Heartbeat(ctx context.Context, n Node) error
	// Leave marks a node that stops cleanly as not alive at once.
	Leave(ctx context.Context, id string) error
	// Nodes lists the nodes (admins), each judged alive or not.
	Nodes(ctx context.Context, c Caller) ([]Node, error)
}

// CanListNodes: the cluster's nodes are for admins.
func CanListNodes(c Caller) error {
	if c.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "the cluster's nodes are listed by an admin")
	}
	return nil
}
