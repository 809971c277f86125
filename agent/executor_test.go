package agent_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"latchkey"
	"latchkey/agent"
)

// The file executor applies a change only when the membership differs,
// keeps the file sorted, and logs every change it applies, once.
func TestFileExecutor(t *testing.T) {
	f := &agent.FileExecutor{Path: filepath.Join(t.TempDir(), "groups")}
	steps := []struct {
		ch      latchkey.Change
		applied bool
	}{
		{latchkey.Change{Add: true, Group: "wheel", Login: "ann"}, true},
		{latchkey.Change{Add: true, Group: "wheel", Login: "ann"}, false},
		{latchkey.Change{Add: true, Group: "docker", Login: "ann"}, true},
		{latchkey.Change{Add: false, Group: "backup", Login: "ann"}, false},
		{latchkey.Change{Add: false, Group: "wheel", Login: "ann"}, true},
		{latchkey.Change{Add: false, Group: "wheel", Login: "ann"}, false},
	}
	for i, s := range steps {
		applied, err := f.Apply(s.ch, "ins_"+string(rune('a'+i)))
		if err != nil || applied != s.applied {
			t.Fatalf("step %d %+v: applied %v, %v; want %v", i, s.ch, applied, err, s.applied)
		}
	}
	if m, _ := f.Members(); strings.Join(m, ",") != "docker ann" {
		t.Fatalf("members %v", m)
	}
	log, _ := os.ReadFile(f.Path + ".log")
	if string(log) != "+ wheel ann ins_a\n+ docker ann ins_c\n- wheel ann ins_e\n" {
		t.Fatalf("log:\n%s", log)
	}
	var wg sync.WaitGroup // concurrent changes serialise: none lost
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Apply(latchkey.Change{Add: true, Group: "g" + string(rune('a'+i)), Login: "bob"}, "c")
		}()
	}
	wg.Wait()
	if m, _ := f.Members(); len(m) != 21 {
		t.Fatalf("after 20 concurrent adds: %d members", len(m))
	}
}

// The linux executor puts a real local user into a real group and takes
// it out again. It runs only as root with gpasswd, useradd and groupadd
// present, and removes the user and group it made.
func TestLinuxExecutor(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to change local groups")
	}
	for _, tool := range []string{"gpasswd", "getent", "useradd", "userdel", "groupadd", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed", tool)
		}
	}
	var b [4]byte
	rand.Read(b[:])
	user, group := "lkuser"+hex.EncodeToString(b[:]), "lkgrp"+hex.EncodeToString(b[:])
	mustRun(t, "useradd", "-M", "-s", "/usr/sbin/nologin", user)
	t.Cleanup(func() { exec.Command("userdel", user).Run() })
	ex := agent.LinuxExecutor{CreateGroups: true}
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })

	member := func() bool {
		out, err := exec.Command("getent", "group", group).Output()
		if err != nil {
			t.Fatalf("getent group %s: %v", group, err)
		}
		f := strings.Split(strings.TrimSpace(string(out)), ":")
		return len(f) == 4 && strings.Contains(","+f[3]+",", ","+user+",")
	}
	if applied, err := ex.Apply(latchkey.Change{Add: true, Group: group, Login: user}, "t"); err != nil || !applied {
		t.Fatalf("add: %v, %v", applied, err)
	}
	if !member() {
		t.Fatal("the user is not in the group after the add")
	}
	if applied, err := ex.Apply(latchkey.Change{Add: true, Group: group, Login: user}, "t"); err != nil || applied {
		t.Fatalf("add again: %v, %v; want nothing to do", applied, err)
	}
	if applied, err := ex.Apply(latchkey.Change{Add: false, Group: group, Login: user}, "t"); err != nil || !applied {
		t.Fatalf("remove: %v, %v", applied, err)
	}
	if member() {
		t.Fatal("the user is still in the group after the removal")
	}
	if _, err := (agent.LinuxExecutor{}).Apply(latchkey.Change{Add: true, Group: group + "x", Login: user}, "t"); err == nil {
		t.Fatal("adding to a missing group without --create-groups succeeded")
	}
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}
