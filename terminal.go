package latchkey

import (
	"context"
	"time"
)

// Terminal is a counter, PC or workstation. Its token is shown once, at
// registration.
type Terminal struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	SiteID    string    `json:"site"`
	CreatedAt time.Time `json:"created_at"`
	Token     string    `json:"token,omitempty"`
	// ServerKey is the server's ed25519 public key (base64), shown with a
	// new token: the terminal's agent pins it (--server-key).
	ServerKey string `json:"server_key,omitempty"`
	// Online (the agent polled within two poll periods) and LockedGroups
	// (groups of instructions delivered and not yet answered) come from
	// the agent's polls; Standalone is reported by the agent (issue 5).
	AgentSeenAt  *time.Time `json:"agent_seen_at,omitempty"`
	Online       bool       `json:"online"`
	Standalone   bool       `json:"standalone"`
	LockedGroups []string   `json:"locked_groups"`
}

// TerminalService registers terminals. A terminal token sees only itself.
type TerminalService interface {
	// RegisterTerminal returns the terminal with its token, shown once.
	// Errors: bad_request (unknown site: details.field "site"), forbidden.
	RegisterTerminal(ctx context.Context, c Caller, name, siteID string) (*Terminal, error)
	GetTerminal(ctx context.Context, c Caller, id string) (*Terminal, error)
	ListTerminals(ctx context.Context, c Caller, page Page) ([]Terminal, string, error)
	// TerminalNames names, in one read, the terminals of ids that c may
	// read (CanReadTerminal), by ID; unknown ones are left out.
	TerminalNames(ctx context.Context, c Caller, ids []string) (map[string]string, error)
	// RotateTerminalToken returns a new token for the terminal, shown once;
	// its old tokens stop working at once (CanRotateTerminalToken).
	// Errors: forbidden, not_found.
	RotateTerminalToken(ctx context.Context, c Caller, terminalID string) (string, error)
}
