package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/godbus/dbus/v5"

	"latchkey/screenlock"
)

// terminalScreenLock runs in the person's desktop session until SIGTERM
// or SIGINT: logind's Lock of the login session locks the latchkey
// session through the agent, and logind's Unlock while the latchkey
// session is locked locks the screen again (package screenlock,
// docs/screenlock.md).
func terminalScreenLock(e *env, args []string) int {
	name := "terminal screenlock"
	c := &gatewayCmd{cmd: e.newCmd(name, synopsisOf(terminalSynopsis, name), false)}
	c.fs.StringVar(&c.socket, "socket", os.Getenv("LATCHKEY_AGENT_SOCKET"), "the agent's gateway socket (default $LATCHKEY_AGENT_SOCKET)")
	session := c.fs.String("session", os.Getenv("XDG_SESSION_ID"), "the logind session `ID` to follow (default $XDG_SESSION_ID, else this process's session, else the user's display session)")
	busAddr := c.fs.String("system-bus-address", os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"), "the system bus `ADDRESS` (default $DBUS_SYSTEM_BUS_ADDRESS, else the standard one)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	gw, st, ok := c.gateway()
	if !ok {
		return st
	}
	log, err := newLogger(c.stderr)
	if err != nil {
		return c.usageError("%v", err)
	}
	dial := dbus.ConnectSystemBus // a private connection: the watcher closes it and dials anew after a drop
	if *busAddr != "" {
		addr := *busAddr
		dial = func(opts ...dbus.ConnOption) (*dbus.Conn, error) { return dbus.Connect(addr, opts...) }
	}
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	w := &screenlock.Watcher{Gateway: gw, Dial: func() (*dbus.Conn, error) { return dial() }, Session: *session, Log: log}
	log.Info("latchkey screenlock starting", "socket", c.socket, "logind_session", *session)
	if err := w.Run(ctx); err != nil {
		return c.fail(err)
	}
	log.Info("latchkey screenlock stopped")
	return 0
}
