#!/usr/bin/env bash
# A/B of two latchkey builds on the lock benchmark, alternating, so that
# the machine's drift falls on both alike (docs/benchmarks.md, issue 15):
#   scripts/bench-ab.sh BINARY_A BINARY_B [ROUNDS]
# Each round runs, for A then B: `latchkey bench locks` uncontended (32
# clients, a lock each) and contended (32 clients on 4 locks), 8 s after a
# 2 s warm-up, on a fresh PostgreSQL schema (LATCHKEY_BENCH_POSTGRES,
# default the local test database), and prints cycles/s, the server's CPU
# per cycle (its process only) and the acquire p99. ROUNDS defaults to 3
# (at most 10). AB_SERVE_A and AB_SERVE_B add serve flags to A's and B's
# server (e.g. AB_SERVE_B='--pg-committers 8', with the same binary twice,
# to size the group commit). AB_STORE=sqlite runs both on a fresh SQLite
# store instead. Everything listens on 127.0.0.1; what it starts is
# stopped.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh" # wait_for
a=${1:?binary A}
b=${2:?binary B}
rounds=${3:-3}
[ "$rounds" -ge 1 ] && [ "$rounds" -le 10 ] || { echo "ROUNDS: 1 to 10" >&2; exit 2; }
pg=${LATCHKEY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export LATCHKEY_ADMIN_PASSWORD=bench-admin-password LATCHKEY_PASSWORD=bench-admin-password
export PGOPTIONS='-c client_min_messages=warning'
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
printf '%-6s %-2s %-12s %9s %14s %12s %16s\n' round ab mode cycles/s cpu_ms/cycle acq_p99_ms handover_p50_ms
for round in $(seq 1 "$rounds"); do
	for v in A B; do
		bin=$a flags=${AB_SERVE_A:-}
		[ "$v" = B ] && bin=$b flags=${AB_SERVE_B:-}
		for mode in uncontended contended; do
			schema="bench_ab_$(date +%s%N)" store=()
			if [ "${AB_STORE:-postgres}" = postgres ]; then
				psql "$pg" -qc "CREATE SCHEMA $schema"
				store=(--store "$pg&search_path=$schema")
			fi
			rm -rf "$work/data" && mkdir -p "$work/data"
			"$bin" serve --listen 127.0.0.1:7451 --data-dir "$work/data" "${store[@]}" \
				--argon2-time 1 --argon2-memory 64 $flags >"$work/serve.log" 2>&1 &
			pid=$!
			wait_for http://127.0.0.1:7451/readyz "$work/serve.log"
			timeout 60 "$bin" bench locks --server http://127.0.0.1:7451 --clients 32 --locks 4 --mode "$mode" \
				--duration 8s --warmup 2s --json >"$work/run.json" 2>/dev/null
			kill "$pid" && wait "$pid" 2>/dev/null || true
			pid=
			[ ${#store[@]} -eq 0 ] || psql "$pg" -qc "DROP SCHEMA $schema CASCADE"
			python3 - "$work/run.json" "$round" "$v" "$mode" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rtg = [o['p50_ms'] for o in d['ops'] if o['op'] == 'release_to_grant']
print('%-6s %-2s %-12s %9.0f %14.3f %12.1f %16s' % (sys.argv[2], sys.argv[3], sys.argv[4], d['cycles_per_sec'],
      1000 * d['server_cpu_seconds'] / d['cycles'], d['ops'][0]['p99_ms'], '%.2f' % rtg[0] if rtg else '-'))
PY
		done
	done
done
