package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"latchkey"
)

const terminalCols = "id, name, site_id, created_at, agent_seen_at, standalone"

func scanTerminal(row interface{ Scan(...any) error }) (latchkey.Terminal, error) {
	var x latchkey.Terminal
	var created, seen int64
	err := row.Scan(&x.ID, &x.Name, &x.SiteID, &created, &seen, &x.Standalone)
	x.CreatedAt = fromUS(created)
	if seen > 0 {
		t := fromUS(seen)
		x.AgentSeenAt = &t
	}
	x.LockedGroups = []string{}
	return x, err
}

// agentOnline is how recently a terminal's agent must have polled to
// count as online: two 30-second poll periods, plus the throttle of the
// seen time (agentSeenEvery).
const (
	agentOnline    = 75 * time.Second
	agentSeenEvery = 15 * time.Second
)

// withAgentState fills in what the agent makes known: online, and the
// groups locked by instructions waiting for its reply.
func (s *Store) withAgentState(ctx context.Context, x *latchkey.Terminal) error {
	return s.withAgentStates(ctx, []latchkey.Terminal{*x}, func(i int, y latchkey.Terminal) { *x = y })
}

// withAgentStates fills in the agent's state of several terminals in one
// read (ListTerminals), calling put with each as filled in.
func (s *Store) withAgentStates(ctx context.Context, xs []latchkey.Terminal, put func(int, latchkey.Terminal)) error {
	now := s.now()
	at := map[string]int{}
	ids := make([]string, len(xs))
	for i := range xs {
		xs[i].Online = xs[i].AgentSeenAt != nil && now.Sub(*xs[i].AgentSeenAt) < agentOnline
		at[xs[i].ID], ids[i] = i, xs[i].ID
	}
	err := s.read(ctx, func(t *tx) error {
		return t.inList("SELECT terminal_id, groups_json FROM instructions WHERE state = 'delivered' AND locked_until > ? AND kind <> 'inventory' AND terminal_id IN (%s)",
			[]any{us(now)}, ids, func(rows rowSet) error {
				var id, g string
				if err := rows.Scan(&id, &g); err != nil {
					return err
				}
				var groups []string
				if err := json.Unmarshal([]byte(g), &groups); err != nil {
					return err
				}
				x := &xs[at[id]]
				x.LockedGroups = append(x.LockedGroups, groups...)
				return nil
			})
	})
	if err != nil {
		return err
	}
	for i := range xs {
		slices.Sort(xs[i].LockedGroups)
		xs[i].LockedGroups = slices.Compact(xs[i].LockedGroups)
		put(i, xs[i])
	}
	return nil
}

// RegisterTerminal adds a terminal and returns it with its token, which is
// stored only as a hash.
func (s *Store) RegisterTerminal(ctx context.Context, c latchkey.Caller, name, siteID string) (*latchkey.Terminal, error) {
	if err := latchkey.CanManageSites(c); err != nil {
		return nil, err
	}
	if err := latchkey.ValidName("name", name); err != nil {
		return nil, err
	}
	key, err := s.ServerKey(ctx)
	if err != nil {
		return nil, err
	}
	x := latchkey.Terminal{ID: latchkey.NewID("term"), Name: name, SiteID: siteID, LockedGroups: []string{}, ServerKey: key}
	token, hash := newToken(terminalTokenPrefix)
	err = s.write(ctx, func(t *tx) error {
		if _, err := t.loadSite(siteID); err != nil {
			if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
				return latchkey.BadField("site", "site %q does not exist", siteID)
			}
			return err
		}
		x.CreatedAt = t.now
		if _, err := t.exec("INSERT INTO terminals (id, name, site_id, created_at) VALUES (?, ?, ?, ?)", x.ID, x.Name, x.SiteID, us(x.CreatedAt)); err != nil {
			return err
		}
		if _, err := t.exec("INSERT INTO tokens (hash, kind, terminal_id, created_at) VALUES (?, 'terminal', ?, ?)", hash, x.ID, us(t.now)); err != nil {
			return err
		}
		t.record(c.Actor(), x.ID, latchkey.ActionTerminalRegister, x.ID, map[string]any{"name": name, "site": siteID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	x.Token = token
	return &x, nil
}

// GetTerminal reads a terminal: people, or the terminal itself.
func (s *Store) GetTerminal(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Terminal, error) {
	if err := latchkey.CanReadTerminal(c, id); err != nil {
		return nil, err
	}
	x, err := scanTerminal(s.queryRow(ctx, "SELECT "+terminalCols+" FROM terminals WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "terminal %s not found", id)
	}
	return &x, s.withAgentState(ctx, &x)
}

// TerminalNames implements latchkey.TerminalService: one read of the
// names of the terminals c may read among ids.
func (s *Store) TerminalNames(ctx context.Context, c latchkey.Caller, ids []string) (map[string]string, error) {
	return s.namesOf(ctx, "terminals", ids, func(id string) bool { return latchkey.CanReadTerminal(c, id) == nil })
}

// PrincipalNames implements latchkey.PrincipalService: the names, in one
// read, of the people of ids that c may read.
func (s *Store) PrincipalNames(ctx context.Context, c latchkey.Caller, ids []string) (map[string]string, error) {
	return s.namesOf(ctx, "principals", ids, func(id string) bool { return latchkey.CanReadPrincipal(c, id) == nil })
}

// namesOf reads, in one read, the names of the rows of table (terminals
// or principals) whose IDs are among ids and pass may; the others are not
// in the map.
func (s *Store) namesOf(ctx context.Context, table string, ids []string, may func(string) bool) (map[string]string, error) {
	names := map[string]string{}
	var want []string
	seen := map[string]bool{}
	for _, id := range ids {
		if id != "" && !seen[id] && may(id) {
			seen[id] = true
			want = append(want, id)
		}
	}
	if len(want) == 0 {
		return names, nil
	}
	err := s.read(ctx, func(t *tx) error {
		return t.inList("SELECT id, name FROM "+table+" WHERE id IN (%s)", nil, want, func(rows rowSet) error {
			var id, name string
			if err := rows.Scan(&id, &name); err != nil {
				return err
			}
			names[id] = name
			return nil
		})
	})
	return names, err
}

// ListTerminals lists terminals (people only).
func (s *Store) ListTerminals(ctx context.Context, c latchkey.Caller, page latchkey.Page) ([]latchkey.Terminal, string, error) {
	if err := latchkey.CanListTerminals(c); err != nil {
		return nil, "", err
	}
	items, next, err := list(ctx, s, "SELECT "+terminalCols+" FROM terminals WHERE id > ?", page, scanTerminal,
		func(x latchkey.Terminal) string { return x.ID })
	if err != nil {
		return nil, "", err
	}
	if err := s.withAgentStates(ctx, items, func(int, latchkey.Terminal) {}); err != nil {
		return nil, "", err
	}
	return items, next, nil
}

// lockTerminal reads a terminal and (PostgreSQL) locks its row: every
// change to the sessions on a terminal holds it. Lock order is always
// terminal, then principal, then the audit head.
func (t *tx) lockTerminal(id string) (latchkey.Terminal, error) {
	x, err := scanTerminal(t.queryRow("SELECT "+terminalCols+" FROM terminals WHERE id = ?"+t.s.d.forUpdate(), id))
	return x, notFound(err, "terminal %s not found", id)
}

func (t *tx) siteOfTerminal(terminalID string) (latchkey.Site, error) {
	var siteID string
	if err := t.queryRow("SELECT site_id FROM terminals WHERE id = ?", terminalID).Scan(&siteID); err != nil {
		return latchkey.Site{}, notFound(err, "terminal %s not found", terminalID)
	}
	return t.loadSite(siteID)
}
