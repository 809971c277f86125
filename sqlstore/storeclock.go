package sqlstore

import (
	"context"
	"sync/atomic"
	"time"
)

// storeClock is the PostgreSQL store's clock when none is injected: this
// node's clock corrected by its measured offset to the database server's
// clock, so that every node stamps and judges leases, heartbeats and
// deadlines by one clock (the store's), whatever the nodes' own clocks
// say. The offset is measured at open and every storeClockEvery after.
type storeClock struct {
	offset atomic.Int64 // nanoseconds to add to time.Now()
}

const storeClockEvery = 10 * time.Second

func (c *storeClock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load())).UTC()
}

// clockOffset is the offset of a server clock that read server while a
// query went out at before and came back at after: the server read its
// clock, we assume, half-way through the round trip.
func clockOffset(before, server, after time.Time) time.Duration {
	mid := before.Add(after.Sub(before) / 2)
	return server.Sub(mid)
}

// measure reads the database server's clock once and sets the offset.
func (s *Store) measureClock(ctx context.Context, c *storeClock) error {
	before := time.Now()
	var us int64
	if err := s.r.QueryRowContext(ctx, "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)").Scan(&us); err != nil {
		return err
	}
	after := time.Now()
	c.offset.Store(int64(clockOffset(before, time.UnixMicro(us), after)))
	return nil
}

// followClock keeps the offset measured until ctx ends.
func (s *Store) followClock(ctx context.Context, c *storeClock) {
	t := time.NewTicker(storeClockEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := s.measureClock(mctx, c); err != nil && ctx.Err() == nil {
				s.log.Warn("measure the database server's clock", "err", err)
			}
			cancel()
		}
	}
}
