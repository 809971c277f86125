package private

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestDirAndFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	root := t.TempDir()
	nested := filepath.Join(root, "a", "b")
	if err := Dir(nested); err != nil || mode(t, nested) != 0o700 {
		t.Fatalf("Dir(new): %v", err)
	}
	open := filepath.Join(root, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o777)
	if err := Dir(open); err != nil || mode(t, open) != 0o700 {
		t.Fatalf("Dir(0777): %v, mode %04o", err, mode(t, open))
	}
	db := filepath.Join(open, "x.db")
	os.WriteFile(db, nil, 0o644)
	os.WriteFile(db+"-wal", nil, 0o666)
	os.Chmod(db+"-wal", 0o666)
	if err := Files(SQLite(db)...); err != nil { // -shm and -journal are missing: skipped
		t.Fatal(err)
	}
	for _, p := range []string{db, db + "-wal"} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s: mode %04o", p, m)
		}
	}
	if _, err := os.Stat(db + "-shm"); err == nil {
		t.Error("Files created a missing file")
	}
	fresh := filepath.Join(open, "fresh.db")
	if err := Create(fresh); err != nil || mode(t, fresh) != 0o600 {
		t.Fatalf("Create: %v", err)
	}
	os.WriteFile(fresh, []byte("data"), 0o600)
	if err := Create(fresh); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fresh); string(b) != "data" {
		t.Errorf("Create truncated an existing file: %q", b)
	}
}

func TestRefusals(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, nil, 0o644)
	os.Chmod(path, 0o644)
	defer func() { chmod = os.Chmod }()

	chmod = func(string, fs.FileMode) error { return &fs.PathError{Op: "chmod", Path: path, Err: syscall.EPERM} }
	if err := Files(path); err == nil || !strings.Contains(err.Error(), "cannot make "+path+" private") {
		t.Errorf("chmod refused: %v", err)
	}
	chmod = func(string, fs.FileMode) error { return nil } // a file system that ignores modes
	if err := Files(path); err == nil || !strings.Contains(err.Error(), "mode 0644, want 0600") {
		t.Errorf("mode did not stick: %v", err)
	}
	os.Chmod(filepath.Dir(path), 0o755)
	if err := Dir(filepath.Dir(path)); err == nil {
		t.Error("Dir: mode did not stick, yet no error")
	}
	chmod = os.Chmod
	if runtime.GOOS == "linux" {
		// procfs refuses every chmod, even root's.
		if err := Dir("/proc/self"); err == nil {
			t.Error("Dir(/proc/self) succeeded")
		}
	}
}
