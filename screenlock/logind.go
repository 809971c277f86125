package screenlock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/godbus/dbus/v5"

	"latchkey/agent"
)

// logind's names on the system bus.
const (
	Login1Name       = "org.freedesktop.login1"
	Login1Path       = dbus.ObjectPath("/org/freedesktop/login1")
	Login1Manager    = "org.freedesktop.login1.Manager"
	Login1Session    = "org.freedesktop.login1.Session"
	reconnectFirst   = time.Second
	reconnectMax     = 30 * time.Second
	defaultGiveUp    = 10 * time.Minute
	defaultCallLimit = 30 * time.Second
	defaultPollEvery = 2 * time.Second
)

// Gateway is what the watcher calls on the agent's gateway
// (*agent.GatewayClient).
type Gateway interface {
	Status(ctx context.Context) (*agent.Status, error)
	Lock(ctx context.Context, r agent.LockRequest) (*agent.Status, error)
}

// Watcher follows the Lock and Unlock signals of one logind session and
// applies Decide to each.
type Watcher struct {
	Gateway Gateway
	// Dial connects to the system bus (a new connection on each call).
	Dial func() (*dbus.Conn, error)
	// Session is the logind session's ID; "" means the session of this
	// process, or else the user's display session (logind's "auto").
	Session string
	Log     *slog.Logger
	// GiveUpAfter ends Run when the system bus has not been reached for
	// this long (default 10 minutes): a user unit's Restart= takes over.
	GiveUpAfter time.Duration
	// CallTimeout bounds each call to the gateway and to logind (default
	// 30 s).
	CallTimeout time.Duration
	// PollEvery is how often the agent's status is read to follow the
	// latchkey session's end (Follow; default 2 s).
	PollEvery time.Duration

	seen string // the latchkey session in progress at the last look
}

// Run watches until ctx ends (nil) or the system bus cannot be reached
// for GiveUpAfter (an error). A dropped connection is reconnected with a
// backoff of 1 s doubling up to 30 s, each attempt logged.
func (w *Watcher) Run(ctx context.Context) error {
	giveUp := w.GiveUpAfter
	if giveUp <= 0 {
		giveUp = defaultGiveUp
	}
	backoff := reconnectFirst
	var failingSince time.Time
	for {
		connected := false
		err := w.watch(ctx, func() { connected = true })
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		if connected {
			backoff, failingSince = reconnectFirst, now
		} else if failingSince.IsZero() {
			failingSince = now
		}
		if now.Sub(failingSince) >= giveUp {
			return fmt.Errorf("the system bus has not been reached for %s, giving up: %w", giveUp.Round(time.Second), err)
		}
		w.Log.Warn("system bus: reconnecting", "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, reconnectMax)
	}
}

// watch connects, finds the session, subscribes to its signals and
// handles them until the connection drops (an error) or ctx ends.
func (w *Watcher) watch(ctx context.Context, connected func()) error {
	conn, err := w.Dial()
	if err != nil {
		return fmt.Errorf("connect to the system bus: %w", err)
	}
	defer conn.Close()
	path, err := w.findSession(ctx, conn)
	if err != nil {
		return err
	}
	// The bus delivers only logind's own signals (the sender match names
	// login1, which the bus resolves to its owner), on this session only.
	for _, member := range []Signal{Lock, Unlock} {
		if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchSender(Login1Name), dbus.WithMatchObjectPath(path),
			dbus.WithMatchInterface(Login1Session), dbus.WithMatchMember(string(member))); err != nil {
			return fmt.Errorf("subscribe to %s on %s: %w", member, path, err)
		}
	}
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	defer conn.RemoveSignal(ch)
	connected()
	w.follow(ctx, conn, path) // the latchkey session now, before the first tick
	w.Log.Info("watching the login session's screen lock", "logind_session", string(path))
	poll := time.NewTicker(w.pollEvery())
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			w.follow(ctx, conn, path)
		case sig, ok := <-ch:
			if !ok {
				return errors.New("the system bus connection was closed")
			}
			if sig.Path != path {
				continue
			}
			switch sig.Name {
			case Login1Session + ".Lock":
				w.handle(ctx, Lock, conn, path)
			case Login1Session + ".Unlock":
				w.handle(ctx, Unlock, conn, path)
			}
		}
	}
}

// findSession returns the object path of the logind session to watch.
func (w *Watcher) findSession(ctx context.Context, conn *dbus.Conn) (dbus.ObjectPath, error) {
	ctx, cancel := context.WithTimeout(ctx, w.callTimeout())
	defer cancel()
	mgr := conn.Object(Login1Name, Login1Path)
	var path dbus.ObjectPath
	if w.Session != "" {
		if err := mgr.CallWithContext(ctx, Login1Manager+".GetSession", 0, w.Session).Store(&path); err != nil {
			return "", fmt.Errorf("logind session %q: %w", w.Session, err)
		}
		return path, nil
	}
	err := mgr.CallWithContext(ctx, Login1Manager+".GetSessionByPID", 0, uint32(os.Getpid())).Store(&path)
	if err == nil {
		return path, nil
	}
	// A user unit runs outside the login session's scope: logind's "auto"
	// is then the user's display session.
	if err2 := mgr.CallWithContext(ctx, Login1Manager+".GetSession", 0, "auto").Store(&path); err2 != nil {
		return "", fmt.Errorf("this process's logind session: %w; the user's display session: %w (give --session or set XDG_SESSION_ID)", err, err2)
	}
	return path, nil
}

// handle reads the gateway's status, decides and acts on sig, and logs one
// line.
func (w *Watcher) handle(ctx context.Context, sig Signal, conn *dbus.Conn, path dbus.ObjectPath) {
	ctx, cancel := context.WithTimeout(ctx, w.callTimeout())
	defer cancel()
	st, err := w.Gateway.Status(ctx)
	attrs := []any{"signal", string(sig)}
	if err != nil {
		st = nil
		attrs = append(attrs, "agent_err", err)
	} else if st.Session != nil {
		attrs = append(attrs, "latchkey_session", st.Session.ID)
	}
	d := Decide(sig, st)
	attrs = append(attrs, "action", string(d.Action))
	level := slog.LevelInfo
	switch d.Action {
	case LockSession:
		after, err := w.Gateway.Lock(ctx, agent.LockRequest{Reason: agent.LockManual, Choice: agent.ChoiceLockAnyway})
		if err != nil {
			level, attrs = slog.LevelError, append(attrs, "outcome", "the latchkey session could not be locked", "err", err)
		} else {
			attrs = append(attrs, "outcome", LockedOutcome(after))
		}
	case Relock:
		if err := conn.Object(Login1Name, path).CallWithContext(ctx, Login1Session+".Lock", 0).Err; err != nil {
			level, attrs = slog.LevelError, append(attrs, "outcome", "the screen could not be locked again", "err", err)
		} else {
			attrs = append(attrs, "outcome", "the screen was locked again")
		}
	}
	w.Log.Log(ctx, level, d.Why, attrs...)
}

func (w *Watcher) callTimeout() time.Duration {
	if w.CallTimeout > 0 {
		return w.CallTimeout
	}
	return defaultCallLimit
}

// follow reads the agent's status and, when the latchkey session seen
// before ended by a rule, ends the login session (Follow), logging why.
func (w *Watcher) follow(ctx context.Context, conn *dbus.Conn, path dbus.ObjectPath) {
	ctx, cancel := context.WithTimeout(ctx, w.callTimeout())
	defer cancel()
	st, err := w.Gateway.Status(ctx)
	if err != nil {
		st = nil
	}
	d, seen := Follow(w.seen, st)
	w.seen = seen
	if d.Action != Terminate {
		return
	}
	if err := conn.Object(Login1Name, path).CallWithContext(ctx, Login1Session+".Terminate", 0).Err; err != nil {
		w.Log.Error(d.Why, "action", string(d.Action), "outcome", "the desktop session could not be ended", "err", err)
		return
	}
	w.Log.Info(d.Why, "action", string(d.Action), "outcome", "the desktop session was ended")
}

func (w *Watcher) pollEvery() time.Duration {
	if w.PollEvery > 0 {
		return w.PollEvery
	}
	return defaultPollEvery
}
