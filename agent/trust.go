package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"latchkey"
)

// The agent runs as root and trusts nothing it is told. Before it
// executes an instruction it checks (Trust.Admit):
//
//   - the server's signature, under the key it pinned: the one given with
//     --server-key, or (only when none was given) the first one it saw,
//     kept in its state directory (trust on first use);
//   - that the instruction is for its own terminal;
//   - every name, with the server's own rules (latchkey.ValidLogin,
//     latchkey.ValidGroupName), so nothing reaches gpasswd that it could
//     read as an option, a path or a second argument;
//   - for a grant, that every group is one it may grant: a group of the
//     group sets the server's signed policy lists for this terminal, and
//     of --allow-group when given (it narrows, never widens);
//   - the membership's end: a grant runs at most --max-minutes from when
//     it is executed; a later end is clipped to that, and the reply says
//     so.
//
// A removal (checkin) needs no allowed group: the agent only ever removes
// memberships it granted itself (latchkey.ApplyInstruction), so what it
// granted before --allow-group narrowed still goes.

// DefaultMaxMinutes is the longest membership the agent grants by default.
const DefaultMaxMinutes = 24 * 60

// Journal state key of the pinned server key (and, from before the whole
// policy was signed, of the quota snapshot's key: the same key).
const (
	stateServerKey = "server_key"
	stateLegacyKey = "snapshot_key"
)

// TrustOptions configure what the agent accepts.
type TrustOptions struct {
	// ServerKey is the server's ed25519 public key in base64 (serve and
	// `latchkey terminal register` print it). Empty: the first key seen is
	// pinned and kept in the journal.
	ServerKey string
	// AllowGroups narrows the groups the agent grants to these (nil: those
	// of the server's policy).
	AllowGroups []string
	// MaxMinutes caps every membership (0: DefaultMaxMinutes).
	MaxMinutes int
	Log        *slog.Logger
	// Clock is what the policy's age is measured on (default: the
	// machine's).
	Clock Clock
}

// Trust holds the pinned server key and what the last verified policy
// allows. It is safe for concurrent use; the instruction loop and the
// gateway share one.
type Trust struct {
	j   *Journal
	o   TrustOptions
	log *slog.Logger

	mu       sync.Mutex
	key      string    // pinned ("" until the first policy, on first use)
	groups   []string  // of the last verified policy
	terminal string    // of the last verified policy ("" until one)
	at       time.Time // when it was accepted (by its clock)
	issued   time.Time // the newest issued_at accepted
}

// policyReplaySkew is how much older than the newest policy accepted a
// policy may be issued (the nodes of a cluster sign with their own
// clocks); an older one is refused as a replay.
const policyReplaySkew = 5 * time.Minute

// OpenTrust checks the options and loads the pinned key from the journal.
// A key given in the options wins over a pinned one (and replaces it).
func OpenTrust(ctx context.Context, j *Journal, o TrustOptions) (*Trust, error) {
	if o.MaxMinutes == 0 {
		o.MaxMinutes = DefaultMaxMinutes
	}
	if o.MaxMinutes < 1 {
		return nil, errors.New("max minutes must be at least 1")
	}
	for _, g := range o.AllowGroups {
		if !latchkey.ValidGroupName(g) {
			return nil, fmt.Errorf("allowed group %q: %s", g, latchkey.GroupNameRule)
		}
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	t := &Trust{j: j, o: o, log: o.Log}
	if t.log == nil {
		t.log = slog.Default()
	}
	var stored string
	if _, err := j.getState(ctx, stateServerKey, &stored); err != nil {
		return nil, err
	}
	if stored == "" {
		if _, err := j.getState(ctx, stateLegacyKey, &stored); err != nil {
			return nil, err
		}
	}
	switch {
	case o.ServerKey != "":
		if _, err := latchkey.ParsePublicKey(o.ServerKey); err != nil {
			return nil, err
		}
		if stored != "" && stored != o.ServerKey {
			t.log.Warn("the server key given replaces the one pinned in the state directory", "given", o.ServerKey, "pinned", stored)
		}
		if err := j.putState(ctx, stateServerKey, o.ServerKey); err != nil {
			return nil, err
		}
		t.key = o.ServerKey
	case stored != "":
		if _, err := latchkey.ParsePublicKey(stored); err != nil {
			return nil, fmt.Errorf("the server key pinned in the state directory: %w", err)
		}
		t.key = stored
	}
	return t, nil
}

// Key returns the pinned server key ("" before the first policy when none
// was given).
func (t *Trust) Key() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.key
}

// Terminal returns the terminal of the last verified policy.
func (t *Trust) Terminal() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.terminal
}

// HasPolicy reports whether a verified policy has been accepted since the
// agent started.
func (t *Trust) HasPolicy() bool { return t.Terminal() != "" }

// AcceptPolicy checks a policy's signature under the pinned key (with no
// key pinned, under the key it names, which is then pinned) and takes its
// terminal and groups. A policy that does not verify, or that was issued
// well before one already accepted (a replay), changes nothing.
func (t *Trust) AcceptPolicy(ctx context.Context, p *latchkey.AgentPolicy) error {
	key := t.Key()
	first := key == ""
	if first {
		if p.ServerKey == "" {
			return fmt.Errorf("policy refused: %w", latchkey.ErrUnsigned)
		}
		if _, err := latchkey.ParsePublicKey(p.ServerKey); err != nil {
			return fmt.Errorf("policy refused: %w", err)
		}
		key = p.ServerKey
	}
	if err := p.VerifySignature(key); err != nil {
		if p.ServerKey != "" && p.ServerKey != key {
			return fmt.Errorf("policy refused: it names server key %s, not the pinned %s: %w", p.ServerKey, key, err)
		}
		return fmt.Errorf("policy refused: %w", err)
	}
	if p.Terminal == "" {
		return errors.New("policy refused: it names no terminal")
	}
	t.mu.Lock()
	newest := t.issued
	t.mu.Unlock()
	if !newest.IsZero() && p.IssuedAt.Before(newest.Add(-policyReplaySkew)) {
		return fmt.Errorf("policy refused: issued at %s, well before one already accepted (issued at %s): a replay?",
			p.IssuedAt.UTC().Format(time.RFC3339), newest.UTC().Format(time.RFC3339))
	}
	if first {
		if err := t.j.putState(context.WithoutCancel(ctx), stateServerKey, key); err != nil {
			return err
		}
		t.log.Warn("pinned the server key on first use (give --server-key to pin it in advance)", "key", key)
	}
	groups := slices.Clone(p.Groups)
	t.mu.Lock()
	defer t.mu.Unlock()
	if first {
		t.key = key
	}
	t.groups, t.terminal, t.at = groups, p.Terminal, t.o.Clock.Wall()
	if p.IssuedAt.After(t.issued) {
		t.issued = p.IssuedAt
	}
	return nil
}

// Allowed reports whether the agent may grant group: the last verified
// policy lists it, and so does --allow-group when given.
func (t *Trust) Allowed(group string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Contains(t.groups, group) && (t.o.AllowGroups == nil || slices.Contains(t.o.AllowGroups, group))
}

// narrowedOut reports whether --allow-group leaves group out (a fresh
// policy cannot change that).
func (t *Trust) narrowedOut(group string) bool {
	return t.o.AllowGroups != nil && !slices.Contains(t.o.AllowGroups, group)
}

// Refusal is an instruction the agent will not execute. Final says the
// instruction is the server's own (its signature verified) and is refused
// for good, so the refusal is journalled like an execution; a refusal that
// is not final (no or a bad signature, not for this terminal, no policy
// yet) is only replied to, and a genuine copy may still be executed.
type Refusal struct {
	Reason string
	Final  bool
}

func (r *Refusal) Error() string { return "refused by the agent: " + r.Reason }

// policyMaxAge is how old the last verified policy may be when the agent
// decides on a grant; an older one is fetched again first, so that the
// groups allowed follow the server's group sets even without a gateway
// refreshing the policy.
const policyMaxAge = time.Minute

// needsPolicy reports whether a fresh policy could change the verdict on
// in: none verified yet, or a grant while the last one is older than
// policyMaxAge or did not list one of its groups.
func (t *Trust) needsPolicy(in latchkey.Instruction) bool {
	t.mu.Lock()
	none, stale := t.terminal == "", t.o.Clock.Wall().Sub(t.at) > policyMaxAge
	t.mu.Unlock()
	switch {
	case none:
		return true
	case in.Kind != latchkey.InstrCheckout:
		return false
	case stale:
		return true
	}
	for _, g := range in.Groups {
		if latchkey.ValidGroupName(g) && !t.narrowedOut(g) && !t.Allowed(g) {
			return true
		}
	}
	return false
}

// Admit decides whether the agent executes in now: it returns the
// instruction to execute (a grant's end clipped to --max-minutes, with a
// note saying so), or a *Refusal.
func (t *Trust) Admit(in latchkey.Instruction, now time.Time) (latchkey.Instruction, string, error) {
	key := t.Key()
	if key == "" {
		return in, "", &Refusal{Reason: "no server key is pinned yet (no verified policy): nothing is executed"}
	}
	if err := in.VerifySignature(key); err != nil {
		return in, "", &Refusal{Reason: "instruction " + in.ID + ": " + err.Error()}
	}
	terminal := t.Terminal()
	if terminal == "" {
		return in, "", &Refusal{Reason: "no verified policy yet: the agent does not know its terminal"}
	}
	if in.Terminal != terminal {
		return in, "", &Refusal{Reason: fmt.Sprintf("instruction for terminal %q, this is %s", in.Terminal, terminal)}
	}
	final := func(format string, a ...any) error { return &Refusal{Reason: fmt.Sprintf(format, a...), Final: true} }
	if in.Kind == latchkey.InstrInventory { // reads the groups it names, changes nothing
		if len(in.Groups) == 0 || len(in.Groups) > latchkey.MaxInventoryGroups {
			return in, "", final("an inventory names 1 to %d groups", latchkey.MaxInventoryGroups)
		}
		for _, g := range in.Groups {
			if !latchkey.ValidGroupName(g) {
				return in, "", final("group %q: %s", g, latchkey.GroupNameRule)
			}
		}
		return in, "", nil
	}
	if in.Kind != latchkey.InstrCheckout && in.Kind != latchkey.InstrCheckin {
		return in, "", final("unknown instruction kind %q", in.Kind)
	}
	if !latchkey.ValidLogin(in.Login) {
		return in, "", final("login %q: %s", in.Login, latchkey.LoginRule)
	}
	if len(in.Groups) == 0 || len(in.Groups) > latchkey.MaxGroupSetGroups {
		return in, "", final("an instruction names 1 to %d groups", latchkey.MaxGroupSetGroups)
	}
	for _, g := range in.Groups {
		if !latchkey.ValidGroupName(g) {
			return in, "", final("group %q: %s", g, latchkey.GroupNameRule)
		}
		if in.Kind == latchkey.InstrCheckout && !t.Allowed(g) {
			if t.narrowedOut(g) {
				return in, "", final("group %s is not allowed on this workstation (--allow-group)", g)
			}
			return in, "", final("group %s is not in a group set the server's policy allows on this terminal", g)
		}
	}
	in.Groups = slices.Clone(in.Groups)
	limit := now.Add(time.Duration(t.o.MaxMinutes) * time.Minute)
	if in.Kind == latchkey.InstrCheckout && in.EndsAt.After(limit) {
		note := fmt.Sprintf("membership capped at %d minutes (--max-minutes): it ends %s, not %s",
			t.o.MaxMinutes, limit.UTC().Format(time.RFC3339), in.EndsAt.UTC().Format(time.RFC3339))
		in.EndsAt = limit
		return in, note, nil
	}
	return in, "", nil
}
