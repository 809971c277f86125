package apitest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// configCrashItems is how many items every write of the crash test sets.
const configCrashItems = 40

// A multi-item config write interrupted by SIGKILL leaves all its items
// old or all new: writers set every item of a domain to one value per
// write while the server is killed at random moments and restarted. After
// every restart the domain holds one write's value in all items, the
// version counts every acknowledged write (plus at most the ones in
// flight), and no read ever saw a mix. Both store backends.
func TestCrashConfigWriteIsAtomic(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		runConfigCrash(t, storeURL, dataDir)
	})
}

func runConfigCrash(t *testing.T, storeURL, dataDir string) {
	const writers, kills = 3, 4
	p := startServer(t, storeURL, dataDir)
	token := p.adminLogin(t).Token()
	var acked int64 // writes acknowledged, over all runs
	written := map[string]bool{}
	for round := range kills {
		admin := p.client(token)
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		inFlight := 0
		var wg sync.WaitGroup
		fail := make(chan string, writers+1)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					v := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					items := map[string]*string{}
					for k := range configCrashItems {
						items[fmt.Sprintf("item%02d", k)] = &v
					}
					mu.Lock()
					written[v] = true
					inFlight++
					mu.Unlock()
					_, err := admin.PutConfig(ctx, "atomic", latchkey.ConfigWrite{Items: items})
					mu.Lock()
					inFlight--
					if err == nil {
						acked++
					} else if !isTransportError(err) && ctx.Err() == nil {
						fail <- fmt.Sprintf("write %s: %v", v, err)
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() { // reads must never see a mix either
			defer wg.Done()
			for ctx.Err() == nil {
				d, err := admin.GetConfig(ctx, "atomic")
				if err != nil {
					return
				}
				if msg := mixed(d); msg != "" {
					fail <- "a read saw " + msg
					return
				}
			}
		}()
		time.Sleep(time.Duration(150+round*70) * time.Millisecond)
		mu.Lock()
		maxInFlight := inFlight
		mu.Unlock()
		p.kill()
		wg.Wait()
		cancel()
		select {
		case msg := <-fail:
			t.Fatal(msg)
		default:
		}

		p = startServer(t, storeURL, dataDir)
		d, err := p.client(token).GetConfig(context.Background(), "atomic")
		if err != nil {
			t.Fatal(err)
		}
		if msg := mixed(d); msg != "" {
			t.Fatalf("after kill %d: %s", round+1, msg)
		}
		if v := d.Items["item00"]; len(d.Items) > 0 && !written[v] {
			t.Fatalf("after kill %d: value %q was never written", round+1, v)
		}
		if d.Version < acked || d.Version > acked+int64(writers) {
			t.Fatalf("after kill %d: version %d, but %d writes were acknowledged (%d at most in flight)", round+1, d.Version, acked, maxInFlight)
		}
		acked = d.Version // in-flight writes that committed count from now on
		t.Logf("kill %d: version %d", round+1, d.Version)
	}
	if acked < 10 {
		t.Fatalf("only %d writes committed: the test did not exercise the store", acked)
	}
}

// mixed describes a domain whose items are not all from one write.
func mixed(d *latchkey.ConfigDomain) string {
	if len(d.Items) == 0 {
		return ""
	}
	if len(d.Items) != configCrashItems {
		return fmt.Sprintf("%d items, want %d", len(d.Items), configCrashItems)
	}
	first := d.Items["item00"]
	for k, v := range d.Items {
		if v != first {
			return fmt.Sprintf("a mix: item00=%s, %s=%s", first, k, v)
		}
	}
	return ""
}
