package sqlstore

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"latchkey/passhash"
)

func openSQLiteForCache(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "c.db"), Options{Password: passhash.Test})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sum runs "SELECT ? + n" in a write transaction.
func writeSum(s *Store, ctx context.Context, n, arg int) (got int, err error) {
	err = s.write(ctx, func(t *tx) error {
		return t.queryRow("SELECT ? + "+strconv.Itoa(n), arg).Scan(&got)
	})
	return got, err
}

func TestStmtCacheWriterPreparesAfterTheTransaction(t *testing.T) {
	s := openSQLiteForCache(t)
	ctx := context.Background()
	q := "SELECT ? + 1"
	if got, err := writeSum(s, ctx, 1, 41); err != nil || got != 42 {
		t.Fatalf("first run: %d, %v", got, err)
	}
	// The committer prepares it once the transaction is over, just after
	// answering.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.wst.mu.RLock()
		st, pending := s.wst.m[q], s.wst.pending[q]
		s.wst.mu.RUnlock()
		if st != nil && !pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first transaction: prepared %v, pending %v; want prepared", st != nil, pending)
		}
		time.Sleep(time.Millisecond)
	}
	var used bool
	err := s.write(ctx, func(tx *tx) error {
		used = tx.stmt(q) != nil
		var got int
		if err := tx.queryRow(q, 1).Scan(&got); err != nil || got != 2 {
			t.Errorf("cached run: %d, %v", got, err)
		}
		return nil
	})
	if err != nil || !used {
		t.Fatalf("second transaction: cached statement used %v, err %v", used, err)
	}
}

func TestStmtCacheBadQueryStaysUnprepared(t *testing.T) {
	s := openSQLiteForCache(t)
	ctx := context.Background()
	q := "SELECT nope FROM nowhere"
	for i := range 2 {
		err := s.write(ctx, func(t *tx) error {
			_, err := t.exec(q)
			return err
		})
		if err == nil {
			t.Fatalf("run %d: a bad query succeeded", i)
		}
	}
	s.wst.mu.RLock()
	st, known := s.wst.m[q]
	s.wst.mu.RUnlock()
	if !known || st != nil {
		t.Fatalf("bad query: known %v, prepared %v; want known and not prepared", known, st != nil)
	}
	var n int
	if err := s.queryRow(ctx, "SELECT COUNT(*) FROM principals").Scan(&n); err != nil {
		t.Fatalf("read after a bad query: %v", err)
	}
}

// Many writers and readers bring new queries at once; with one writer
// connection a cache that prepared inside a transaction (or held its lock
// while preparing) would deadlock here.
func TestStmtCacheConcurrentNewQueries(t *testing.T) {
	s := openSQLiteForCache(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if got, err := writeSum(s, ctx, i%20, g); err != nil || got != g+i%20 {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 40 {
				var got int
				if err := s.queryRow(ctx, "SELECT ? * "+strconv.Itoa(i%20), g).Scan(&got); err != nil || got != g*(i%20) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent queries: %v (a deadlock shows as a context deadline)", err)
	}
}

func TestStmtCacheIsBounded(t *testing.T) {
	s := openSQLiteForCache(t)
	ctx := context.Background()
	for i := range maxCachedStmts + 20 {
		if got, err := writeSum(s, ctx, i, 1); err != nil || got != i+1 {
			t.Fatalf("query %d: %d, %v", i, got, err)
		}
	}
	s.wst.mu.RLock()
	n := len(s.wst.m) + len(s.wst.pending)
	s.wst.mu.RUnlock()
	if n > maxCachedStmts {
		t.Fatalf("cache holds %d statements, bound %d", n, maxCachedStmts)
	}
}
