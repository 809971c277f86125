package http

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"latchkey"
)

// RunSealer seals the audit chain's head every period (latchkey.SealDue
// decides, in the store, for the whole cluster) until ctx is done; each
// seal this node makes is also written to dir (see SealStep). every <= 0
// turns sealing off. Errors are logged, never fatal.
func (s *Server) RunSealer(ctx context.Context, every time.Duration, dir string) {
	if every <= 0 {
		return
	}
	// Look at least once a minute: the store's clock decides when a seal
	// is due, so a seal comes at most a minute late.
	t := time.NewTicker(min(every, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.SealStep(ctx, every, dir); err != nil && ctx.Err() == nil {
			s.logger.Error("audit seal", "err", err)
		}
	}
}

// SealStep is one step of RunSealer: it makes a seal if one is due and
// writes it to dir (unless dir is empty) as seal-<seq>.json, mode 0600,
// renamed into place whole. It returns the seal, or nil when none was due.
func (s *Server) SealStep(ctx context.Context, every time.Duration, dir string) (*latchkey.AuditSeal, error) {
	seal, err := s.store.SealAuditIfDue(ctx, every)
	if err != nil || seal == nil || dir == "" {
		return seal, err
	}
	return seal, WriteSealFile(dir, *seal)
}

// SealFileName is the name of the file of the seal of seq in a seal
// directory: zero-padded, so the names sort by seq.
func SealFileName(seq int64) string { return fmt.Sprintf("seal-%020d.json", seq) }

// WriteSealFile writes seal into dir (made 0700 if missing) as
// SealFileName(seal.Seq), mode 0600, atomically.
func WriteSealFile(dir string, seal latchkey.AuditSeal) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("seal dir: %w", err)
	}
	b, err := json.MarshalIndent(seal, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".seal-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("seal file: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename: a no-op
	if _, err = f.Write(append(b, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, SealFileName(seal.Seq)))
	}
	if err != nil {
		return fmt.Errorf("seal file: %w", err)
	}
	return nil
}
