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
# gives the cost of one call of each kind, less the baseline.
# CAP_PHASES (default "costs") may also name "check": the model's check, a
# whole fleet at a counter day's rates sped up (CAP_CHECK_* below).
# Every measured run holds flock /tmp/latchkey-bench.lock; each measures
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

fleet() { # NAME TERMINALS DURATION [fleet flags...]: one measured run
	local name=$1 n=$2 d=$3
	shift 3
	echo "== $name ($(date -u +%H:%M:%SZ))"
	start "$name"
	flock /tmp/latchkey-bench.lock timeout 600 "$lk" bench fleet --server "http://127.0.0.1:$port" --terminals "$n" \
		--duration "$d" --pg "$store" --label postgres --json "$@" >"$out/$name.json" 2>"$out/$name.progress"
	stop
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
	psql "$store" -Atc "SELECT pg_stat_clear_snapshot(); SELECT xact_commit, txid_snapshot_xmax(txid_current_snapshot()),
		pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
		(SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relkind = 'r' AND n.nspname = current_schema())
		FROM pg_stat_database WHERE datname = current_database()" | tail -1 | tr '|' ' ' |
		awk -v t="$ticks" -v a="$all" -v s="$srv" -v at="$(date +%s.%N)" '{ print $0, t, a, s, at }' >"$1"
}
journal() {
	local name=journal
	echo "== $name ($(date -u +%H:%M:%SZ))"
	start "$name"
	flock /tmp/latchkey-bench.lock bash -c "
		sleep 2; $(declare -f pgsnap); store='$store' server_pid=$server_pid pgsnap '$out/$name.before'
		timeout 120 '$lk' bench journal --server http://127.0.0.1:$port --entries 10000 --concurrency 1 --label postgres --json \
			>'$out/$name.json' 2>'$out/$name.progress'
		sleep 2; store='$store' server_pid=$server_pid pgsnap '$out/$name.after'"
	stop
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
	# its agent_seen_at. 6,000 terminals make 200 polls a second.
	fleet poll 6000 "$duration" --warmup 5s --poll-wait 30s
	journal
	python3 - "$out" <<'PY' | tee "$out/costs.txt"
import json, sys, os
out = sys.argv[1]
def load(n):
    return json.load(open(os.path.join(out, n + '.json')))
b = load('baseline')
bw = b['window_seconds']
def per_sec(r, f):
    return r[f] / r['window_seconds'] if 'window_seconds' in r else 0
base = {k: b['pg'][k] / bw for k in ('commits', 'own_write_xacts', 'own_wal_bytes', 'backend_cpu_seconds', 'aux_cpu_seconds', 'write_xacts', 'wal_bytes')}
base['server'] = b['server_cpu_seconds'] / bw
print('baseline (node idle, 256 terminals, no calls), per second: server CPU %.2f ms, PG commits %.2f, write xacts %.2f, WAL %.0f B, PG backends CPU %.2f ms, PG own processes %.2f ms' % (
    1000 * base['server'], base['commits'], base['own_write_xacts'], base['own_wal_bytes'], 1000 * base['backend_cpu_seconds'], 1000 * base['aux_cpu_seconds']))
print('%-16s %8s %8s %9s %9s %9s %9s %9s %9s %10s %10s  %s' % ('call', 'count', 'ops/s', 'srv_ms', 'pgbe_ms', 'pgaux_ms', 'xact', 'wxact', 'WAL_B', 'store_B', 'p99_ms', 'errors, busy cores, top tables (B/call)'))
def row(name, what, unit):
    r = load(name)
    ops = {o['op']: o for o in r['ops']}
    n = ops[unit]['count']
    w = r['window_seconds']
    p = r['pg']
    srv = (r['server_cpu_seconds'] - base['server'] * w) / n
    be = (p['backend_cpu_seconds'] - base['backend_cpu_seconds'] * w) / n
    al = (p['aux_cpu_seconds'] - base['aux_cpu_seconds'] * w) / n
    xa = (p['commits'] - base['commits'] * w) / n
    wx = (p['own_write_xacts'] - base['own_write_xacts'] * w) / n
    wal = (p['own_wal_bytes'] - base['own_wal_bytes'] * w) / n
    st = p['store_bytes'] / n
    errs = sum(o['errors'] for o in r['ops'])
    top = sorted(p['table_bytes'].items(), key=lambda kv: -kv[1])[:4]
    p99 = max(o['p99_ms'] for o in r['ops'])
    print('%-16s %8d %8.1f %9.3f %9.3f %9.3f %9.3f %9.3f %9.0f %10.0f %10.1f  %d, %.2f, %s' % (what, n, n / r['load_seconds'], 1000 * srv, 1000 * be, 1000 * al, xa, wx, wal, st, p99,
        errs, r['machine']['busy_cores'], ' '.join('%s %.0f' % (k, v / n) for k, v in top)))
row('logon', 'log-off + log-on', 'logon')
row('lock', 'lock + unlock', 'lock')
row('touch', 'touch', 'touch')
row('policy', 'policy fetch', 'policy')
row('event', 'event 24/25', 'event')
row('poll', 'poll (30 s)', 'poll')
# The journal: psql and /proc around the whole bench journal run.
a = open(os.path.join(out, 'journal.before')).read().split()
z = open(os.path.join(out, 'journal.after')).read().split()
j = load('journal')
n = j['entries']
w = float(z[7]) - float(a[7])
d = [float(z[i]) - float(a[i]) for i in range(7)]
print('%-16s %8d %8s %9.3f %9.3f %9s %9.3f %9.3f %9.0f %10.0f %10s  (whole run, %.1f s: set-up, upload, re-upload, less the baseline; write xacts and WAL: the whole cluster)' % ('journal entry', n, '-',
    1000 * (d[6] / 100 - base['server'] * w) / n, 1000 * (d[4] / 100 - base['backend_cpu_seconds'] * w) / n, '-',
    (d[0] - base['commits'] * w) / n, d[1] / n, d[2] / n, d[3] / n, '-', w))
PY
fi

if [[ " $phases " == *" check "* ]]; then
	# A counter day's rates per terminal and hour (docs/capacity.md, the
	# peak hour), sped up: CAP_CHECK_TERMINALS × CAP_CHECK_SPEEDUP terminals.
	n=${CAP_CHECK_TERMINALS:-500}
	x=${CAP_CHECK_SPEEDUP:-20}
	fleet check "$n" "$check_duration" --warmup 5s --speedup "$x" ${CAP_CHECK_RATES:---logons 1 --locks 7 --touches 100 --policies 60 --events 14 --poll-wait 30s}
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: r[k] for k in ('terminals','speedup','load_seconds','window_seconds','server_cpu_seconds','machine','pg')}, indent=1)); [print(o) for o in r['ops']]" "$out/check.json" | tee "$out/check.txt"
fi
echo "results in $out"
