package main

import (
	"latchkey/bench"
)

const benchJournalSynopsis = "bench journal [--server URL] [--identity admin] [--password-stdin] [--entries N] [--people N] [--terminals N] [--batch N] [--concurrency N] [--label L] [--json]"

// runBenchJournal uploads the offline journals of agents back from
// standalone mode, then uploads them all again and checks that nothing
// changed.
func runBenchJournal(e *env, args []string) int {
	c := e.newCmd("bench journal", synopsisOf(benchSynopsis, "bench journal"), true)
	identity := c.fs.String("identity", "admin", "admin identity that sets up the run")
	pw := c.passwordFlag()
	entries := c.fs.Int("entries", bench.DefaultJournalEntries, "ended offline sessions in all, spread over the terminals and people")
	people := c.fs.Int("people", bench.DefaultJournalPeople, "people, one identity each")
	terminals := c.fs.Int("terminals", bench.DefaultJournalTerminals, "terminals, each uploading its own journal")
	batch := c.fs.Int("batch", 1000, "entries per upload (at most 1000)")
	concurrency := c.fs.Int("concurrency", bench.DefaultJournalConcurrency, "terminals uploading at once")
	label := c.fs.String("label", "", "backend label for the report (e.g. sqlite, postgres)")
	password, st, ok := c.parseBench(args, pw)
	if !ok {
		return st
	}
	res, err := bench.RunJournal(e.ctx, bench.JournalConfig{Server: c.serverURL(), AdminIdentity: *identity, AdminPassword: password,
		Entries: *entries, People: *people, Terminals: *terminals, Batch: *batch, Concurrency: *concurrency, Backend: *label}, e.stderr)
	return c.benchResult(res, res != nil, err)
}
