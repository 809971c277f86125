#!/usr/bin/env bash
# CPU per operation of one latchkey node against several on one PostgreSQL
# (docs/benchmarks.md, "Three nodes on one PostgreSQL: CPU per operation";
# issue 15):
#   scripts/bench-nodes.sh [ROUNDS] [OUTDIR]
# Each round runs `latchkey bench locks` (BENCH_CLIENTS clients, default
# 32, a lock each: acquire, release) against one `latchkey serve` node and
# against BENCH_NODES nodes (default 3) on the same store, client i talking
# to node i mod n directly; the order of the two flips every round (1,3 /
# 3,1 / ...), so that the machine's drift falls on both. ROUNDS defaults
# to 3 (at most 10). Every run has a fresh PostgreSQL database of its own
# (created on the server of LATCHKEY_BENCH_POSTGRES, default the local
# test database, and dropped after), BENCH_DURATION measured (default 8s,
# at most 8s) after a 2 s warm-up. BENCH_MODES="uncontended contended"
# adds the contended mode (the same clients on BENCH_LOCKS locks, default
# 4). Every node keeps at most BENCH_PG_CONNS PostgreSQL connections
# (default 16, so that three nodes fit beside other users of the server).
# BENCH_SERVE_FLAGS are more `latchkey serve` flags for every node, and
# BENCH_NODES_SERVE_FLAGS for the nodes of the several-node configuration
# only (e.g. "--pg-committers 1" to keep the cluster's committers at one
# node's); BENCH_SERVE_ENV and BENCH_NODES_SERVE_ENV likewise set
# environment variables of the nodes (e.g. "GOMAXPROCS=1").
#
# Measured over each run's window (from /proc, by the benchmark itself):
#   server  the nodes' CPU time (each its process_cpu_seconds_total, which
#           is utime+stime of /proc/self/stat);
#   db      the PostgreSQL processes serving the run: the backends of the
#           run's database and the server's own processes (WAL writer,
#           checkpointer, ...), each its utime+stime(+cutime+cstime)
#           from /proc/PID/stat, the postmaster's children alive at the
#           end of the window;
#   db_all  the whole PostgreSQL server: the postmaster and all its
#           children, those that exited in the window too (their time is
#           reaped into the postmaster's cutime/cstime); it counts other
#           users of the server, which db leaves out;
#   client  the benchmark process (getrusage);
#   other   the rest of the machine's busy time (/proc/stat): the kernel's
#           share not charged to a process, and anything else running.
# And from PostgreSQL's statistics at the start and the end of the window
# (as the benchmark's progress says; a psql each, whose backend is not
# alive at the window's end, so db leaves it out): the run's database's
# commits (pg_stat_database), its commit batches with audit records and
# audit chain rounds (pg_stat_user_tables: rows inserted into
# audit_pending, updates of audit_head; a store without them shows -),
# and the server's WAL syncs and bytes (pg_stat_wal, all databases) a
# cycle. PostgreSQL publishes these at most once a second a backend.
# An op is a lock cycle: one acquire and one release (two API calls).
# PostgreSQL must run on this machine (its processes are read in /proc).
#
# BENCH_PROFILE=1 (default) adds, after the rounds and outside the table,
# one run of each configuration with a CPU profile of the first node and
# PostgreSQL's wait events (pg_stat_activity, pg_locks of the run's
# database, sampled every 50 ms by one session). LATCHKEY_BIN runs that
# binary instead of building this checkout; LATCHKEY_SERVE_BIN runs the
# nodes from another (an older build, measured by this one's benchmark,
# which spreads clients over nodes). Listens on 127.0.0.1:7480-7489
# only; everything started here is stopped on exit. Wrap measurement runs
# in `flock /tmp/latchkey-bench.lock`.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh" # wait_for, postmaster_pid
rounds=${1:-3}
out=${2:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)-nodes}
[ "$rounds" -ge 1 ] && [ "$rounds" -le 10 ] || { echo "ROUNDS: 1 to 10" >&2; exit 2; }
pg=${LATCHKEY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
duration=${BENCH_DURATION:-8s}
clients=${BENCH_CLIENTS:-32}
locks=${BENCH_LOCKS:-4}
nodes=${BENCH_NODES:-3}
modes=${BENCH_MODES:-uncontended}
pg_conns=${BENCH_PG_CONNS:-16}
profile=${BENCH_PROFILE:-1}
secs=$(awk -v d="$duration" 'BEGIN { n = d + 0; if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60; print n }')
if ! awk -v s="$secs" 'BEGIN { exit !(s > 0 && s <= 8) }'; then
	echo "BENCH_DURATION=$duration: want more than 0 and at most 8s (a run is at most 10 s with the warm-up)" >&2
	exit 2
fi
[ "$nodes" -ge 2 ] && [ "$nodes" -le 4 ] || { echo "BENCH_NODES: 2 to 4" >&2; exit 2; }
port0=7480 # nodes listen on 7481.., their pprof on 7485..

pm=$(postmaster_pid "$pg")
if [ -z "$pm" ]; then
	echo "no PostgreSQL server of $pg among this machine's processes: its CPU cannot be read" >&2
	exit 1
fi
mkdir -p "$out"
work=$(mktemp -d)
pids=() dbs=()
stop_nodes() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
cleanup() {
	stop_nodes
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	for d in "${dbs[@]}"; do psql "$pg" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${LATCHKEY_BIN:-}" ]; then
	lk=$LATCHKEY_BIN
else
	go build -o "$work/latchkey" ./cmd/latchkey
	lk="$work/latchkey"
fi
serve_bin=${LATCHKEY_SERVE_BIN:-$lk}
export LATCHKEY_ADMIN_PASSWORD=bench-admin-password LATCHKEY_PASSWORD=bench-admin-password
export PGOPTIONS='-c client_min_messages=warning'

# with_db DB: the URL of $pg with database DB instead.
with_db() { python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$pg" "$1"; }

start_nodes() { # NAME N STORE: N nodes on STORE (the first with pprof when profiling); sets urls
	local name=$1 n=$2 store=$3 i prof
	urls=
	for i in $(seq 1 "$n"); do
		mkdir -p "$work/$name-node$i"
		prof=()
		[ "${profiling:-}" = 1 ] && [ "$i" = 1 ] && prof=(--pprof-listen "127.0.0.1:$((port0 + 5))")
		# shellcheck disable=SC2086 # the flag variables are word lists
		env ${BENCH_SERVE_ENV:-} $([ "$n" -gt 1 ] && echo "${BENCH_NODES_SERVE_ENV:-}") LATCHKEY_STORE="$store" "$serve_bin" serve --listen "127.0.0.1:$((port0 + i))" --data-dir "$work/$name-node$i" \
			--pg-conns "$pg_conns" --argon2-time 1 --argon2-memory 64 ${BENCH_SERVE_FLAGS:-} \
			$([ "$n" -gt 1 ] && echo "${BENCH_NODES_SERVE_FLAGS:-}") "${prof[@]}" >"$out/$name-node$i.log" 2>&1 &
		pids+=($!)
		# The first node sets the empty store up (and the admin) alone.
		[ "$i" = 1 ] && wait_for "http://127.0.0.1:$((port0 + 1))/readyz" "$out/$name-node$i.log"
		urls+="${urls:+,}http://127.0.0.1:$((port0 + i))"
	done
	for i in $(seq 2 "$n"); do wait_for "http://127.0.0.1:$((port0 + i))/readyz" "$out/$name-node$i.log"; done
}

# pg_snap DB: "EPOCH COMMITS WAL_SYNCS WAL_BYTES BATCHES ROUNDS" of
# database DB now: its commits, the server's WAL, and the commit batches
# that wrote audit records (rows into audit_pending) and the chainer's
# rounds (updates of audit_head) in it.
pg_snap() {
	psql "$(with_db "$1")" -AtF ' ' -c "SELECT extract(epoch FROM clock_timestamp()), d.xact_commit, w.wal_sync, w.wal_bytes,
		(SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'audit_pending'),
		(SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'audit_head')
		FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()"
}

# window_stats PROGRESS DB OUT: pg_snap when the benchmark says its
# measured window starts ("running ...") and when it is done ("done: ...");
# tail -F follows the progress file by inotify, within milliseconds.
window_stats() {
	local fd line tpid
	exec {fd}< <(exec timeout $((${secs%.*} + 60)) tail -n +1 -F "$1" 2>/dev/null)
	tpid=$!
	while read -r -u "$fd" line; do
		case $line in
		"running "*) pg_snap "$2" >>"$3" ;;
		"done: "*) pg_snap "$2" >>"$3" && break ;;
		esac
	done
	kill "$tpid" 2>/dev/null || true
	exec {fd}<&-
}

# run NAME N MODE [bench flags...]: one run on a fresh database.
run() {
	local name=$1 n=$2 mode=$3 db
	shift 3
	db="lknodes_$(date +%s%N)"
	psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
	dbs+=("$db")
	echo "$db" >"$out/$name.db"
	start_nodes "$name" "$n" "$(with_db "$db")"
	echo "== $name: $n node(s), $mode" >&2
	: >"$out/$name.progress"
	window_stats "$out/$name.progress" "$db" "$out/$name.pgstat" &
	timeout $((${secs%.*} + 60)) "$lk" bench locks --server "$urls" --clients "$clients" --locks "$locks" --mode "$mode" \
		--duration "$duration" --warmup 2s --watch-pid "$pm" --label "postgres-$n" --json "$@" \
		>"$out/$name.json" 2>"$out/$name.progress"
	wait $! 2>/dev/null || true # window_stats
	stop_nodes
	psql "$pg" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
}

for round in $(seq 1 "$rounds"); do
	order="1 $nodes"
	[ $((round % 2)) = 0 ] && order="$nodes 1"
	for mode in $modes; do
		for n in $order; do run "r$round-$mode-$n" "$n" "$mode"; done
	done
done

# The profiled runs: a CPU profile of node 1 and PostgreSQL's wait events,
# sampled by one session on the run's database while the load runs.
sample_waits() { # DB FILE: a sample every 50 ms for the measured window
	local url
	url=$(with_db "$1")
	{
		for _ in $(seq 1 $(awk -v s="$secs" 'BEGIN { printf "%d", 20 * s }')); do
			echo "SELECT 'activity', coalesce(wait_event_type || ':' || wait_event, 'on CPU'), state, left(regexp_replace(query, '\s+', ' ', 'g'), 70)
				FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
				UNION ALL SELECT 'lock wait', l.locktype || ' ' || l.mode || coalesce(' on ' || c.relname, ''), '', ''
				FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation WHERE NOT l.granted;"
			echo "SELECT pg_sleep(0.05) \\g /dev/null"
		done
	} | psql "$url" -qAt -F ' | ' >"$2.raw" 2>/dev/null || true # the run's end drops the database under it
	echo "samples of 50 ms: count | kind | wait (or on CPU) | state | statement" >"$2"
	sort "$2.raw" | uniq -c | sort -rn | head -30 >>"$2"
}
if [ "$profile" = 1 ]; then
	profiling=1
	for n in 1 "$nodes"; do
		name="profile-$n"
		mkdir -p "$out/$name"
		(
			# The database appears once the run has made it; the load
			# starts after the people are set up and the 2 s warm-up.
			for _ in $(seq 1 100); do [ -s "$out/$name.db" ] && break; sleep 0.1; done
			sleep 3
			sample_waits "$(cat "$out/$name.db")" "$out/$name-waits.txt"
		) &
		run "$name" "$n" uncontended --server-pprof "http://127.0.0.1:$((port0 + 5))" --profile-dir "$out/$name"
		wait
		go tool pprof -top -nodecount=40 "$serve_bin" "$out/$name/round-1.pprof" >"$out/$name-top.txt" 2>/dev/null || true
		go tool pprof -top -cum -nodecount=60 "$serve_bin" "$out/$name/round-1.pprof" >"$out/$name-cum.txt" 2>/dev/null || true
	done
fi

# The table: a line a run, then the medians of each configuration and the
# growth of n nodes against one.
python3 - "$out" "$rounds" "$nodes" "$modes" "$duration" "$clients" "$locks" "$pg_conns" <<'PY' | tee "$out/table.txt"
import json, os, statistics, sys
out, rounds, nodes, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split()
duration, clients, locks, pg_conns = sys.argv[5:9]

def load(name):
    d = json.load(open(os.path.join(out, name + '.json')))
    db = open(os.path.join(out, name + '.db')).read().strip()
    secs, cyc = d['duration_ns'] / 1e9, d['cycles']
    w = d['watched'][0]
    # The run's own backends and the server's own processes; other
    # databases' backends (a client address "(port)" or "[local]") are not.
    def ours(title):
        if (' %s ' % db) in title + ' ':
            return True
        return not any(k in title for k in ('(', '[local]', 'autovacuum worker', 'parallel worker'))
    own = sum(c['cpu_seconds'] for c in w.get('children', []) if ours(c['title']))
    backends = sum(1 for c in w.get('children', []) if (' %s ' % db) in c['title'] + ' ')
    m = d['machine']
    client = m['client_cores'] * secs
    busy = m['busy_cores'] * secs
    ms = lambda s: 1000 * s / cyc
    st = [l.split() for l in open(os.path.join(out, name + '.pgstat')).read().splitlines()] \
        if os.path.exists(os.path.join(out, name + '.pgstat')) else []
    per = lambda i: (float(st[1][i]) - float(st[0][i])) / cyc if len(st) == 2 and len(st[1]) > i and st[1][i] else float('nan')
    return dict(xact=per(1), sync=per(2), walb=per(3), batches=per(4), rounds=per(5), cps=d['cycles_per_sec'], srv=ms(d['server_cpu_seconds']), db=ms(own), db_all=ms(w['cpu_seconds']),
                client=ms(client), other=ms(busy - d['server_cpu_seconds'] - w['cpu_seconds'] - client),
                busy=m['busy_cores'], backends=backends, p99=next(o['p99_ms'] for o in d['ops'] if o['op'] == 'acquire'))

cols = ['cps', 'srv', 'db', 'db_all', 'client', 'other']
head = '%-5s %-11s %5s %9s %9s %9s %9s %9s %9s %9s %8s %5s %7s %7s %7s %7s %7s %7s'
row = '%-5s %-11s %5s %9.0f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %8.1f %5d %7.2f %7.3f %7.3f %7.3f %7.3f %7.0f'
print('per run (server ... other: CPU ms a cycle; a cycle = acquire + release; commits ... walB: a cycle):')
print(head % ('round', 'mode', 'nodes', 'cycles/s', 'server', 'db', 'srv+db', 'db_all', 'client', 'other',
              'acq_p99', 'pgbe', 'busy', 'commits', 'batches', 'rounds', 'syncs', 'walB'))
runs = {}
for mode in modes:
    for r in range(1, rounds + 1):
        for n in ('1', nodes):
            x = load('r%d-%s-%s' % (r, mode, n))
            runs.setdefault((mode, n), []).append(x)
            print(row % (r, mode, n, x['cps'], x['srv'], x['db'], x['srv'] + x['db'], x['db_all'], x['client'],
                         x['other'], x['p99'], x['backends'], x['busy'], x['xact'], x['batches'], x['rounds'], x['sync'], x['walb']))
print()
print('medians over %d rounds, and %s nodes against 1:' % (rounds, nodes))
print('%-11s %-9s %10s %10s %8s' % ('mode', 'measure', '1 node', nodes + ' nodes', 'growth'))
for mode in modes:
    one, many = runs[(mode, '1')], runs[(mode, nodes)]
    for label, f in [('cycles/s', lambda x: x['cps']), ('server', lambda x: x['srv']), ('db', lambda x: x['db']),
                     ('srv+db', lambda x: x['srv'] + x['db']), ('db_all', lambda x: x['db_all']),
                     ('client', lambda x: x['client']), ('commits', lambda x: x['xact']),
                     ('batches', lambda x: x['batches']), ('rounds', lambda x: x['rounds']),
                     ('syncs', lambda x: x['sync']), ('walB', lambda x: x['walb'])]:
        a, b = statistics.median(map(f, one)), statistics.median(map(f, many))
        fmt = '%10.0f %10.0f' if label in ('cycles/s', 'walB') else '%10.3f %10.3f'
        print(('%-11s %-9s ' + fmt + ' %+7.1f%%') % (mode, label, a, b, 100 * (b / a - 1)))
    pair = [100 * ((m['srv'] + m['db']) / (o['srv'] + o['db']) - 1) for o, m in zip(one, many)]
    print('%-11s srv+db growth round by round: %s' % (mode, ', '.join('%+.1f%%' % p for p in pair)))
print()
print('(%s clients%s; %s measured a run after a 2 s warm-up, each on a fresh database; --pg-conns %s a node%s%s;'
      % (clients, ', contended on %s locks' % locks if 'contended' in modes else '', duration, pg_conns,
         ', ' + os.environ['BENCH_SERVE_FLAGS'] if os.environ.get('BENCH_SERVE_FLAGS') else '',
         ''.join(', %s%s' % ('%s nodes: ' % nodes if 'NODES' in v else '', os.environ[v]) for v in
                 ('BENCH_SERVE_ENV', 'BENCH_NODES_SERVE_FLAGS', 'BENCH_NODES_SERVE_ENV') if os.environ.get(v))))
print(' server: the nodes; db: the run\'s backends and PostgreSQL\'s own processes; db_all: all of PostgreSQL;'
      ' pgbe: the run\'s backends at the end; busy: the machine, in cores of %d;' % os.cpu_count())
print(' commits: transactions committed in the run\'s database; batches: those with audit records; rounds: audit chain rounds;'
      ' syncs, walB: WAL syncs and bytes of the whole server)')
PY
for n in 1 "$nodes"; do
	[ -s "$out/profile-$n-waits.txt" ] && { echo; echo "PostgreSQL, the run's database, $n node(s), in the profiled run:"; cat "$out/profile-$n-waits.txt"; }
done
echo "results in $out"
