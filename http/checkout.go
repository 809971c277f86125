package http

import (
	nethttp "net/http"
	"time"

	"latchkey"
)

// checkoutBody is POST /v1/checkouts.
type checkoutBody latchkey.CheckoutCreate

func (b *checkoutBody) validate() error { return latchkey.CheckoutCreate(*b).Validate() }

// checkoutView is a check-out's wire shape.
type checkoutView struct {
	latchkey.Checkout
	CanCheckIn bool `json:"can_check_in"`
}

func checkoutAnswer(status int, c *latchkey.Checkout, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return status, checkoutView{Checkout: *c, CanCheckIn: c.CanCheckIn()}, nil
}

func (s *Server) createCheckout(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[checkoutBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	co, err := s.store.CreateCheckout(r.Context(), c, latchkey.CheckoutCreate(in))
	return checkoutAnswer(nethttp.StatusAccepted, co, err)
}

func (s *Server) getCheckout(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	co, err := s.store.GetCheckout(r.Context(), c, r.PathValue("id"))
	return checkoutAnswer(nethttp.StatusOK, co, err)
}

func (s *Server) checkinCheckout(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	if _, err := decode[emptyBody](r, s.maxBody); err != nil {
		return 0, nil, err
	}
	co, err := s.store.CheckinCheckout(r.Context(), c, r.PathValue("id"))
	return checkoutAnswer(nethttp.StatusOK, co, err)
}

// extendBody is POST /v1/checkouts/{id}/extend: run until now + minutes.
type extendBody struct {
	Minutes int `json:"minutes"`
}

func (b *extendBody) validate() error { return latchkey.ValidExtendMinutes(b.Minutes) }

func (s *Server) extendCheckout(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[extendBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	co, err := s.store.ExtendCheckout(r.Context(), c, r.PathValue("id"), in.Minutes)
	return checkoutAnswer(nethttp.StatusOK, co, err)
}

// Agent long-poll bounds.
const (
	maxInstructionWait  = 60 * time.Second
	instructionsPerPoll = 32
	// instructionRecheck is the shortest sleep before an instruction
	// that becomes ready by time is looked at again.
	instructionRecheck = 10 * time.Millisecond
)

// pollInstructions is GET /v1/agent/instructions?wait=30s: the terminal's
// ready instructions, delivered now; with none ready it waits up to wait
// for one. It sleeps until its own terminal's instructions change (a
// check-out, check-in or extension, on any node) or one becomes ready by
// time (a lapsed lock): idle agents cost nothing while they wait.
func (s *Server) pollInstructions(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxInstructionWait {
			return 0, nil, latchkey.BadField("wait", "wait must be a duration from 0s to %s, e.g. 30s", maxInstructionWait)
		}
		wait = d
	}
	ctx := r.Context()
	deadline := time.Now().Add(wait)
	for {
		changed := s.store.InstructionsChanged(c.TerminalID) // before looking: a change after it wakes us
		ins, err := s.store.PollInstructions(ctx, c, instructionsPerPoll)
		if err != nil {
			return 0, nil, err
		}
		left := time.Until(deadline)
		if len(ins) > 0 || left <= 0 {
			if ins == nil {
				ins = []latchkey.Instruction{}
			}
			return nethttp.StatusOK, map[string]any{"instructions": ins}, nil
		}
		sleep := left
		if in, any, err := s.store.NextInstructionIn(ctx, c.TerminalID); err != nil {
			return 0, nil, err
		} else if any {
			sleep = min(sleep, max(in, instructionRecheck))
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-s.streams.Done():
			return nethttp.StatusOK, map[string]any{"instructions": []latchkey.Instruction{}}, nil
		case <-changed:
		case <-time.After(sleep):
		}
	}
}

// listTerminalInstructions is GET /v1/terminals/{id}/instructions
// (admin, delegate): the terminal's outstanding instructions.
func (s *Server) listTerminalInstructions(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	ins, err := s.store.OpenInstructions(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	out := make([]latchkey.InstructionView, len(ins))
	for i, in := range ins {
		out[i] = in.View()
	}
	return nethttp.StatusOK, listOf(out, ""), nil
}

// replyBody is POST /v1/agent/instructions/{id}/reply.
type replyBody struct {
	Result  latchkey.ReplyResult `json:"result"`
	Detail  string               `json:"detail"`
	Members map[string][]string  `json:"members"`
}

func (b *replyBody) reply() latchkey.Reply {
	return latchkey.Reply{Result: b.Result, Detail: b.Detail, Members: b.Members}
}

func (b *replyBody) validate() error { return b.reply().Validate() }

func (s *Server) replyInstruction(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[replyBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	if err := s.store.ReplyInstruction(r.Context(), c, r.PathValue("id"), in.reply()); err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, map[string]string{}, nil
}
