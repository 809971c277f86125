package bench

import (
	"math"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// burner starts a child of this process that spins until killed.
func burner(t *testing.T) *exec.Cmd {
	t.Helper()
	c := exec.Command("sh", "-c", "while :; do :; done")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c
}

// burnUntil waits until process pid has used at least s seconds of CPU.
func burnUntil(t *testing.T, pid int, s float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, err := readProcStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		if p.own >= s {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d used %.2f s of CPU, not %.2f, within 20 s", pid, p.own, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

// A watched process's tree counts, over the window, its own CPU time, a
// child's that lived through the window only from the window's start, one
// born in the window all of it, and one that exited and was reaped (into
// the parent's cutime, with its whole life) only its time in the window.
func TestTreeCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	self := []int{os.Getpid()}
	a := burner(t)
	burnUntil(t, a.Process.Pid, 0.1)
	me0 := selfCPU()
	s0, err := sampleTrees(self)
	if err != nil {
		t.Fatal(err)
	}
	aBefore, ok := s0[0].children[a.Process.Pid]
	if !ok || aBefore.own < 0.1 {
		t.Fatalf("the first sample has child %d as %+v (found %v): want it with its CPU time", a.Process.Pid, aBefore, ok)
	}
	b := burner(t)
	burnUntil(t, a.Process.Pid, aBefore.own+0.1)
	burnUntil(t, b.Process.Pid, 0.1)
	a.Process.Kill()
	a.Wait()
	aTotal := (a.ProcessState.UserTime() + a.ProcessState.SystemTime()).Seconds()
	s1, err := sampleTrees(self)
	if err != nil {
		t.Fatal(err)
	}
	me := selfCPU() - me0
	got := treeCPU(self, s0, s1)[0]
	bOwn := s1[0].children[b.Process.Pid].own

	// /proc counts in ticks of 10 ms: a few of them either way.
	want := aTotal - aBefore.own - aBefore.child + bOwn + me
	if math.Abs(got.CPUSeconds-want) > 0.05 {
		t.Errorf("tree CPU %.3f s: want %.3f (A %.3f of its %.3f in the window, B %.3f, this process %.3f)",
			got.CPUSeconds, want, aTotal-aBefore.own, aTotal, bOwn, me)
	}
	if got.CPUSeconds >= want+aBefore.own-0.05 {
		t.Errorf("tree CPU %.3f s counts the reaped child's time before the window (%.3f)", got.CPUSeconds, aBefore.own)
	}
	var sawB bool
	for _, c := range got.Children {
		if c.PID == a.Process.Pid {
			t.Errorf("children %+v: the reaped child is listed", got.Children)
		}
		if c.PID == b.Process.Pid {
			sawB = c.CPUSeconds >= 0.1 && c.Title == "sh -c while :; do :; done"
		}
	}
	if !sawB {
		t.Errorf("children %+v: want child %d with its CPU time in the window and its command line", got.Children, b.Process.Pid)
	}
	if _, err := sampleTrees([]int{math.MaxInt32}); err == nil {
		t.Error("sampling a process that does not exist: no error")
	}
}
