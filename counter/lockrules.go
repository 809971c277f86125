package counter

// The lock button and its option box, as section 2.4 of the
// concurrent-login design note has them (concurrent-login-design.txt,
// "Counter Changes", EUM-CE-CL-30 and -35).

// Mode is the counter's mode; only serve-customer mode serves a customer.
type Mode string

const (
	ModeServeCustomer Mode = "serve_customer"
	ModeBackOffice    Mode = "back_office"
)

// Clerk is what the lock menu needs to know of the person logged on.
type Clerk struct {
	// Transactions: the person has the transactions permission.
	Transactions bool
	// DefaultStockUnit: the person is in the default stock unit (not
	// attached to a stock unit of their own).
	DefaultStockUnit bool
}

// ButtonState is what decides whether the lock button is enabled.
type ButtonState struct {
	LoggedOn bool
	Locked   bool
	// Transient is a transient message box on the screen: one that goes
	// away without the person (printing, a network interaction).
	Transient bool
}

// LockButtonEnabled is the lock button rule: disabled before log-on
// (kept), enabled during transactions (new: the clerk need not finish or
// abandon a transaction first), disabled while a transient message box is
// on the screen, since a lock would interrupt the counter's processing
// (EUM-CE-CL-35), and disabled while the counter is locked.
func LockButtonEnabled(s ButtonState) bool {
	return s.LoggedOn && !s.Locked && !s.Transient
}

// Options are the lock option box's three options; false is disabled.
type Options struct {
	Suspend, Resume, Lock bool
}

// LockOptions is the option box rule (section 2.4, 4; "This will not
// change"): outside serve-customer mode, or for a person without the
// transactions permission, or in the default stock unit, only Lock;
// otherwise with a basket that is not empty, Suspend and Lock (Resume
// disabled); otherwise all three. Lock is always available.
func LockOptions(mode Mode, c Clerk, basketEmpty bool) Options {
	switch {
	case mode != ModeServeCustomer || !c.Transactions || c.DefaultStockUnit:
		return Options{Lock: true}
	case !basketEmpty:
		return Options{Suspend: true, Lock: true}
	}
	return Options{Suspend: true, Resume: true, Lock: true}
}
