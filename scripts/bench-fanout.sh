#!/usr/bin/env bash
# Runs the event fan-out benchmark of docs/benchmarks.md ("Event fan-out: 1,000
# streams on one node", issue 15):
#   scripts/bench-fanout.sh [OUTDIR]
# For each store (SQLite, then PostgreSQL) a fresh `latchkey serve`, and against
# it `latchkey bench fanout`: BENCH_STREAMS event streams (default 1000, topics
# locks and sessions; BENCH_PER_CALLER a delegate, default 4), then BENCH_EVENTS
# lock and session calls (default 2000) at BENCH_RATE a second (default 100) by
# 4 writers, each event timed from its writer's answer to its arrival on every
# stream. The server's peak RSS is read from /proc/PID/status (VmHWM); a CPU
# profile of the server is taken over the writing unless BENCH_PROFILE=0.
# Every run is bounded: events ÷ rate at most 60 s, the whole bench killed after
# that plus 120 s. BENCH_STORES picks the stores (default "sqlite postgres"),
# BENCH_REPEAT the runs of each (default 1), BENCH_PORT the API port (default
# 7460; pprof on the next one).
# PostgreSQL: LATCHKEY_BENCH_POSTGRES (default the local test database); a fresh
# schema per run, dropped at the end. latchkey uses the cheap argon2id profile:
# logging the delegates on is the only hashing besides the session writers'
# logons and unlocks. Everything listens on 127.0.0.1 only; everything started
# here is stopped on exit.
set -euo pipefail
out=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)-fanout}
pg=${LATCHKEY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
streams=${BENCH_STREAMS:-1000}
per_caller=${BENCH_PER_CALLER:-4}
events=${BENCH_EVENTS:-2000}
rate=${BENCH_RATE:-100}
stores=${BENCH_STORES:-sqlite postgres}
repeat=${BENCH_REPEAT:-1}
profile=${BENCH_PROFILE:-1}
port=${BENCH_PORT:-7460}
pprof_port=$((port + 1))
secs=$(awk -v e="$events" -v r="$rate" 'BEGIN { if (r > 0) printf "%d", e / r + 1; else print 0 }')
if [ "$secs" -le 0 ] || [ "$secs" -gt 61 ]; then
	echo "BENCH_EVENTS=$events at BENCH_RATE=$rate: want more than 0 and at most 60 s of writing" >&2
	exit 2
fi
limit=$((secs + 120)) # set-up, drain and tally included; a run that outlives this is killed

# A stream is a connection on both sides: the server and the bench each need
# a descriptor per stream, and more.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((streams + 1000)) ]; then
	echo "open files limit $(ulimit -n) is too low for $streams streams" >&2
	exit 2
fi

mkdir -p "$out"
work=$(mktemp -d)
schemas=() schema_prefix=bench_fanout
. "$(dirname "$0")/bench-lib.sh" # fresh_store, wait_for, start_latchkey, stop_server
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	for s in "${schemas[@]}"; do psql "$pg" -qc "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/latchkey" ./cmd/latchkey
lk="$work/latchkey"
export LATCHKEY_ADMIN_PASSWORD=bench-admin-password LATCHKEY_PASSWORD=bench-admin-password



for backend in $stores; do
	for i in $(seq 1 "$repeat"); do
		name="fanout-$backend-$i"
		echo "== $name"
		fresh_store "$backend"
		start_latchkey "$name" "$store"
		prof=()
		if [ "$profile" = 1 ]; then
			prof=(--server-pprof "http://127.0.0.1:$pprof_port" --profile-dir "$out/$name-profile")
		fi
		rc=0
		timeout "$limit" "$lk" bench fanout --server "http://127.0.0.1:$port" --streams "$streams" \
			--streams-per-caller "$per_caller" --events "$events" --rate "$rate" --server-pid "$server_pid" \
			--label "$backend" --json "${prof[@]}" >"$out/$name.json" 2>"$out/$name.progress" || rc=$?
		[ "$rc" = 0 ] || echo "$name: exit $rc (see $out/$name.progress)" >&2
		stop_server
		p="$out/$name-profile/round-1.pprof"
		if [ -f "$p" ]; then
			go tool pprof -top -nodecount=40 "$lk" "$p" >"$out/$name-profile-top.txt" 2>/dev/null || true
			go tool pprof -top -cum -nodecount=60 "$lk" "$p" >"$out/$name-profile-cum.txt" 2>/dev/null || true
		fi
	done
done

{
	echo "store run streams events deliveries due from_answer_p50/p99/max_ms from_record_p50/p99/max_ms early peak_rss_MiB idle_rss_MiB server_cores machine_busy goal"
	for backend in $stores; do
		for i in $(seq 1 "$repeat"); do
			f="$out/fanout-$backend-$i.json"
			[ -s "$f" ] || { echo "$backend $i - - - - - - - - - - - failed"; continue; }
			jq -r --arg b "$backend" --arg i "$i" '
				def r(x): (x * 10 | round) / 10;
				def mib(x): (x / 1048576 | round);
				[$b, $i, .streams, .events, .delivered, .due,
				 "\(r(.from_answer.p50_ms))/\(r(.from_answer.p99_ms))/\(r(.from_answer.max_ms))",
				 "\(r(.from_record.p50_ms))/\(r(.from_record.p99_ms))/\(r(.from_record.max_ms))",
				 .early, mib(.peak_rss_bytes), mib(.idle_rss_bytes),
				 r(.server_cpu_seconds / (.duration_ns / 1e9)), r(.machine.busy_cores),
				 (if .goal_met then "met" else "NOT-met" end)] | map(tostring) | join(" ")' "$f"
		done
	done
} | column -t | tee "$out/table.txt"
echo "($streams streams, $per_caller a delegate; $events calls at $rate/s by 4 writers; delays from the writer's answer"
echo " (early: arrived before it, counted 0) and from the record's time; goal: every event on every stream,"
echo " p99 from the answer < 50 ms, peak RSS < 512 MiB)"
echo "results in $out"
