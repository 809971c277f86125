// Package systemd holds latchkey's systemd units and their environment
// files (latchkey-serve.service, latchkey-agent.service, serve.env,
// agent.env, latchkey.sysusers.conf). It has no code: its test starts the
// real binary with each unit's command line and environment, and checks
// the units with systemd-analyze verify and security. See
// docs/operations.md, "Running under systemd".
package systemd
