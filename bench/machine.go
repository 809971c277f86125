package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is this machine's CPU accounting at one instant: from
// /proc/stat the time all its cores spent busy, spent stolen by the
// hypervisor and spent in total, and from getrusage the benchmark
// process's own CPU time, all in seconds.
type cpuSample struct {
	at                  time.Time
	busy, steal, total  float64
	self                float64
	haveMachine, haveMe bool
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.self = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
		s.haveMe = true
	}
	f, err := os.Open("/proc/stat")
	if err != nil {
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return s
	}
	fields := strings.Fields(sc.Text())
	// cpu user nice system idle iowait irq softirq steal [guest guest_nice]
	if len(fields) < 9 || fields[0] != "cpu" {
		return s
	}
	var v [8]float64
	for i := range v {
		n, err := strconv.ParseUint(fields[i+1], 10, 64)
		if err != nil {
			return s
		}
		v[i] = float64(n) / clockTicks
	}
	for _, x := range v {
		s.total += x
	}
	s.steal = v[7]
	s.busy = s.total - v[3] - v[4] - s.steal // less idle, iowait and steal
	s.haveMachine = true
	return s
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// MachineCPU is how a window's CPU was spent, in cores (CPU seconds per
// second of the window).
type MachineCPU struct {
	Busy   float64 `json:"busy_cores"`   // all processes and the kernel
	Steal  float64 `json:"steal_cores"`  // taken by the hypervisor
	Client float64 `json:"client_cores"` // this benchmark process
}

// since is the share between an earlier sample and s; zero where either
// sample lacks the data.
func (s cpuSample) since(a cpuSample) MachineCPU {
	d := s.at.Sub(a.at).Seconds()
	var m MachineCPU
	if d <= 0 {
		return m
	}
	if s.haveMachine && a.haveMachine {
		m.Busy, m.Steal = (s.busy-a.busy)/d, (s.steal-a.steal)/d
	}
	if s.haveMe && a.haveMe {
		m.Client = (s.self - a.self) / d
	}
	return m
}
