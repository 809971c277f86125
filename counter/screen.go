package counter

import (
	"slices"
	"time"
)

// What is on the counter's screen, and what comes back after an unlock
// (section 2.4: "the screen displayed when locked is the one reshown
// after unlock", not the transaction's first page).

// Item is a line of the basket.
type Item struct {
	What  string
	Pence int
}

// Transaction is a transaction in progress: its type, the page of it on
// the screen (0 is its first) and the basket so far.
type Transaction struct {
	Type   string
	Page   int
	Basket []Item
}

// BoxKind says how a message box goes away.
type BoxKind int

const (
	// Transient boxes go away by themselves (printing, a network
	// interaction): EUM-CE-CL-35.
	Transient BoxKind = iota
	// Notice boxes stay until the person dismisses them.
	Notice
)

// Box is a message box on the screen.
type Box struct {
	Kind BoxKind
	Text string
	// Until is when a transient box goes away.
	Until time.Time
}

// Screen is what the counter shows while a person is logged on: the menu
// of transaction types (no Transaction), or a transaction at a page, and
// the message boxes over it.
type Screen struct {
	Transaction *Transaction
	Boxes       []Box
}

// Clone is a deep copy of s: what a lock keeps must not change with the
// screen.
func (s Screen) Clone() Screen {
	out := Screen{Boxes: slices.Clone(s.Boxes)}
	if s.Transaction != nil {
		t := *s.Transaction
		t.Basket = slices.Clone(t.Basket)
		out.Transaction = &t
	}
	return out
}

// BasketEmpty says whether the screen's transaction, if any, has an
// empty basket (the lock menu's rule).
func (s Screen) BasketEmpty() bool {
	return s.Transaction == nil || len(s.Transaction.Basket) == 0
}

// Showing is the screen at now: the transient boxes whose time has come
// are gone.
func (s Screen) Showing(now time.Time) Screen {
	out := s.Clone()
	out.Boxes = slices.DeleteFunc(out.Boxes, func(b Box) bool { return b.Kind == Transient && !now.Before(b.Until) })
	return out
}

// TransientShown says whether a transient box is on the screen at now
// (then the lock button is disabled).
func (s Screen) TransientShown(now time.Time) bool {
	return slices.ContainsFunc(s.Showing(now).Boxes, func(b Box) bool { return b.Kind == Transient })
}

// Resume is the screen after an unlock, from the one kept when
// the counter was locked: exactly that screen (the transaction, its page
// and its basket; a notice the person had not yet dismissed), with the
// transient boxes gone, since whatever they waited for went on while the
// counter was locked. A different person at the counter (who logs on
// anew instead of unlocking) gets the menu: the kept screen was someone
// else's.
func Resume(kept Screen, samePerson bool) Screen {
	if !samePerson {
		return Screen{}
	}
	out := kept.Clone()
	out.Boxes = slices.DeleteFunc(out.Boxes, func(b Box) bool { return b.Kind == Transient })
	return out
}
