package counter

import (
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func deposit(page int, items ...Item) *Transaction {
	return &Transaction{Type: "deposit", Page: page, Basket: items}
}

func TestResume(t *testing.T) {
	stamps := Item{"stamps", 340}
	printing := Box{Kind: Transient, Text: "Printing…", Until: t0.Add(2 * time.Second)}
	notice := Box{Kind: Notice, Text: "Card declined"}
	for _, tc := range []struct {
		name string
		kept Screen
		same bool
		want Screen
	}{
		{"the menu", Screen{}, true, Screen{}},
		{"a transaction on its third page with a basket: that page, that basket, not the first page",
			Screen{Transaction: deposit(2, stamps)}, true, Screen{Transaction: deposit(2, stamps)}},
		{"a transaction on its first page, empty basket", Screen{Transaction: deposit(0)}, true, Screen{Transaction: deposit(0)}},
		{"a notice not yet dismissed stays", Screen{Transaction: deposit(1), Boxes: []Box{notice}}, true,
			Screen{Transaction: deposit(1), Boxes: []Box{notice}}},
		{"a transient box is gone (an inactivity lock can come while it shows)", Screen{Transaction: deposit(1, stamps), Boxes: []Box{printing, notice}}, true,
			Screen{Transaction: deposit(1, stamps), Boxes: []Box{notice}}},
		{"another person logs on instead: the menu", Screen{Transaction: deposit(2, stamps)}, false, Screen{}},
	} {
		got := Resume(tc.kept, tc.same)
		if got.Boxes == nil {
			got.Boxes = []Box{}
		}
		if tc.want.Boxes == nil {
			tc.want.Boxes = []Box{}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestKeptScreenDoesNotFollowTheScreen(t *testing.T) {
	s := Screen{Transaction: deposit(1, Item{"stamps", 340})}
	kept := s.Clone()
	s.Transaction.Page = 0
	s.Transaction.Basket[0].Pence = 0
	s.Transaction.Basket = append(s.Transaction.Basket, Item{"parcel", 500})
	if got := Resume(kept, true); got.Transaction.Page != 1 || len(got.Transaction.Basket) != 1 || got.Transaction.Basket[0].Pence != 340 {
		t.Fatalf("the kept screen changed with the screen: %+v", got.Transaction)
	}
}

func TestTransientBoxes(t *testing.T) {
	printing := Box{Kind: Transient, Text: "Printing…", Until: t0.Add(2 * time.Second)}
	network := Box{Kind: Transient, Text: "Contacting the data centre…", Until: t0.Add(5 * time.Second)}
	notice := Box{Kind: Notice, Text: "Card declined"}
	for _, tc := range []struct {
		name      string
		boxes     []Box
		at        time.Duration
		shown     int
		transient bool
	}{
		{"no box", nil, 0, 0, false},
		{"printing", []Box{printing}, time.Second, 1, true},
		{"printing is over: it went away by itself", []Box{printing}, 2 * time.Second, 0, false},
		{"printing over, the network still busy", []Box{printing, network}, 3 * time.Second, 1, true},
		{"a notice is not transient and stays", []Box{notice}, time.Hour, 1, false},
		{"a notice and a transient box", []Box{notice, printing}, time.Second, 2, true},
	} {
		s := Screen{Boxes: tc.boxes}
		now := t0.Add(tc.at)
		if got := len(s.Showing(now).Boxes); got != tc.shown {
			t.Errorf("%s: %d boxes shown, want %d", tc.name, got, tc.shown)
		}
		if got := s.TransientShown(now); got != tc.transient {
			t.Errorf("%s: transient shown = %v, want %v", tc.name, got, tc.transient)
		}
		// The lock button follows: disabled while a transient box shows.
		if got := LockButtonEnabled(ButtonState{LoggedOn: true, Transient: s.TransientShown(now)}); got == tc.transient {
			t.Errorf("%s: lock button enabled = %v with transient = %v", tc.name, got, tc.transient)
		}
	}
}

func TestBasketEmpty(t *testing.T) {
	for _, tc := range []struct {
		s    Screen
		want bool
	}{
		{Screen{}, true},
		{Screen{Transaction: deposit(0)}, true},
		{Screen{Transaction: deposit(1, Item{"stamps", 340})}, false},
	} {
		if got := tc.s.BasketEmpty(); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.s, got, tc.want)
		}
	}
}
