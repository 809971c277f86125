package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"latchkey/passhash"
)

// RawHashRate measures how many argon2id hashes with params this machine
// makes per second: workers goroutines each hash in a loop until d has
// passed (or ctx ends), and the rate is all the hashes made over the time
// until the last of them finished. It is the ceiling a login benchmark is
// judged against: a login costs one hash.
func RawHashRate(ctx context.Context, params passhash.Params, d time.Duration, workers int) (rate float64, hashes int, err error) {
	if err := params.Validate(); err != nil {
		return 0, 0, err
	}
	if d <= 0 || workers < 1 {
		return 0, 0, errors.New("raw hash rate: duration and workers must be positive")
	}
	start := time.Now()
	deadline := start.Add(d)
	counts := make([]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// bounded by the deadline: each hash takes a positive time
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if _, err := params.Hash("latchkey bench raw argon2id rate"); err != nil {
					errs[w] = err
					return
				}
				counts[w]++
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	for _, c := range counts {
		hashes += c
	}
	return float64(hashes) / elapsed.Seconds(), hashes, nil
}
