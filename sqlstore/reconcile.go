package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"latchkey"
)

// A reconciliation (task kind reconcile) goes through the terminals in ID
// order, a batch at a time: it asks each terminal of the batch for an
// inventory of the groups latchkey manages there, waits for the answers
// (at most the task's wait after asking), then, in one transaction fenced
// by the task's job claim, compares each answer with latchkey's grants,
// issues the corrections (with fix), records what it found per terminal
// and checkpoints. A node that takes the task over resumes after the last
// terminal recorded: the inventories it finds already asked are not asked
// again, and no batch is judged (or corrected) twice.

// reconcilePoll is how often a reconciliation looks for its batch's
// answers.
const reconcilePoll = 100 * time.Millisecond

// reconcileTerminal is a terminal of a batch; online says its agent
// polled lately (see agentOnline): one that did not is reported
// unreachable without waiting for it.
type reconcileTerminal struct {
	id, site string
	online   bool
}

// runReconcileTask is the runner of TaskReconcile.
func (s *Store) runReconcileTask(ctx context.Context, x latchkey.Task, steps taskSteps) (latchkey.TaskResult, error) {
	var p latchkey.ReconcileParams
	if err := json.Unmarshal(x.Params, &p); err != nil {
		return latchkey.TaskResult{}, err
	}
	size, wait, err := p.Settings()
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	for {
		var cursor string
		var done, remaining int
		if err := s.queryRow(ctx, "SELECT COALESCE(MAX(terminal_id), ''), COUNT(*) FROM reconcile_terminals WHERE task_id = ?", x.ID).Scan(&cursor, &done); err != nil {
			return latchkey.TaskResult{}, err
		}
		if err := s.queryRow(ctx, "SELECT COUNT(*) FROM terminals WHERE id > ?", cursor).Scan(&remaining); err != nil {
			return latchkey.TaskResult{}, err
		}
		batch, err := s.reconcileBatch(ctx, cursor, size)
		if err != nil {
			return latchkey.TaskResult{}, err
		}
		if len(batch) == 0 {
			if err := steps.checkpoint(latchkey.TaskProgress{Done: done, Total: done}, nil); err != nil {
				return latchkey.TaskResult{}, err
			}
			break
		}
		if err := steps.fenced(func(t *tx) error { return t.askInventories(x.ID, batch) }); err != nil {
			return latchkey.TaskResult{}, err
		}
		if err := s.awaitInventories(ctx, x.ID, batch, wait); err != nil {
			return latchkey.TaskResult{}, err
		}
		progress := latchkey.TaskProgress{Done: done + len(batch), Total: done + max(remaining, len(batch))}
		if err := steps.checkpoint(progress, func(t *tx) error { return t.judgeBatch(x.ID, p.Fix, batch) }); err != nil {
			return latchkey.TaskResult{}, err
		}
	}
	found, err := s.reconcileFindings(ctx, x.ID)
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	b, err := json.Marshal(latchkey.SummarizeReconcile(p.Fix, found))
	if err != nil {
		return latchkey.TaskResult{}, err
	}
	return latchkey.TaskResult{ContentType: "application/json", Body: b}, nil
}

// reconcileBatch is the next batch of terminals after cursor, in ID order.
func (s *Store) reconcileBatch(ctx context.Context, cursor string, size int) ([]reconcileTerminal, error) {
	rows, err := s.query(ctx, "SELECT id, site_id, agent_seen_at FROM terminals WHERE id > ? ORDER BY id LIMIT ?", cursor, size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reconcileTerminal
	now := s.now()
	for rows.Next() {
		var r reconcileTerminal
		var seen int64
		if err := rows.Scan(&r.id, &r.site, &seen); err != nil {
			return nil, err
		}
		r.online = seen > 0 && now.Sub(fromUS(seen)) < agentOnline
		out = append(out, r)
	}
	return out, rows.Err()
}

// inventories are the task's inventory instructions to the batch's
// terminals, by terminal.
func (t *tx) inventories(task string, batch []reconcileTerminal) (map[string]latchkey.Instruction, error) {
	ins, err := scanInstructions(t.query("SELECT "+instrCols+" FROM instructions WHERE task_id = ? AND kind = 'inventory' AND terminal_id >= ? AND terminal_id <= ?",
		task, batch[0].id, batch[len(batch)-1].id))
	if err != nil {
		return nil, err
	}
	out := map[string]latchkey.Instruction{}
	for _, in := range ins {
		out[in.Terminal] = in
	}
	return out, nil
}

// askInventories issues an inventory to each terminal of the batch whose
// agent is online, that has groups latchkey manages, and that this task
// has not asked yet.
func (t *tx) askInventories(task string, batch []reconcileTerminal) error {
	asked, err := t.inventories(task, batch)
	if err != nil {
		return err
	}
	groups := map[string][]string{}
	for _, term := range batch {
		if _, ok := asked[term.id]; ok || !term.online {
			continue
		}
		managed, ok := groups[term.site]
		if !ok {
			if managed, err = t.groupsAt(term.site); err != nil {
				return err
			}
			groups[term.site] = managed
		}
		if len(managed) == 0 {
			continue // nothing latchkey manages there: nothing to ask
		}
		in := latchkey.Instruction{ID: latchkey.NewID("ins"), Terminal: term.id, Kind: latchkey.InstrInventory, Groups: managed,
			IssuedAt: t.now, State: latchkey.InstrPending, ReadyAt: t.now, Task: task}
		if err := t.insertInstruction(in); err != nil {
			return err
		}
	}
	return nil
}

// awaitInventories waits until every inventory of the batch is answered,
// or has waited wait since it was issued.
func (s *Store) awaitInventories(ctx context.Context, task string, batch []reconcileTerminal, wait time.Duration) error {
	for {
		var open int
		var oldest *int64
		if err := s.queryRow(ctx, `SELECT COUNT(*), MIN(issued_at) FROM instructions WHERE task_id = ? AND kind = 'inventory'
			AND terminal_id >= ? AND terminal_id <= ? AND state IN ('pending', 'delivered')`,
			task, batch[0].id, batch[len(batch)-1].id).Scan(&open, &oldest); err != nil {
			return err
		}
		if open == 0 || oldest == nil || !s.now().Before(fromUS(*oldest).Add(wait)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(reconcilePoll):
		}
	}
}

// judgeBatch compares each terminal's inventory with latchkey's grants,
// issues the corrections (with fix) and records the findings. An
// inventory still unanswered is cancelled: the terminal is reported
// unreachable, as is one with managed groups that was not asked (its
// agent was offline).
func (t *tx) judgeBatch(task string, fix bool, batch []reconcileTerminal) error {
	asked, err := t.inventories(task, batch)
	if err != nil {
		return err
	}
	groups := map[string][]string{}
	for _, term := range batch {
		d := latchkey.TerminalDrift{Terminal: term.id}
		in, ok := asked[term.id]
		switch {
		case !ok: // not asked: nothing managed there, or its agent is offline
			managed, known := groups[term.site]
			if !known {
				if managed, err = t.groupsAt(term.site); err != nil {
					return err
				}
				groups[term.site] = managed
			}
			d.Unreachable = len(managed) > 0
		case in.State != latchkey.InstrDone:
			d.Unreachable = true
			in.State, in.LockedUntil = latchkey.InstrCancelled, time.Time{}
			if err := t.saveInstruction(in); err != nil {
				return err
			}
		case in.Result != latchkey.ReplyOK:
			d.Error = in.Detail
		default:
			if err := t.judgeTerminal(task, fix, in, &d); err != nil {
				return err
			}
		}
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if _, err := t.exec("INSERT INTO reconcile_terminals (task_id, terminal_id, drift_json) VALUES (?, ?, ?)", task, term.id, string(b)); err != nil {
			return err
		}
	}
	return nil
}

// judgeTerminal finds one terminal's drift from its answered inventory
// and, with fix, issues its corrections. The terminal's row is locked
// first, so that no check-out starts on it meanwhile.
func (t *tx) judgeTerminal(task string, fix bool, inv latchkey.Instruction, d *latchkey.TerminalDrift) error {
	var gen int64
	if err := t.queryRow("SELECT checkout_generation FROM terminals WHERE id = ?"+t.s.d.forUpdate(), inv.Terminal).Scan(&gen); err != nil {
		return fmt.Errorf("terminal %s: %w", inv.Terminal, err)
	}
	rows, err := t.query("SELECT "+checkoutCols+" FROM checkouts WHERE terminal_id = ? AND status IN ('checking_out', 'checked_out') ORDER BY generation DESC", inv.Terminal)
	if err != nil {
		return err
	}
	var checkouts []latchkey.Checkout
	for rows.Next() {
		c, err := scanCheckout(rows)
		if err != nil {
			rows.Close()
			return err
		}
		checkouts = append(checkouts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	open, err := t.openInstructions(inv.Terminal)
	if err != nil {
		return err
	}
	g := latchkey.TerminalGrants{Managed: inv.Groups, Checkouts: checkouts, Open: open}
	d.Unexpected, d.Missing = latchkey.FindDrift(g, inv.Members, t.now)
	if !fix || !d.Drifted() {
		return nil
	}
	for _, in := range latchkey.DriftFixes(inv.Terminal, d.Unexpected, d.Missing, checkouts, uint64(gen), t.now) {
		in.ID, in.Task = latchkey.NewID("ins"), task
		if err := t.insertInstruction(in); err != nil {
			return err
		}
		d.Fixes = append(d.Fixes, in.ID)
	}
	t.record("system", inv.Terminal, latchkey.ActionTaskFix, task, map[string]any{"unexpected": d.Unexpected, "missing": d.Missing, "instructions": d.Fixes})
	return nil
}

// reconcileFindings are what the task found on each terminal, in order.
func (s *Store) reconcileFindings(ctx context.Context, task string) ([]latchkey.TerminalDrift, error) {
	rows, err := s.query(ctx, "SELECT drift_json FROM reconcile_terminals WHERE task_id = ? ORDER BY terminal_id", task)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []latchkey.TerminalDrift
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var d latchkey.TerminalDrift
		if err := json.Unmarshal([]byte(b), &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// taskReply records an agent's answer to an instruction a task issued
// (an inventory, or a correction without a check-out).
func (t *tx) taskReply(c latchkey.Caller, in latchkey.Instruction, r latchkey.Reply) error {
	in, changed := latchkey.DecideTaskReply(in, r)
	if !changed {
		return nil // a repeat, or too late: changes nothing
	}
	if err := t.saveInstruction(in); err != nil {
		return err
	}
	d := map[string]any{"instruction": in.ID, "kind": in.Kind, "result": r.Result, "detail": r.Detail}
	if in.Kind == latchkey.InstrInventory && r.Result == latchkey.ReplyOK {
		n := 0
		for _, logins := range in.Members {
			n += len(logins)
		}
		d["members"] = n
	} else {
		d["login"], d["groups"] = in.Login, in.Groups
	}
	t.record(c.TerminalID, c.TerminalID, latchkey.ActionTaskReply, in.Task, d)
	return nil
}
