package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"latchkey"
)

var _ latchkey.CheckoutService = (*Store)(nil)

const checkoutCols = "id, groupset_id, terminal_id, principal_id, login, groups_json, status, generation, started_at, expires_at, end_reason, request_id"

func scanCheckout(row interface{ Scan(...any) error }) (latchkey.Checkout, error) {
	var x latchkey.Checkout
	var groups string
	var gen, started, expires int64
	if err := row.Scan(&x.ID, &x.GroupSet, &x.Terminal, &x.Principal, &x.Login, &groups, &x.Status, &gen,
		&started, &expires, &x.EndReason, &x.Request); err != nil {
		return x, err
	}
	x.Generation, x.StartedAt, x.ExpiresAt = uint64(gen), fromUS(started), fromUS(expires)
	return x, json.Unmarshal([]byte(groups), &x.Groups)
}

const instrCols = "id, checkout_id, terminal_id, kind, login, groups_json, generation, ends_at, issued_at, attempt, state, ready_at, locked_until, result, detail, task_id, fix, members_json"

func scanInstruction(row interface{ Scan(...any) error }) (latchkey.Instruction, error) {
	var x latchkey.Instruction
	var groups, members string
	var gen, ends, issued, ready, locked int64
	if err := row.Scan(&x.ID, &x.Checkout, &x.Terminal, &x.Kind, &x.Login, &groups, &gen, &ends, &issued, &x.Attempt,
		&x.State, &ready, &locked, &x.Result, &x.Detail, &x.Task, &x.Fix, &members); err != nil {
		return x, err
	}
	x.Generation, x.EndsAt, x.IssuedAt, x.ReadyAt, x.LockedUntil = uint64(gen), fromUS(ends), fromUS(issued), fromUS(ready), fromUS(locked)
	if members != "" {
		if err := json.Unmarshal([]byte(members), &x.Members); err != nil {
			return x, fmt.Errorf("instruction %s: members: %w", x.ID, err)
		}
	}
	return x, json.Unmarshal([]byte(groups), &x.Groups)
}

// scanInstructions reads the instructions a query returned.
func scanInstructions(rows rowSet, err error) ([]latchkey.Instruction, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []latchkey.Instruction
	for rows.Next() {
		x, err := scanInstruction(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

func jsonStrings(v []string) string {
	b, _ := json.Marshal(v) // strings only: cannot fail
	return string(b)
}

// membersJSON is an inventory's answer as stored ("" when there is none).
func membersJSON(m map[string][]string) string {
	if m == nil {
		return ""
	}
	b, _ := json.Marshal(m) // strings only: cannot fail
	return string(b)
}

func (t *tx) insertInstruction(x latchkey.Instruction) error {
	t.mail = append(t.mail, x.Terminal) // wake its agent's long-poll after the commit
	_, err := t.exec("INSERT INTO instructions ("+instrCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		x.ID, x.Checkout, x.Terminal, x.Kind, x.Login, jsonStrings(x.Groups), int64(x.Generation), us(x.EndsAt),
		us(x.IssuedAt), x.Attempt, x.State, us(x.ReadyAt), us(x.LockedUntil), x.Result, x.Detail, x.Task, x.Fix, membersJSON(x.Members))
	return err
}

func (t *tx) saveInstruction(x latchkey.Instruction) error {
	_, err := t.exec("UPDATE instructions SET attempt = ?, state = ?, ready_at = ?, locked_until = ?, result = ?, detail = ?, ends_at = ?, members_json = ? WHERE id = ?",
		x.Attempt, x.State, us(x.ReadyAt), us(x.LockedUntil), x.Result, x.Detail, us(x.EndsAt), membersJSON(x.Members), x.ID)
	return err
}

// saveOutcome writes what a check-out decision changed: the check-out
// (inserted when new), the instructions it changed, and the new one (with
// the IDs the shell assigns).
func (t *tx) saveOutcome(o *latchkey.CheckoutOutcome) error {
	isNew := o.Checkout.ID == ""
	o.AssignIDs(latchkey.NewID)
	if isNew {
		co := o.Checkout
		if _, err := t.exec("INSERT INTO checkouts ("+checkoutCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			co.ID, co.GroupSet, co.Terminal, co.Principal, co.Login, jsonStrings(co.Groups), co.Status, int64(co.Generation),
			us(co.StartedAt), us(co.ExpiresAt), co.EndReason, co.Request); err != nil {
			return err
		}
		if err := t.enqueueCheckoutJobs(co); err != nil {
			return err
		}
	} else if err := t.saveCheckout(o.Checkout); err != nil {
		return err
	}
	for _, in := range o.Changed {
		if err := t.saveInstruction(in); err != nil {
			return err
		}
	}
	if o.New != nil {
		return t.insertInstruction(*o.New)
	}
	return nil
}

func (t *tx) saveCheckout(x latchkey.Checkout) error {
	_, err := t.exec("UPDATE checkouts SET status = ?, end_reason = ?, expires_at = ? WHERE id = ?", x.Status, x.EndReason, us(x.ExpiresAt), x.ID)
	return err
}

// checkoutInstructions are a check-out's checkout instructions, the
// original first, then its extensions.
func (t *tx) checkoutInstructions(id string) ([]latchkey.Instruction, error) {
	out, err := scanInstructions(t.query("SELECT "+instrCols+" FROM instructions WHERE checkout_id = ? AND kind = 'checkout' ORDER BY issued_at, id", id))
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("check-out %s has no instruction", id)
	}
	return out, nil
}

// ExtendCheckout moves a running check-out's end (staff or the person).
func (s *Store) ExtendCheckout(ctx context.Context, c latchkey.Caller, id string, minutes int) (*latchkey.Checkout, error) {
	if err := latchkey.ValidExtendMinutes(minutes); err != nil {
		return nil, err
	}
	var out latchkey.Checkout
	err := s.write(ctx, func(t *tx) error {
		x, err := scanCheckout(t.queryRow("SELECT "+checkoutCols+" FROM checkouts WHERE id = ?"+t.s.d.forUpdate(), id))
		if err != nil {
			return notFound(err, "check-out %s not found", id)
		}
		if err := latchkey.CanActOnCheckout(c, x); err != nil {
			return err
		}
		set, err := scanGroupSet(t.queryRow("SELECT "+groupSetCols+" FROM groupsets WHERE id = ?", x.GroupSet))
		if err != nil {
			return err
		}
		ins, err := t.checkoutInstructions(id)
		if err != nil {
			return err
		}
		o, err := latchkey.DecideExtend(x, set, minutes, ins[0], t.now)
		if err != nil {
			return err
		}
		if err := t.saveOutcome(&o); err != nil {
			return err
		}
		x = o.Checkout
		if _, err := t.exec("UPDATE checkouts SET warned = FALSE WHERE id = ?", id); err != nil {
			return err
		}
		if err := t.enqueueCheckoutJobs(x); err != nil { // a warning for the new end
			return err
		}
		t.record(c.Actor(), x.Terminal, latchkey.ActionCheckoutExtend, x.ID, map[string]any{"principal": x.Principal, "expires_at": x.ExpiresAt})
		out = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// checkoutLogin is the login the agent adds to the groups: the identity
// of the person's ACTIVE session on that terminal, else their only
// identity.
func (t *tx) checkoutLogin(principal, terminal string) (string, error) {
	var login string
	err := t.queryRow("SELECT identity FROM sessions WHERE principal_id = ? AND terminal_id = ? AND status = 'active'", principal, terminal).Scan(&login)
	if err == nil {
		return login, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	rows, err := t.query("SELECT login FROM identities WHERE principal_id = ? ORDER BY login", principal)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var logins []string
	for rows.Next() {
		if err := rows.Scan(&login); err != nil {
			return "", err
		}
		logins = append(logins, login)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(logins) != 1 {
		return "", latchkey.Errorf(latchkey.ECONFLICT, "principal %s has %d identities and no session on this terminal: log on there first, so the check-out knows which login to use", principal, len(logins))
	}
	return logins[0], nil
}

// CreateCheckout starts a check-out: the rule decides, and the
// check-out, its instruction and the terminal's new generation are
// written together.
func (s *Store) CreateCheckout(ctx context.Context, c latchkey.Caller, r latchkey.CheckoutCreate) (*latchkey.Checkout, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if r.Principal == "" {
		r.Principal = c.PrincipalID
	}
	if err := latchkey.CanRequestCheckout(c, r.Principal); err != nil {
		return nil, err
	}
	var out latchkey.Checkout
	err := s.write(ctx, func(t *tx) error {
		var err error
		out, err = t.createCheckout(c.Actor(), c.IsStaff(), r, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// createCheckout decides and writes a check-out in t: for a caller
// (actor, byStaff), or for the access request that provisions it
// (request).
func (t *tx) createCheckout(actor string, byStaff bool, r latchkey.CheckoutCreate, request string) (latchkey.Checkout, error) {
	set, err := scanGroupSet(t.queryRow("SELECT "+groupSetCols+" FROM groupsets WHERE id = ?", r.GroupSet))
	if err != nil {
		return latchkey.Checkout{}, notFound(err, "group set %s not found", r.GroupSet)
	}
	var gen int64
	var site string
	if err := t.queryRow("SELECT checkout_generation, site_id FROM terminals WHERE id = ?"+t.s.d.forUpdate(), r.Terminal).Scan(&gen, &site); err != nil {
		return latchkey.Checkout{}, notFound(err, "terminal %s not found", r.Terminal)
	}
	var n int
	if err := t.queryRow("SELECT COUNT(*) FROM principals WHERE id = ? AND NOT disabled", r.Principal).Scan(&n); err != nil {
		return latchkey.Checkout{}, err
	}
	if n == 0 {
		return latchkey.Checkout{}, latchkey.Errorf(latchkey.ENOTFOUND, "principal %s not found or disabled", r.Principal)
	}
	login, err := t.checkoutLogin(r.Principal, r.Terminal)
	if err != nil {
		return latchkey.Checkout{}, err
	}
	open, err := t.openInstructions(r.Terminal)
	if err != nil {
		return latchkey.Checkout{}, err
	}
	o, err := latchkey.DecideCheckout(latchkey.CheckoutRequest{Set: set, Terminal: r.Terminal, Site: site, Principal: r.Principal,
		Login: login, Minutes: r.Minutes, ByStaff: byStaff, Open: open, Generation: uint64(gen), Request: request}, t.now)
	if err != nil {
		return latchkey.Checkout{}, err
	}
	if _, err := t.exec("UPDATE terminals SET checkout_generation = ? WHERE id = ?", int64(o.Checkout.Generation), r.Terminal); err != nil {
		return latchkey.Checkout{}, err
	}
	if err := t.saveOutcome(&o); err != nil {
		return latchkey.Checkout{}, err
	}
	co := o.Checkout
	details := map[string]any{"principal": co.Principal, "groupset": co.GroupSet, "groups": co.Groups, "generation": co.Generation, "expires_at": co.ExpiresAt}
	if request != "" {
		details["request"] = request
	}
	t.record(actor, co.Terminal, latchkey.ActionCheckoutRequest, co.ID, details)
	return co, nil
}

// openInstructions are a terminal's instructions not done or cancelled.
func (t *tx) openInstructions(terminal string) ([]latchkey.Instruction, error) {
	return scanInstructions(t.query("SELECT "+instrCols+" FROM instructions WHERE terminal_id = ? AND state IN ('pending', 'delivered') ORDER BY generation, issued_at", terminal))
}

// GetCheckout reads a check-out with its delivery attempts.
func (s *Store) GetCheckout(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Checkout, error) {
	x, err := scanCheckout(s.queryRow(ctx, "SELECT "+checkoutCols+" FROM checkouts WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "check-out %s not found", id)
	}
	if err := latchkey.CanReadCheckout(c, x); err != nil {
		return nil, err
	}
	if err := s.queryRow(ctx, "SELECT COALESCE(MAX(attempt), 0) FROM instructions WHERE checkout_id = ? AND kind = 'checkout'", id).Scan(&x.Attempts); err != nil {
		return nil, err
	}
	return &x, nil
}

// CheckinCheckout checks a check-out in at the person's or staff's
// request.
func (s *Store) CheckinCheckout(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Checkout, error) {
	var out latchkey.Checkout
	err := s.write(ctx, func(t *tx) error {
		x, err := scanCheckout(t.queryRow("SELECT "+checkoutCols+" FROM checkouts WHERE id = ?"+t.s.d.forUpdate(), id))
		if err != nil {
			return notFound(err, "check-out %s not found", id)
		}
		if err := latchkey.CanActOnCheckout(c, x); err != nil {
			return err
		}
		out, err = t.checkin(x, latchkey.CheckinAsked, c.Actor())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// checkin applies DecideCheckin to x and its checkout instruction.
func (t *tx) checkin(x latchkey.Checkout, reason latchkey.CheckinReason, actor string) (latchkey.Checkout, error) {
	x, err := t.checkinOnly(x, reason, actor)
	if err != nil {
		return x, err
	}
	return x, t.requestOnCheckout(x)
}

// checkinOnly checks x in without following the change to its access
// request (which the caller, ending that request, does itself).
func (t *tx) checkinOnly(x latchkey.Checkout, reason latchkey.CheckinReason, actor string) (latchkey.Checkout, error) {
	ins, err := t.checkoutInstructions(x.ID)
	if err != nil {
		return x, err
	}
	o, err := latchkey.DecideCheckin(x, ins, reason, t.now)
	if err != nil {
		return x, err
	}
	if err := t.saveOutcome(&o); err != nil {
		return x, err
	}
	x = o.Checkout
	d := map[string]any{"principal": x.Principal, "reason": reason, "removal": o.New != nil}
	action := latchkey.ActionCheckoutCheckin
	if reason == latchkey.CheckinExpired {
		action = latchkey.ActionCheckoutExpire
	}
	t.record(actor, x.Terminal, action, x.ID, d)
	return x, nil
}

// PollInstructions settles the terminal's lapsed instructions and
// delivers those ready, oldest generation first, each signed with the
// server's key (the agent executes nothing unsigned).
func (s *Store) PollInstructions(ctx context.Context, c latchkey.Caller, max int) ([]latchkey.Instruction, error) {
	if err := latchkey.CanActAsAgent(c, "instructions are for a terminal's agent"); err != nil {
		return nil, err
	}
	var out []latchkey.Instruction
	err := s.write(ctx, func(t *tx) error {
		out = nil
		if _, err := t.exec("UPDATE terminals SET agent_seen_at = ? WHERE id = ? AND agent_seen_at < ?",
			us(t.now), c.TerminalID, us(t.now.Add(-agentSeenEvery))); err != nil {
			return err
		}
		open, err := t.openInstructions(c.TerminalID)
		if err != nil {
			return err
		}
		for _, in := range open {
			if len(out) == max {
				break
			}
			in, _ = latchkey.SettleInstruction(in, t.now)
			in, ok := latchkey.Deliver(in, s.opts.Checkouts, t.now)
			if !ok {
				continue
			}
			if err := t.saveInstruction(in); err != nil {
				return err
			}
			if in.Kind != latchkey.InstrInventory { // an inventory changes nothing: its answer is recorded
				t.record(c.TerminalID, c.TerminalID, latchkey.ActionCheckoutDeliver, cmp.Or(in.Checkout, in.Task), map[string]any{"instruction": in.ID,
					"kind": in.Kind, "attempt": in.Attempt, "locked_until": in.LockedUntil})
			}
			out = append(out, in)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		key, err := s.signingKey(ctx)
		if err != nil {
			return nil, err
		}
		for i := range out {
			if err := out[i].Sign(key); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// OpenInstructions lists a terminal's outstanding instructions, settled
// as of now (a lapsed lock shows as pending again).
func (s *Store) OpenInstructions(ctx context.Context, c latchkey.Caller, terminal string) ([]latchkey.Instruction, error) {
	if err := latchkey.CanManageGroupSets(c); err != nil {
		return nil, err
	}
	out, err := scanInstructions(s.query(ctx, "SELECT "+instrCols+" FROM instructions WHERE terminal_id = ? AND state IN ('pending', 'delivered') ORDER BY generation, issued_at", terminal))
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i := range out {
		out[i], _ = latchkey.SettleInstruction(out[i], now)
	}
	if out == nil {
		out = []latchkey.Instruction{}
	}
	return out, nil
}

// ReplyInstruction records the agent's reply to one of its terminal's
// instructions.
func (s *Store) ReplyInstruction(ctx context.Context, c latchkey.Caller, id string, r latchkey.Reply) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := latchkey.CanActAsAgent(c, "replies come from a terminal's agent"); err != nil { // before the row is read
		return err
	}
	return s.write(ctx, func(t *tx) error {
		in, err := scanInstruction(t.queryRow("SELECT "+instrCols+" FROM instructions WHERE id = ?"+t.s.d.forUpdate(), id))
		if err != nil {
			return notFound(err, "instruction %s not found", id)
		}
		if err := latchkey.CanAnswerInstruction(c, in); err != nil {
			return err
		}
		if in.Checkout == "" {
			return t.taskReply(c, in, r)
		}
		co, err := scanCheckout(t.queryRow("SELECT "+checkoutCols+" FROM checkouts WHERE id = ?"+t.s.d.forUpdate(), in.Checkout))
		if err != nil {
			return err
		}
		co, in, changed := latchkey.DecideReply(co, in, r)
		if !changed {
			return nil // a repeat: answered the same, changes nothing
		}
		if err := t.saveInstruction(in); err != nil {
			return err
		}
		if err := t.saveCheckout(co); err != nil {
			return err
		}
		if err := t.requestOnCheckout(co); err != nil {
			return err
		}
		t.record(c.TerminalID, c.TerminalID, latchkey.ActionCheckoutReply, co.ID, map[string]any{"instruction": in.ID, "kind": in.Kind,
			"result": r.Result, "detail": r.Detail, "status": co.Status, "principal": co.Principal})
		return nil
	})
}

// ListCheckouts implements latchkey.CheckoutService: a person's
// check-outs by ID, or only the running ones.
func (s *Store) ListCheckouts(ctx context.Context, c latchkey.Caller, f latchkey.CheckoutFilter) ([]latchkey.Checkout, string, error) {
	if err := latchkey.CanListCheckouts(c, f.Principal); err != nil {
		return nil, "", err
	}
	q := "SELECT " + checkoutCols + " FROM checkouts WHERE principal_id = ?"
	if f.Running {
		q += " AND status IN ('checking_out', 'checked_out')"
	}
	return list(ctx, s, q+" AND id > ?", f.Page, scanCheckout, func(x latchkey.Checkout) string { return x.ID }, f.Principal)
}
