package http

import "time"

// Admit exposes the throttle rule's admission decision, for table tests.
func (w Window) Admit(failures []time.Time, inflight int, now time.Time) (time.Duration, bool) {
	return w.admit(attempts{failures: failures, inflight: inflight}, now)
}

// Record exposes the throttle rule's bookkeeping of one failure.
func (w Window) Record(failures []time.Time, now time.Time) []time.Time {
	return w.record(failures, now)
}

// Throttle is the keyed, in-memory throttle, for tests.
type Throttle struct{ t *throttle }

func NewThrottle(rule Window, now func() time.Time, maxKeys int) *Throttle {
	return &Throttle{newThrottle(rule, now, maxKeys)}
}

func (t *Throttle) Begin(key string) (time.Duration, bool) { return t.t.begin(key) }
func (t *Throttle) End(key string, failed bool)            { t.t.end(key, failed) }
func (t *Throttle) Size() int                              { return t.t.size() }

// ClientAddress exposes the throttle's naming of a request's client.
var ClientAddress = clientAddress
