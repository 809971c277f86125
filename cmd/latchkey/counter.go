package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"latchkey/agent"
	"latchkey/counter"
)

var counterSynopsis = []string{
	"counter --socket PATH [--mode serve_customer|back_office] [--no-transactions] [--default-stock-unit] [--inactivity-lock D]",
}

// runCounter is the counter application (issue 14): the full screen the
// clerk or patron at the terminal uses, talking only to the local agent's
// socket, so it works when the server cannot be reached too. Its rules
// and flows are the counter package's model; this is the terminal around
// it (Bubble Tea): keys in, the model's calls made on the socket, its
// text drawn.
func runCounter(e *env, args []string) int {
	c := e.newCmd("counter", counterSynopsis[0][len("counter "):], false)
	socket := c.fs.String("socket", os.Getenv("LATCHKEY_AGENT_SOCKET"), "the agent's gateway socket (default $LATCHKEY_AGENT_SOCKET)")
	mode := c.fs.String("mode", string(counter.ModeServeCustomer), "the counter's mode: serve_customer or back_office")
	noTransactions := c.fs.Bool("no-transactions", false, "the people here have no transactions permission")
	defaultStockUnit := c.fs.Bool("default-stock-unit", false, "the people here are in the default stock unit")
	inactivity := c.fs.Duration("inactivity-lock", 5*time.Minute, "lock the counter after this long without a key (0: never)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if strings.TrimSpace(*socket) == "" {
		return c.usageError("--socket is required (or set LATCHKEY_AGENT_SOCKET)")
	}
	if m := counter.Mode(*mode); m != counter.ModeServeCustomer && m != counter.ModeBackOffice {
		return c.usageError("--mode must be serve_customer or back_office")
	}
	cfg := counter.Config{Mode: counter.Mode(*mode), Clerk: counter.Clerk{Transactions: !*noTransactions, DefaultStockUnit: *defaultStockUnit},
		InactivityLock: *inactivity, Loc: time.Local}
	m := counterTUI{app: counter.New(cfg, time.Now()), gw: agent.NewGatewayClient(*socket), ctx: e.ctx, width: 80}
	p := tea.NewProgram(m, tea.WithContext(e.ctx), tea.WithInput(e.stdin), tea.WithOutput(e.stdout))
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "latchkey counter: %v\n", err)
		return 1
	}
	return 0
}

// counterTUI is the Bubble Tea model around counter.App.
type counterTUI struct {
	app   counter.App
	gw    *agent.GatewayClient
	ctx   context.Context
	width int
}

// tickMsg is the clock's second; replyMsg the agent's answer to a call.
type (
	tickMsg  time.Time
	replyMsg counter.Reply
)

func tick() tea.Cmd { return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) }) }

func (m counterTUI) Init() tea.Cmd {
	app, calls := m.app.Update(counter.Event{Now: time.Now()}) // the agent's status first
	m.app = app
	return tea.Batch(m.run(calls), tick())
}

func (m counterTUI) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var calls []counter.Call
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		k := msg.String()
		if k == "ctrl+c" {
			return m, tea.Quit
		}
		if k == "space" {
			k = " "
		}
		m.app, calls = m.app.Update(counter.Event{Key: k, Now: time.Now()})
	case replyMsg:
		r := counter.Reply(msg)
		m.app, calls = m.app.Update(counter.Event{Reply: &r, Now: time.Now()})
	case tickMsg:
		m.app, calls = m.app.Update(counter.Event{Now: time.Time(msg)})
		return m, tea.Batch(m.run(calls), tick())
	case tea.WindowSizeMsg:
		m.width = msg.Width
	}
	return m, m.run(calls)
}

func (m counterTUI) View() tea.View {
	v := tea.NewView(strings.Join(m.app.View(m.width), "\n"))
	v.AltScreen = true
	return v
}

// run makes the model's calls on the socket, in order, each answer a
// replyMsg.
func (m counterTUI) run(calls []counter.Call) tea.Cmd {
	var cmds []tea.Cmd
	for _, c := range calls {
		cmds = append(cmds, func() tea.Msg { return replyMsg(callGateway(m.ctx, m.gw, c)) })
	}
	return tea.Sequence(cmds...)
}

// callGateway makes one call on the agent's socket: its status, its
// refusal (the API's error shape), or no answer.
func callGateway(ctx context.Context, gw *agent.GatewayClient, c counter.Call) counter.Reply {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var st *agent.Status
	var err error
	switch c.Op {
	case counter.OpLogin:
		st, err = gw.Login(ctx, agent.LoginRequest{Identity: c.Identity, Password: c.Password, Force: c.Force})
	case counter.OpLock:
		st, err = gw.Lock(ctx, agent.LockRequest{Reason: c.Reason, Choice: c.Choice, InTransaction: c.InTransaction})
	case counter.OpUnlock:
		st, err = gw.Unlock(ctx, agent.UnlockRequest{Identity: c.Identity, Password: c.Password, Force: c.Force})
	case counter.OpLogout:
		st, err = gw.Logout(ctx)
	case counter.OpTouch:
		st, err = gw.Touch(ctx)
	default:
		st, err = gw.Status(ctx)
	}
	r := counter.Reply{Call: c, Status: st}
	switch ref := counter.RefusalOf(err); {
	case err == nil:
	case ref != nil:
		r.Refusal, r.Status = ref, nil
	default:
		r.Down, r.Status = true, nil
	}
	return r
}
