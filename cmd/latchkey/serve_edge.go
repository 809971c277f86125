package main

import (
	"errors"
	"flag"
	"net"
	"net/netip"
	"time"

	lkhttp "latchkey/http"
	"latchkey/httplimit"
)

// edgeFlags are serve's bounds on clients: slow and numerous ones, login
// throttling, who may read /metrics (docs/security.md, "Throttling and
// slow clients").
type edgeFlags struct {
	readTimeout, idleTimeout time.Duration
	maxConns                 int
	maxStreams, perToken     int
	inFlight                 int
	address, identity        lkhttp.Window
	proxies                  []netip.Prefix
	metricsPublic            bool
}

// defaultEdgeFlags are the edge flags' defaults.
func defaultEdgeFlags() edgeFlags {
	return edgeFlags{
		readTimeout: httplimit.DefaultReadTimeout,
		idleTimeout: httplimit.DefaultIdleTimeout,
		maxConns:    httplimit.DefaultMaxConns,
		maxStreams:  lkhttp.DefaultMaxStreams,
		perToken:    lkhttp.DefaultMaxStreamsPerToken,
		inFlight:    lkhttp.DefaultInFlight,
		address:     lkhttp.DefaultAddressWindow,
		identity:    lkhttp.DefaultIdentityWindow,
	}
}

// addFlags defines the edge flags on fs, into f, with f's values as their
// defaults.
func (f *edgeFlags) addFlags(fs *flag.FlagSet) {
	fs.DurationVar(&f.readTimeout, "read-timeout", f.readTimeout, "how long a request's headers and body together may take to arrive")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", f.idleTimeout, "close a kept-alive connection idle this long")
	fs.IntVar(&f.maxConns, "max-conns", f.maxConns, "open connections at most; one more is answered 429 and closed")
	fs.IntVar(&f.maxStreams, "max-streams", f.maxStreams, "event streams (GET /v1/events) open at most, in all")
	fs.IntVar(&f.perToken, "max-streams-per-token", f.perToken, "event streams open at most per token")
	window := func(w *lkhttp.Window) func(string) error {
		return func(v string) error {
			p, err := lkhttp.ParseWindow(v)
			if err == nil {
				*w = p
			}
			return err
		}
	}
	fs.Func("login-throttle-address", "`N/D`: failed password checks allowed from one client address within D, then 429 (default 10/1m; off: none)", window(&f.address))
	fs.Func("login-throttle-identity", "`N/D`: failed password checks allowed for one identity within D, then 429 (default 20/15m; off: none)", window(&f.identity))
	fs.IntVar(&f.inFlight, "login-inflight", f.inFlight, "password checks running at once per client address and per identity; more get 429")
	fs.Func("trusted-proxy", "`CIDR` of a reverse proxy whose X-Forwarded-For names the client (repeatable; default none)", func(v string) error {
		p, err := lkhttp.ParseTrustedProxy(v)
		if err == nil {
			f.proxies = append(f.proxies, p)
		}
		return err
	})
	fs.BoolVar(&f.metricsPublic, "metrics-public", f.metricsPublic, "serve GET /metrics without a token (always so on a loopback listener)")
}

func (f *edgeFlags) check() error {
	switch {
	case f.readTimeout < 100*time.Millisecond || f.readTimeout > 10*time.Minute:
		return errors.New("--read-timeout must be 100ms to 10m")
	case f.idleTimeout < time.Second || f.idleTimeout > time.Hour:
		return errors.New("--idle-timeout must be 1s to 1h")
	case f.maxConns < 1 || f.maxConns > 1_000_000:
		return errors.New("--max-conns must be 1 to 1000000")
	case f.inFlight < 1 || f.inFlight > 1_000_000:
		return errors.New("--login-inflight must be 1 to 1000000")
	case f.maxStreams < 1 || f.perToken < 1 || f.perToken > f.maxStreams:
		return errors.New("--max-streams and --max-streams-per-token must be at least 1, and the second at most the first")
	}
	return nil
}

// limits are the API listener's bounds.
func (f *edgeFlags) limits() httplimit.Limits {
	return httplimit.Limits{ReadTimeout: f.readTimeout, IdleTimeout: f.idleTimeout, MaxConns: f.maxConns}
}

// pprofLimits bound the profiling listener: the same timeouts, and a few
// connections (it is for one person at a time).
func (f *edgeFlags) pprofLimits() httplimit.Limits {
	l := f.limits()
	l.MaxConns = min(l.MaxConns, 16)
	return l
}

// apply sets the server's edge options for a listener at addr.
func (f *edgeFlags) apply(o *lkhttp.Options, addr net.Addr) {
	o.AddressThrottle, o.IdentityThrottle, o.TrustedProxies = f.address, f.identity, f.proxies
	o.AddressThrottle.InFlight, o.IdentityThrottle.InFlight = f.inFlight, f.inFlight
	o.MaxStreams, o.MaxStreamsPerToken = f.maxStreams, f.perToken
	o.MetricsPublic = f.metricsPublic || isLoopback(addr)
}

// isLoopback reports whether a listener's address is a loopback one: then
// only this machine can reach it.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
