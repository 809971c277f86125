package agent_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"latchkey/agent"
)

// TestJournalIsPrivate: the agent's state dir is 0700 and its journal
// files 0600 after OpenJournal, when it makes them and when they were
// left open to others.
func TestJournalIsPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	dir := filepath.Join(t.TempDir(), "state")
	db := filepath.Join(dir, "journal.db")
	check := func(when string) {
		t.Helper()
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: state dir %v %v", when, fi.Mode(), err)
		}
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				if p == db {
					t.Errorf("%s: %v", when, err)
				}
				continue
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s mode %04o, want 0600", when, filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	j, err := agent.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	check("created")
	j.Close()
	os.Chmod(dir, 0o755)
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		os.Chmod(p, 0o644)
	}
	j, err = agent.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	check("reopened")
}
