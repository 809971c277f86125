package latchkey

import (
	"context"
	"time"
)

// Clock tells the time; tests inject a fake one so the seeds' timeouts run
// in milliseconds.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Store is everything the HTTP server needs of the store.
type Store interface {
	AuthService
	PrincipalService
	SiteService
	TerminalService
	SessionService
	AuditService
	IdempotencyService
	LockService
	EventService
	ConfigService
	GroupSetService
	CheckoutService
	ReservationService
	ReservationDayService
	AgentService
	RequestService
	JobService
	NodeService
	TaskService
	// Now is the store's clock: the time its records are written by
	// (a check-out's time left is counted by it).
	Now() time.Time
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}
