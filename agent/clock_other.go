//go:build !linux

package agent

import "time"

// processStart carries the monotonic reading boottime is measured from
// where there is no CLOCK_BOOTTIME.
var processStart = time.Now()

// SystemClock is the machine's clocks. Outside Linux, boottime is the
// monotonic time since the process started and every process start counts
// as a new boot.
type SystemClock struct{}

// Wall implements Clock.
func (SystemClock) Wall() time.Time { return time.Now() }

// Boottime implements Clock.
func (SystemClock) Boottime() time.Duration { return time.Since(processStart) }

// BootID implements Clock.
func (SystemClock) BootID() string { return processStart.String() }
