package http

import (
	nethttp "net/http"

	"latchkey"
)

// reservationBody is POST /v1/reservations.
type reservationBody struct {
	Terminal  string `json:"terminal"`
	Principal string `json:"principal"`
	Start     string `json:"start"`
	Minutes   int    `json:"minutes"`

	r latchkey.Reservation
}

func (b *reservationBody) validate() error {
	if err := latchkey.ValidName("terminal", b.Terminal); err != nil {
		return err
	}
	if b.Principal != "" {
		if err := latchkey.ValidName("principal", b.Principal); err != nil {
			return err
		}
	}
	start, err := parseTime("start", b.Start)
	if err != nil {
		return err
	}
	if b.Minutes < 1 || b.Minutes > latchkey.MaxReservationMinutes {
		return latchkey.BadField("minutes", "minutes must be 1 to %d", latchkey.MaxReservationMinutes)
	}
	b.r = latchkey.Reservation{Terminal: b.Terminal, Principal: b.Principal, Start: start, Minutes: b.Minutes}
	return nil
}

func (s *Server) createReservation(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[reservationBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	res, err := s.store.CreateReservation(r.Context(), c, in.r)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, res, nil
}

// listReservations is GET /v1/reservations?terminal=: the terminal's
// current and coming reservations, by start.
func (s *Server) listReservations(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	terminal := r.URL.Query().Get("terminal")
	if err := latchkey.ValidName("terminal", terminal); err != nil {
		return 0, nil, err
	}
	items, err := s.store.ListReservations(r.Context(), c, terminal)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, listOf(items, ""), nil
}

func (s *Server) deleteReservation(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	if err := s.store.DeleteReservation(r.Context(), c, r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	return nethttp.StatusNoContent, nil, nil
}
