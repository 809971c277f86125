package sqlstore

import (
	"context"

	"latchkey"
)

var _ latchkey.ReservationService = (*Store)(nil)

const reservationCols = "id, terminal_id, principal_id, start_at, minutes"

func scanReservation(row interface{ Scan(...any) error }) (latchkey.Reservation, error) {
	var r latchkey.Reservation
	var start int64
	err := row.Scan(&r.ID, &r.Terminal, &r.Principal, &start, &r.Minutes)
	r.Start = fromUS(start)
	return r, err
}

// terminalReservations reads a terminal's reservations that end after
// from, by start.
func (t *tx) terminalReservations(terminal string, from int64) ([]latchkey.Reservation, error) {
	rows, err := t.query("SELECT "+reservationCols+" FROM reservations WHERE terminal_id = ? AND start_at + minutes * CAST(60000000 AS BIGINT) > ? ORDER BY start_at", terminal, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []latchkey.Reservation
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateReservation books a terminal; overlapping reservations conflict,
// and a user is held to the site's booking caps (latchkey.
// CheckReservationCaps; staff are exempt). The terminal's row is locked,
// so two bookings cannot both pass the overlap check, and the person's
// row, so two bookings of one person cannot both pass the cap.
func (s *Store) CreateReservation(ctx context.Context, c latchkey.Caller, r latchkey.Reservation) (*latchkey.Reservation, error) {
	if r.Principal == "" {
		r.Principal = c.PrincipalID
	}
	if err := latchkey.CanBook(c, r.Principal); err != nil {
		return nil, err
	}
	r.ID = latchkey.NewID("res")
	err := s.write(ctx, func(t *tx) error {
		term, err := t.lockTerminal(r.Terminal)
		if err != nil {
			return err
		}
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM principals WHERE id = ?", r.Principal).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return latchkey.Errorf(latchkey.ENOTFOUND, "principal %s not found", r.Principal)
		}
		others, err := t.terminalReservations(r.Terminal, us(t.now))
		if err != nil {
			return err
		}
		if err := latchkey.ValidateReservation(r, others, t.now); err != nil {
			return err
		}
		if !c.IsStaff() {
			site, err := t.loadSite(term.SiteID)
			if err != nil {
				return err
			}
			if _, err := t.lockPrincipal(r.Principal); err != nil {
				return err
			}
			var held int
			if err := t.queryRow(`SELECT COUNT(*) FROM reservations r JOIN terminals m ON m.id = r.terminal_id
				WHERE r.principal_id = ? AND m.site_id = ? AND r.start_at + r.minutes * CAST(60000000 AS BIGINT) > ?`,
				r.Principal, site.ID, us(t.now)).Scan(&held); err != nil {
				return err
			}
			if err := latchkey.CheckReservationCaps(false, held, r.Start, t.now, site.MaxReservationsPerUser, site.MaxBookingDaysAhead); err != nil {
				return err
			}
		}
		if _, err := t.exec("INSERT INTO reservations ("+reservationCols+", created_at) VALUES (?, ?, ?, ?, ?, ?)",
			r.ID, r.Terminal, r.Principal, us(r.Start), r.Minutes, us(t.now)); err != nil {
			return err
		}
		t.record(c.Actor(), r.Terminal, latchkey.ActionReservationCreate, r.ID, map[string]any{"principal": r.Principal, "start": r.Start, "minutes": r.Minutes})
		return t.cutForReservation(r)
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ListReservations lists a terminal's current and coming reservations.
func (s *Store) ListReservations(ctx context.Context, c latchkey.Caller, terminal string) ([]latchkey.Reservation, error) {
	if err := latchkey.CanListReservations(c, terminal); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, "SELECT "+reservationCols+" FROM reservations WHERE terminal_id = ? AND start_at + minutes * CAST(60000000 AS BIGINT) > ? ORDER BY start_at", terminal, us(s.now()))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []latchkey.Reservation{}
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteReservation cancels a reservation: its person or staff. A live
// session at the terminal that the reservation cut short gets its time
// back, in the same transaction (giveTimeBack).
func (s *Store) DeleteReservation(ctx context.Context, c latchkey.Caller, id string) error {
	return s.write(ctx, func(t *tx) error {
		r, err := scanReservation(t.queryRow("SELECT "+reservationCols+" FROM reservations WHERE id = ?", id))
		if err != nil {
			return notFound(err, "reservation %s not found", id)
		}
		if err := latchkey.CanCancelReservation(c, r); err != nil {
			return err
		}
		if _, err := t.lockTerminal(r.Terminal); err != nil {
			return err
		}
		res, err := t.exec("DELETE FROM reservations WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = latchkey.Errorf(latchkey.ENOTFOUND, "reservation %s not found", id)
			}
			return err
		}
		t.record(c.Actor(), r.Terminal, latchkey.ActionReservationDelete, id, map[string]any{"principal": r.Principal})
		return t.giveTimeBack(r)
	})
}

// holdingReservation is the reservation of rs that holds the terminal
// now (latchkey.HoldingReservation), asking the store whether its person
// showed up; nil when none does.
func (t *tx) holdingReservation(terminal string, rs []latchkey.Reservation) (*latchkey.Reservation, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	var showErr error
	h := latchkey.HoldingReservation(rs, t.now, t.s.opts.ReservationGrace, func(r latchkey.Reservation) bool {
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM sessions WHERE terminal_id = ? AND principal_id = ? AND started_at >= ? AND unverified = FALSE",
			terminal, r.Principal, us(r.Start)).Scan(&n); err != nil {
			showErr = err
		}
		return n > 0
	})
	return h, showErr
}
