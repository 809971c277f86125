#!/usr/bin/env bash
# The measured costs of docs/capacity.md, on PostgreSQL:
#   scripts/bench-capacity.sh [OUTDIR]
# For each kind of call a terminal makes, one `latchkey bench fleet` run
# with only that kind (plus a baseline with the terminals idle, and the
# journal upload through `latchkey bench journal`), each on a fresh
# database of its own and a fresh server (cheap argon2id: the hash is
# costed apart, docs/capacity.md). Each run reports the server's CPU,
# PostgreSQL's CPU (the database's backends, and every postgres process),
# its transactions (pg_stat_database), write transactions (transaction IDs
# handed out), WAL bytes and the growth of every table. costs.txt then
# gives the cost of one call of each kind, less the baseline
# (scripts/capacity-model.py costs OUTDIR; its model and check commands
# turn them into docs/capacity.md's tables).
# CAP_PHASES (default "costs") may also name "check": the model's check, a
# whole fleet at a counter day's rates sped up (CAP_CHECK_* below).
# Every run holds flock /tmp/latchkey-bench.lock from making its database
# to dropping it (DROP DATABASE forces a checkpoint, which would fall on
# the next holder's measurement otherwise); each measures
# BENCH_DURATION (default 10s, at most 15s; the check CAP_CHECK_DURATION,
# default 60s). PostgreSQL: LATCHKEY_BENCH_POSTGRES (default the local
# server, database test; the runs' databases are made beside it and
# dropped). Everything listens on 127.0.0.1 (BENCH_PORT, default 7491);
# everything started here is stopped on exit.
set -euo pipefail
out=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)-capacity}
pg=${LATCHKEY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
duration=${BENCH_DURATION:-10s}
phases=${CAP_PHASES:-costs}
port=${BENCH_PORT:-7491}
secs=${duration%s}
if ! [[ "$duration" =~ ^[0-9]+s$ ]] || [ "$secs" -lt 1 ] || [ "$secs" -gt 15 ]; then
	echo "BENCH_DURATION=$duration: want 1s to 15s" >&2
	exit 2
fi
check_duration=${CAP_CHECK_DURATION:-60s}
if ! [[ "$check_duration" =~ ^[0-9]+s$ ]] || [ "${check_duration%s}" -gt 60 ]; then
	echo "CAP_CHECK_DURATION=$check_duration: want at most 60s" >&2
	exit 2
fi
mkdir -p "$out"
work=$(mktemp -d)
server_pid= db=
base=${pg%%\?*}          # postgres://host/dbname
base=${base%/*}          # postgres://host
query=${pg#*\?}
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	[ -n "$db" ] && psql "$pg" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export LATCHKEY_ADMIN_PASSWORD=bench-admin-password LATCHKEY_PASSWORD=bench-admin-password
export PGOPTIONS='-c client_min_messages=warning'
go build -o "$work/latchkey" ./cmd/latchkey
lk="$work/latchkey"

start() { # NAME: a fresh database and a server on it; sets db, store, server_pid
	db="lkcap_$(date +%s%N)"
	psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
	store="$base/$db?$query"
	rm -rf "$work/data" && mkdir -p "$work/data"
	"$lk" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --store "$store" \
		--argon2-time 1 --argon2-memory 64 >"$out/$1-serve.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0; sleep 0.2; done
	echo "the server did not start; see $out/$1-serve.log" >&2
	exit 1
}
stop() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	psql "$pg" -qc "DROP DATABASE $db" >/dev/null
	db=
}
lock() { exec 9>/tmp/latchkey-bench.lock && flock 9; }
unlock() { flock -u 9 && exec 9>&-; }

fleet() { # NAME TERMINALS DURATION [fleet flags...]: one measured run
	local name=$1 n=$2 d=$3
	shift 3
	lock
	echo "== $name ($(date -u +%H:%M:%SZ))"
	start "$name"
	timeout 600 "$lk" bench fleet --server "http://127.0.0.1:$port" --terminals "$n" \
		--duration "$d" --pg "$store" --label postgres --json "$@" >"$out/$name.json" 2>"$out/$name.progress"
	stop
	unlock
}

# The journal upload, through `latchkey bench journal`: its run has its own
# set-up, so PostgreSQL is read around the whole run (set-up, upload and
# re-upload of 10,000 ended entries) from psql and /proc.
pgsnap() { # FILE: commits, next xid, WAL bytes, store bytes, backends' CPU ticks, all postgres CPU ticks, server CPU ticks
	local pids ticks all srv
	pids=$(psql "$store" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	ticks=0
	for p in $pids; do ticks=$((ticks + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
	all=0
	srv=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$server_pid/stat")
	psql "$store" -Atc "SELECT pg_stat_clear_snapshot(); SELECT xact_commit + xact_rollback, txid_snapshot_xmax(txid_current_snapshot()),
		pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
		(SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relkind = 'r' AND n.nspname = current_schema())
		FROM pg_stat_database WHERE datname = current_database()" | tail -1 | tr '|' ' ' |
		awk -v t="$ticks" -v a="$all" -v s="$srv" -v at="$(date +%s.%N)" '{ print $0, t, a, s, at }' >"$1"
}
journal() {
	local name=journal
	lock
	echo "== $name ($(date -u +%H:%M:%SZ))"
	start "$name"
	sleep 2
	pgsnap "$out/$name.before"
	timeout 120 "$lk" bench journal --server "http://127.0.0.1:$port" --entries 10000 --concurrency 1 --label postgres --json \
		>"$out/$name.json" 2>"$out/$name.progress"
	sleep 2
	pgsnap "$out/$name.after"
	stop
	unlock
}

if [[ " $phases " == *" costs "* ]]; then
	fleet baseline 256 "$duration" --warmup 3s
	fleet logon 64 "$duration" --warmup 3s --logons 6000
	fleet lock 64 "$duration" --warmup 3s --locks 6000
	fleet touch 64 "$duration" --warmup 3s --touches 18000
	fleet policy 64 "$duration" --warmup 3s --policies 18000
	fleet event 64 "$duration" --warmup 3s --events 18000
	# Polls at the production length (30 s), so each poll is what it is in
	# production: two looks at the terminal's instructions, one update of
	# its agent_seen_at (at most every 15 s: the warm-up outlasts that and
	# one poll). 6,000 terminals make 200 polls a second.
	fleet poll 6000 "$duration" --warmup 35s --poll-wait 30s
	journal
	scripts/capacity-model.py costs "$out" | tee "$out/costs.txt"
fi

if [[ " $phases " == *" check "* ]]; then
	# The peak hour's rates per terminal (docs/capacity.md) at
	# CAP_CHECK_TERMINALS terminals, sped up by CAP_CHECK_SPEEDUP (1: not).
	n=${CAP_CHECK_TERMINALS:-3000}
	x=${CAP_CHECK_SPEEDUP:-1}
	fleet check "$n" "$check_duration" --warmup 5s --speedup "$x" ${CAP_CHECK_RATES:---logons 1 --locks 10 --touches 120 --policies 60 --events 20 --poll-wait 30s}
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: r[k] for k in ('terminals','speedup','load_seconds','window_seconds','server_cpu_seconds','machine','pg')}, indent=1)); [print(o) for o in r['ops']]" "$out/check.json" | tee "$out/check.txt"
fi
echo "results in $out"
