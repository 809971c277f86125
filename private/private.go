// Package private keeps the files that hold secrets (databases, journals)
// private to the user that runs latchkey: their directories 0700, the
// files themselves 0600, whatever mode they had before. Each function
// fails when it cannot set the mode, or when the mode it set does not
// stick (a file system that ignores chmod), so that a server or agent
// refuses to start rather than run with its data open to others.
package private

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
)

// Mode of directories and files.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// chmod is os.Chmod; tests replace it.
var chmod = os.Chmod

// Dir creates path (with its missing parents, 0700) and sets path itself
// to 0700.
func Dir(path string) error {
	if err := os.MkdirAll(path, DirMode); err != nil {
		return err
	}
	return set(path, DirMode)
}

// Files sets every path that exists to 0600; missing ones are skipped.
func Files(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := set(p, FileMode); err != nil {
			return err
		}
	}
	return nil
}

// Create makes path an empty 0600 file if it does not exist, so that a
// program creating it later (SQLite creates its database 0644 less the
// umask, and its -wal and -shm files with the database's mode) makes it
// private from the start. An existing file is left as it is.
func Create(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, FileMode)
	if err != nil {
		return err
	}
	return f.Close()
}

// SQLite returns the files of the SQLite database at db: the database,
// its write-ahead log, its shared-memory index and its rollback journal.
func SQLite(db string) []string {
	return []string{db, db + "-wal", db + "-shm", db + "-journal"}
}

// set chmods path to mode and checks that the mode took.
func set(path string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" { // no Unix modes to set
		return nil
	}
	if err := chmod(path, mode); err != nil {
		return fmt.Errorf("cannot make %s private (mode %04o): %w", path, mode, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if got := fi.Mode().Perm(); got != mode {
		return fmt.Errorf("cannot make %s private: mode %04o, want %04o (does its file system keep modes?)", path, got, mode)
	}
	return nil
}
