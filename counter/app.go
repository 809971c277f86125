package counter

import (
	"time"

	"latchkey"
	"latchkey/agent"
)

// The counter application as a pure state machine: Update takes what
// happened (a key, the agent's answer, the clock) and gives the new state
// and the calls to make on the agent's socket. Nothing here does I/O, so
// every flow is tested without a terminal; the terminal program only
// reads keys, makes the calls and draws View.

// Phase is where the counter is.
type Phase int

const (
	PhaseLogOn   Phase = iota // the log-on form
	PhaseServing              // logged on: the menu or a transaction
	PhaseLocked               // locked: the unlock form over the kept screen
)

// Op is a call on the agent's socket.
type Op string

const (
	OpLogin  Op = "login"
	OpLock   Op = "lock"
	OpUnlock Op = "unlock"
	OpLogout Op = "logout"
	OpTouch  Op = "touch"
	OpStatus Op = "status"
)

// Call is a call to make on the agent's socket.
type Call struct {
	Op       Op
	Identity string
	Password string
	Force    bool
	Reason   string // lock: manual | inactivity
	Choice   string // lock: lock_anyway | retry | abandon
	// InTransaction: a lock with a transaction on the screen
	// (EUM-CE-CL-30: paused, or refused until it is completed).
	InTransaction bool
}

// Event is what happened, at Now: a key, the agent's answer to a call,
// or neither (the clock alone moved).
type Event struct {
	Key   string // "enter", "tab", "esc", "backspace", "f12", or the character typed
	Reply *Reply
	Now   time.Time
}

// Reply is the agent's answer to a call: its status, or its refusal, or
// no answer at all (the agent's socket is not there).
type Reply struct {
	Call    Call
	Status  *agent.Status
	Refusal *Refusal
	Down    bool
}

// Config is what the counter is set up with.
type Config struct {
	Mode  Mode
	Clerk Clerk
	// InactivityLock locks the counter after this long without a key
	// (0: never); the lock is silent, also when the server is away.
	InactivityLock time.Duration
	// Names names terminals by ID in messages.
	Names map[string]string
	Loc   *time.Location
}

// App is the counter's state.
type App struct {
	cfg   Config
	Phase Phase
	Now   time.Time

	// The log-on form (and the unlock form: its password).
	Identity, Password string
	Field              int // 0 identity, 1 password

	Screen    Screen // the serve screen
	Kept      Screen // the screen kept when the counter was locked
	Suspended *Transaction
	Status    *agent.Status

	Box     *Message // a message box over everything, with its choices
	boxFor  Call     // the call the box's choices answer
	Menu    *Options // the lock option box, open
	Busy    bool     // a call is out: keys wait
	lastKey time.Time
	touched time.Time
	asked   time.Time // when the agent's status was last asked for
}

// New is the counter at its log-on form.
func New(cfg Config, now time.Time) App {
	if cfg.Loc == nil {
		cfg.Loc = time.Local
	}
	return App{cfg: cfg, Now: now, lastKey: now}
}

// touchEvery is how often, at most, the app reports activity (the agent
// batches it further for the server); statusEvery how often it asks the
// agent how things stand (the mode, a warning, a session ended by the
// server).
const (
	touchEvery  = time.Second
	statusEvery = 5 * time.Second
)

// Update is the counter's reaction to e: the new state and the calls to
// make, in order.
func (a App) Update(e Event) (App, []Call) {
	if !e.Now.IsZero() {
		a.Now = e.Now
	}
	switch {
	case e.Reply != nil:
		if op := e.Reply.Call.Op; op != OpTouch && op != OpStatus { // these go beside the other calls
			a.Busy = false
		}
		return a.reply(*e.Reply)
	case e.Key != "":
		if a.Busy {
			return a, nil
		}
		a.lastKey = a.Now
		return a.key(e.Key)
	}
	return a.tick()
}

// tick locks an idle counter (silently), drops transient boxes whose
// time has come, and asks the agent how things stand now and then.
func (a App) tick() (App, []Call) {
	a.Screen = a.Screen.Showing(a.Now)
	if a.Phase == PhaseServing && !a.Busy && a.cfg.InactivityLock > 0 && a.Now.Sub(a.lastKey) >= a.cfg.InactivityLock {
		a.Busy = true
		return a, []Call{{Op: OpLock, Reason: agent.LockInactivity, InTransaction: a.Screen.Transaction != nil}}
	}
	if a.asked.IsZero() || a.Now.Sub(a.asked) >= statusEvery {
		a.asked = a.Now
		return a, []Call{{Op: OpStatus}}
	}
	return a, nil
}

// LockButton says whether the lock button is enabled now.
func (a App) LockButton() bool {
	return LockButtonEnabled(ButtonState{LoggedOn: a.Phase != PhaseLogOn, Locked: a.Phase == PhaseLocked,
		Transient: a.Screen.TransientShown(a.Now)})
}

func (a App) key(k string) (App, []Call) {
	if a.Box != nil {
		return a.boxKey(k)
	}
	if a.Menu != nil {
		return a.menuKey(k)
	}
	switch a.Phase {
	case PhaseLogOn:
		return a.formKey(k, true)
	case PhaseLocked:
		return a.formKey(k, false)
	}
	a, calls := a.serveKey(k)
	if a.Phase == PhaseServing && a.Now.Sub(a.touched) >= touchEvery && len(calls) == 0 {
		a.touched = a.Now
		calls = append(calls, Call{Op: OpTouch})
	}
	return a, calls
}

// formKey types into the log-on form (or the unlock form's password) and
// sends it on enter.
func (a App) formKey(k string, logOn bool) (App, []Call) {
	field := &a.Password
	if logOn && a.Field == 0 {
		field = &a.Identity
	}
	switch k {
	case "tab":
		if logOn {
			a.Field = 1 - a.Field
		}
	case "backspace":
		if r := []rune(*field); len(r) > 0 {
			*field = string(r[:len(r)-1])
		}
	case "enter":
		if logOn && a.Field == 0 {
			a.Field = 1
			return a, nil
		}
		a.Busy = true
		if logOn {
			return a, []Call{{Op: OpLogin, Identity: a.Identity, Password: a.Password}}
		}
		return a, []Call{{Op: OpUnlock, Password: a.Password}}
	default:
		if len([]rune(k)) == 1 {
			*field += k
		}
	}
	return a, nil
}

// The stand-in counter application: a menu of transaction types, a
// transaction's pages with a basket, and transient boxes.
var (
	// TransactionTypes are the menu's transactions, by their key.
	TransactionTypes = map[string]string{"1": "Postage", "2": "Bill payment", "3": "Cash deposit"}
	// transientFor is how long a transient box shows.
	transientFor = 2 * time.Second
)

func (a App) serveKey(k string) (App, []Call) {
	t := a.Screen.Transaction
	switch {
	case k == "f12":
		if a.LockButton() {
			o := LockOptions(a.cfg.Mode, a.cfg.Clerk, a.Screen.BasketEmpty())
			a.Menu = &o
		}
	case k == "q" && t == nil:
		a.Busy = true
		return a, []Call{{Op: OpLogout}}
	case t == nil:
		if name, ok := TransactionTypes[k]; ok {
			a.Screen.Transaction = &Transaction{Type: name}
		}
	case k == "a":
		t.Basket = append(t.Basket, Item{What: t.Type + " item", Pence: 100 * (len(t.Basket) + 1)})
	case k == "n":
		t.Page++
	case k == "b" && t.Page > 0:
		t.Page--
	case k == "p":
		a.Screen.Boxes = append(a.Screen.Boxes, Box{Kind: Transient, Text: "Printing…", Until: a.Now.Add(transientFor)})
	case k == "enter":
		a.Screen = Screen{Boxes: []Box{{Kind: Transient, Text: "Contacting the data centre…", Until: a.Now.Add(transientFor)}}}
	case k == "esc":
		a.Screen.Transaction = nil
	}
	return a, nil
}

// menuKey chooses in the lock option box: l lock, s suspend, r resume,
// esc closes it. A disabled option does nothing.
func (a App) menuKey(k string) (App, []Call) {
	o := *a.Menu
	switch {
	case k == "esc":
		a.Menu = nil
	case k == "l" && o.Lock:
		a.Menu = nil
		a.Busy = true
		return a, []Call{{Op: OpLock, Reason: agent.LockManual, InTransaction: a.Screen.Transaction != nil}}
	case k == "s" && o.Suspend && a.Screen.Transaction != nil:
		a.Menu = nil
		t := *a.Screen.Transaction
		a.Suspended, a.Screen.Transaction = &t, nil
	case k == "r" && o.Resume && a.Suspended != nil:
		a.Menu = nil
		a.Screen.Transaction, a.Suspended = a.Suspended, nil
	}
	return a, nil
}

// boxKey answers a message box: its choices by their first letter, enter
// for the first, esc for Cancel (or OK).
func (a App) boxKey(k string) (App, []Call) {
	box := *a.Box
	var pick Choice
	for i, c := range box.Choices {
		if k == "enter" && i == 0 || k == "esc" && (c == ChoiceCancel || c == ChoiceOK || c == ChoiceDontLock) ||
			len(k) == 1 && choiceKey(c) == k {
			pick = c
			break
		}
	}
	if pick == "" {
		return a, nil
	}
	a.Box = nil
	c := a.boxFor
	switch pick {
	case ChoiceRetry, ChoiceTryAgain:
		if c.Op == OpLock {
			c.Choice = agent.ChoiceRetry
		}
	case ChoiceEndThem:
		m := Message{Title: "End your other sessions?", Text: "Your sessions at the other counters will be ended, " +
			"and anything open there is lost. End them?", Choices: []Choice{ChoiceConfirmEnd, ChoiceCancel}}
		a.Box, a.boxFor = &m, c
		return a, nil
	case ChoiceConfirmEnd:
		c.Force = true
	case ChoiceLockAnyway:
		c.Choice = agent.ChoiceLockAnyway
	case ChoiceDontLock:
		c.Choice = agent.ChoiceAbandon
	default: // OK, Cancel
		return a, nil
	}
	a.Busy = true
	return a, []Call{c}
}

// ChoiceConfirmEnd confirms ending the other sessions.
const ChoiceConfirmEnd Choice = "Yes, end them"

// choiceKey is the key that picks a choice: its first letter, lower case
// (Do not lock: n; Yes, end them: y).
func choiceKey(c Choice) string {
	switch c {
	case ChoiceDontLock:
		return "n"
	case ChoiceEndThem:
		return "e"
	}
	return string([]rune(string(c))[0] | 0x20)
}

// reply takes the agent's answer to a call.
func (a App) reply(r Reply) (App, []Call) {
	c := r.Call
	switch {
	case r.Down && (c.Op == OpTouch || c.Op == OpStatus):
		return a, nil
	case r.Down:
		m := Message{Title: "The agent is not running", Text: "This counter's agent does not answer. Ask for help: nothing can be done at this counter until it runs.",
			Choices: []Choice{ChoiceOK}}
		a.Box, a.boxFor = &m, c
		return a, nil
	case r.Refusal != nil:
		return a.refused(c, *r.Refusal)
	}
	if r.Status == nil {
		return a, nil
	}
	a.Status = r.Status
	switch c.Op {
	case OpLogin:
		a.Phase, a.Password, a.Field, a.Screen = PhaseServing, "", 0, Screen{}
		for _, n := range r.Status.Notices {
			m := NoticeWords(n, a.cfg.Names, a.cfg.Loc)
			a.Box, a.boxFor = &m, Call{}
		}
	case OpLock:
		if s := r.Status.Session; s != nil && s.LockedAt != nil {
			a.Phase, a.Kept, a.Password = PhaseLocked, a.Screen.Clone(), ""
		}
	case OpUnlock:
		a.Phase, a.Password = PhaseServing, ""
		a.Screen = Resume(a.Kept, true)
	case OpLogout:
		a = New(a.cfg, a.Now)
		a.Status = r.Status
	case OpStatus:
		a = a.follow(r.Status)
	}
	return a, nil
}

// follow brings the phase in line with the agent's status: a session in
// progress that the app did not know of (the app restarted) is taken up,
// locked or not; a session the agent ended (its limit, a verdict, the
// server) ends the app's, with why.
func (a App) follow(st *agent.Status) App {
	s := st.Session
	switch {
	case s == nil && a.Phase != PhaseLogOn:
		n := New(a.cfg, a.Now)
		n.Status, n.asked = st, a.asked
		if e := st.LastEnded; e != nil {
			m := Message{Title: "Your session has ended", Text: EndedWords(e.Reason), Choices: []Choice{ChoiceOK}}
			n.Box = &m
		}
		return n
	case s != nil && a.Phase == PhaseLogOn && s.LockedAt != nil:
		a.Phase = PhaseLocked
	case s != nil && a.Phase == PhaseLogOn:
		a.Phase = PhaseServing
	}
	return a
}

// EndedWords says why the agent ended a session, in the counter's words.
func EndedWords(reason string) string {
	switch reason {
	case string(latchkey.LimitQuota), latchkey.EQUOTAEXCEEDED:
		return "Your session is being ended: your time for today is used up."
	case string(latchkey.LimitMaxSession):
		return "Your session is being ended: it reached the longest time allowed at this site."
	case string(latchkey.LimitReservation):
		return "Your session is being ended: this terminal is reserved for someone else now."
	case latchkey.EndForcedTimeout:
		return "Your session was ended: it was not used for too long."
	case latchkey.EndForced, string(latchkey.SessionFailed):
		return "Your session was ended from another counter."
	case latchkey.EndTerminalCleanup:
		return "Your session was ended by a new log-on at this counter."
	// The verdicts on a session run while the data centre could not be
	// reached, once it is back (docs/standalone.md).
	case latchkey.JournalInvalidIdentity:
		return "Your session is being ended: the data centre did not accept the login ID or password it was started with."
	case latchkey.JournalUnchecked:
		return "Your session is being ended: the data centre cannot tell who started it while it could not be reached."
	case latchkey.JournalNotAllowed:
		return "Your session is being ended: this site does not allow logging on while the data centre cannot be reached."
	case latchkey.ECONCURRENTSESSION:
		return "Your session is being ended: you were also logged on, not locked, at another counter while the data centre could not be reached."
	case string(latchkey.VerdictLogoff), string(latchkey.VerdictWarnThenLogoff):
		return "Your session is being ended by the data centre."
	case latchkey.EndLogout:
		return "You logged off."
	}
	return "Your session was ended (" + reason + ")."
}

// refused shows a refusal's message, whose choices answer the call; an
// inactivity lock the server could not be told of locks anyway, silently.
func (a App) refused(c Call, r Refusal) (App, []Call) {
	if c.Op == OpLock && c.Reason == agent.LockInactivity && r.Details.Offline {
		c.Choice = agent.ChoiceLockAnyway
		a.Busy = true
		return a, []Call{c}
	}
	if c.Op == OpTouch {
		return a, nil // activity is best effort
	}
	if r.Details.Offline && a.Status != nil && a.Status.Mode != agent.ModeStandalone {
		st := *a.Status // the agent is standalone now: the header says so at once
		st.Mode = agent.ModeStandalone
		a.Status = &st
	}
	action := map[Op]Action{OpLogin: ActLogOn, OpLock: ActLock, OpUnlock: ActUnlock}[c.Op]
	m := Words(action, r, a.cfg.Names, a.Now, a.cfg.Loc)
	if c.Op == OpUnlock || c.Op == OpLogin {
		a.Password = ""
	}
	a.Box, a.boxFor = &m, c
	return a, nil
}
