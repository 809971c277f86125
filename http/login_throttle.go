package http

import (
	nethttp "net/http"
	"net/netip"
	"time"

	"latchkey"
)

// loginThrottle holds back password guessing at this node: failed
// password checks are counted per client address and per identity, and
// a key over its Window gets 429 rate_limited, with Retry-After, before
// its password is hashed. It lives in memory; the store's lockout of an
// identity is the guard that holds across nodes and restarts.
type loginThrottle struct {
	byAddress  *throttle
	byIdentity *throttle
	trusted    []netip.Prefix // proxies whose X-Forwarded-For is believed
}

func newLoginThrottle(opts Options) *loginThrottle {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	addr, ident := opts.AddressThrottle, opts.IdentityThrottle
	if addr.Limit == 0 {
		addr = DefaultAddressWindow
	}
	if ident.Limit == 0 {
		ident = DefaultIdentityWindow
	}
	return &loginThrottle{
		byAddress:  newThrottle(addr, now, opts.ThrottleKeys),
		byIdentity: newThrottle(ident, now, opts.ThrottleKeys),
		trusted:    opts.TrustedProxies,
	}
}

// throttledCheck runs check, a store call that verifies a password of
// identity, under the login throttle: refused with rate_limited (check
// not run, nothing hashed) when r's client address or the identity has
// failed too often lately; counted as a failure when check answers
// invalid_credentials.
func (s *Server) throttledCheck(r *nethttp.Request, identity string, check func() error) error {
	lt := s.guard
	addr := clientAddress(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), lt.trusted)
	if wait, ok := lt.byAddress.begin(addr); !ok {
		s.metrics.throttled.WithLabelValues("address").Inc()
		return rateLimited(wait, "address", "too many failed logons from your address")
	}
	if wait, ok := lt.byIdentity.begin(identity); !ok {
		lt.byAddress.end(addr, false)
		s.metrics.throttled.WithLabelValues("identity").Inc()
		return rateLimited(wait, "identity", "too many failed logons for identity %s", identity)
	}
	failed := false
	defer func() { // also when check panics: its place in flight is given back
		lt.byIdentity.end(identity, failed)
		lt.byAddress.end(addr, failed)
	}()
	err := check()
	failed = latchkey.ErrorCode(err) == latchkey.EINVALIDCREDENTIALS
	return err
}

// retryAfterDetail is the detail of a rate_limited error that becomes its
// Retry-After header: whole seconds.
const retryAfterDetail = "retry_after_seconds"

func rateLimited(wait time.Duration, scope, format string, args ...any) error {
	secs := int64((wait + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	e := latchkey.Errorf(latchkey.ERATELIMITED, format, args...)
	e.Message += "; try again in " + (time.Duration(secs) * time.Second).String()
	return e.With(retryAfterDetail, secs).With("scope", scope)
}
