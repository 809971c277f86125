package agent

import (
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// SystemClock is the machine's clocks: time.Now, CLOCK_BOOTTIME and
// /proc/sys/kernel/random/boot_id.
type SystemClock struct{}

// Wall implements Clock.
func (SystemClock) Wall() time.Time { return time.Now() }

// Boottime implements Clock: CLOCK_BOOTTIME, which counts suspend
// too and cannot be set.
func (SystemClock) Boottime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			return time.Duration(time.Now().UnixNano()) // not reached on Linux
		}
	}
	return time.Duration(ts.Nano())
}

// BootID implements Clock ("" if the kernel does not say).
func (SystemClock) BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
