package bench

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ProcessCPU is the CPU time a process and its children spent during a
// run's measured window (Linux /proc), for processes outside the
// benchmark such as the PostgreSQL server behind the nodes: the
// postmaster's children (backends, WAL writer, checkpointer) come and go,
// and one that exits is reaped by the postmaster, whose cumulative
// children's time (cutime, cstime) then holds its CPU time.
type ProcessCPU struct {
	PID   int    `json:"pid"`
	Title string `json:"title"` // its command line, as ps shows it
	// CPUSeconds is the whole tree's: the process's utime+stime+cutime+
	// cstime, plus, for each child alive at either end, its own at the end
	// (0 if it was gone) less its own at the start (0 if it was not yet
	// there). A child that exited was reaped into the parent's cutime and
	// cstime with its whole life, so its time before the window is taken
	// off again; one that exited but was not reaped yet is still listed.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Children are the children alive at the end of the window, each with
	// its CPU time within it.
	Children []ChildCPU `json:"children,omitempty"`
}

// ChildCPU is a child of a watched process and its CPU time within the
// window (utime+stime+cutime+cstime).
type ChildCPU struct {
	PID        int     `json:"pid"`
	Title      string  `json:"title"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

// procTimes is one process's CPU account from /proc/PID/stat, in seconds:
// its own (utime+stime) and that of its reaped children (cutime+cstime).
type procTimes struct {
	ppid       int
	own, child float64
}

// readProcStat reads /proc/PID/stat. Its second field, the command name,
// is in parentheses and may hold spaces or parentheses itself, so the
// fields are counted from the last ')'.
func readProcStat(pid int) (procTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procTimes{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	// After the name: state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime ...
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	var v [5]uint64
	for j, k := range [5]int{1, 11, 12, 13, 14} {
		if v[j], err = strconv.ParseUint(f[k], 10, 64); err != nil {
			return procTimes{}, fmt.Errorf("/proc/%d/stat: field %d: %w", pid, k+3, err)
		}
	}
	return procTimes{ppid: int(v[0]), own: float64(v[1]+v[2]) / clockTicks,
		child: float64(v[3]+v[4]) / clockTicks}, nil
}

// procTitle is a process's command line with spaces for its NULs, or ""
// when it cannot be read.
func procTitle(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// treeSample is a watched process and its children at one instant.
type treeSample struct {
	root     procTimes
	children map[int]procTimes
}

// sampleTrees reads each process of pids and its children (by their
// parent in /proc/*/stat). A watched process that cannot be read is an
// error; a child that exits while /proc is read is left out.
func sampleTrees(pids []int) ([]treeSample, error) {
	if len(pids) == 0 {
		return nil, nil
	}
	out := make([]treeSample, len(pids))
	index := map[int]int{}
	for i, pid := range pids {
		t, err := readProcStat(pid)
		if err != nil {
			return nil, fmt.Errorf("bench: watched process %d: %w", pid, err)
		}
		out[i] = treeSample{root: t, children: map[int]procTimes{}}
		index[pid] = i
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		t, err := readProcStat(pid)
		if err != nil {
			continue
		}
		if i, ok := index[t.ppid]; ok {
			out[i].children[pid] = t
		}
	}
	return out, nil
}

// treeCPU is what the trees of pids spent between the samples a and b.
func treeCPU(pids []int, a, b []treeSample) []ProcessCPU {
	out := make([]ProcessCPU, len(pids))
	for i, pid := range pids {
		s, e := a[i], b[i]
		p := ProcessCPU{PID: pid, Title: procTitle(pid)}
		p.CPUSeconds = e.root.own + e.root.child - s.root.own - s.root.child
		for cpid, c := range s.children {
			if _, alive := e.children[cpid]; !alive {
				p.CPUSeconds -= c.own + c.child
			}
		}
		for cpid, c := range e.children {
			d := c.own + c.child
			if c0, ok := s.children[cpid]; ok {
				d -= c0.own + c0.child
			}
			p.CPUSeconds += d
			p.Children = append(p.Children, ChildCPU{PID: cpid, Title: procTitle(cpid), CPUSeconds: d})
		}
		slices.SortFunc(p.Children, func(x, y ChildCPU) int { return x.PID - y.PID })
		out[i] = p
	}
	return out
}
