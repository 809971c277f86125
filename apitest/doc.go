// Package apitest holds latchkey's tests through the public HTTP API: the
// concurrent-login scenarios, the concurrency invariants, hostile input,
// and (with real server processes) multi-node and crash tests, each run on
// both store backends.
package apitest
