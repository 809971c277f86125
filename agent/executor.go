// Package agent is latchkey's workstation agent: it long-polls the
// server for its terminal's instructions, applies them through an
// executor, keeps a durable journal of what it executed, and replies.
package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"latchkey"
)

// Executor changes local group memberships. Apply must be idempotent: it
// reports applied false, and changes nothing, when the membership is
// already as asked. ref names what asked for the change (an instruction
// ID, or "expiry").
type Executor interface {
	Apply(ch latchkey.Change, ref string) (applied bool, err error)
}

// FileExecutor keeps memberships in a file, one "group login" pair per
// line, sorted, rewritten atomically; every change it applies is also
// appended to Path+".log" as "+ group login ref" or "- group login ref",
// so tests and demos see both the state and how often each change was
// applied.
type FileExecutor struct {
	Path string
	mu   sync.Mutex
}

// Apply implements Executor.
func (f *FileExecutor) Apply(ch latchkey.Change, ref string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return false, err
	}
	pair := ch.Group + " " + ch.Login
	i, has := slices.BinarySearch(lines, pair)
	switch {
	case ch.Add && has, !ch.Add && !has:
		return false, nil
	case ch.Add:
		lines = slices.Insert(lines, i, pair)
	default:
		lines = slices.Delete(lines, i, i+1)
	}
	if err := writeAtomically(f.Path, []byte(joinLines(lines))); err != nil {
		return false, err
	}
	sign := "-"
	if ch.Add {
		sign = "+"
	}
	return true, appendSynced(f.Path+".log", fmt.Sprintf("%s %s %s %s\n", sign, ch.Group, ch.Login, ref))
}

// Members returns the file's "group login" pairs.
func (f *FileExecutor) Members() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.read()
}

// GroupMembers implements MemberLister.
func (f *FileExecutor) GroupMembers(groups []string) (map[string][]string, error) {
	pairs, err := f.Members()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, p := range pairs {
		g, l, ok := strings.Cut(p, " ")
		if ok && slices.Contains(groups, g) {
			out[g] = append(out[g], l)
		}
	}
	return out, nil
}

func (f *FileExecutor) read() ([]string, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines), nil
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// writeAtomically replaces path with data: a synced temporary file
// renamed over it, then the directory synced.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func appendSynced(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
