#!/usr/bin/env bash
# Runs the lock benchmarks of docs/benchmarks.md ("Locks (issue 3)"):
#   scripts/bench-locks.sh [OUTDIR]
# latchkey on SQLite and on PostgreSQL (`latchkey bench locks`), then etcd
# (concurrency.Mutex) and PostgreSQL advisory locks (bench/lockcompare),
# each in two modes with the same clients:
#   uncontended  BENCH_CLIENTS clients (default 32), a lock each: acquire, release;
#   contended    the same clients on BENCH_LOCKS locks (default 4): acquire
#                (queueing), wait for the grant, release; with the hand-over time.
#                latchkey runs it twice: a queued client learning of its grant
#                from the event stream (GET /v1/events), and by polling.
# Every configuration runs BENCH_REPEAT times (default 2), each on a fresh
# store (latchkey) or a fresh etcd. BENCH_DURATION (default 15s, at most
# 20s) is the length of each measured run, after a 2 s unmeasured warm-up.
# The first uncontended latchkey run of each backend takes a CPU profile of
# the server. latchkey uses the cheap argon2id profile: logging the clients
# on is the only hashing, and it is not measured.
# PostgreSQL: LATCHKEY_BENCH_POSTGRES (default the local test database);
# latchkey gets a fresh schema per run, dropped at the end. etcd must be
# installed (apt-get install etcd-server). Everything listens on 127.0.0.1
# only; everything started here is stopped on exit.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh" # wait_for, cpu_now, busy_since
out=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)-locks}
pg=${LATCHKEY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
duration=${BENCH_DURATION:-15s}
clients=${BENCH_CLIENTS:-32}
locks=${BENCH_LOCKS:-4}
repeat=${BENCH_REPEAT:-2}
secs=$(awk -v d="$duration" 'BEGIN { n = d + 0; if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60; print n }')
if ! awk -v s="$secs" 'BEGIN { exit !(s > 0 && s <= 20) }'; then
	echo "BENCH_DURATION=$duration: want more than 0 and at most 20s" >&2
	exit 2
fi
limit=$((${secs%.*} + 60)) # a run that outlives this is killed
port=7441 pprof_port=7442 etcd_client=2379 etcd_peer=2380

mkdir -p "$out"
work=$(mktemp -d)
schemas=()
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	for s in "${schemas[@]}"; do psql "$pg" -qc "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/latchkey" ./cmd/latchkey
(cd bench/lockcompare && go build -o "$work/lockcompare" .)
lk="$work/latchkey"
export LATCHKEY_ADMIN_PASSWORD=bench-admin-password LATCHKEY_PASSWORD=bench-admin-password
cheap=(--argon2-time 1 --argon2-memory 64)
server_pid= store=

fresh_store() { # BACKEND: sets store to a fresh, empty store
	if [ "$1" = sqlite ]; then
		rm -rf "$work/data"
		mkdir -p "$work/data"
		store="sqlite://$work/data/latchkey.db"
	else
		local schema="bench_locks_$(date +%s%N)"
		psql "$pg" -qc "CREATE SCHEMA $schema" >/dev/null
		schemas+=("$schema")
		store="${pg}&search_path=$schema"
	fi
}

start_latchkey() { # NAME URL
	mkdir -p "$work/data"
	"$lk" serve --listen 127.0.0.1:$port --pprof-listen 127.0.0.1:$pprof_port --data-dir "$work/data" --store "$2" \
		"${cheap[@]}" >"$out/$1-serve.log" 2>&1 &
	server_pid=$!
	wait_for "http://127.0.0.1:$port/readyz" "$out/$1-serve.log"
}

start_etcd() { # NAME
	mkdir -p "$work/etcd"
	etcd --name lockbench --data-dir "$(mktemp -d -p "$work/etcd")" \
		--listen-client-urls http://127.0.0.1:$etcd_client --advertise-client-urls http://127.0.0.1:$etcd_client \
		--listen-peer-urls http://127.0.0.1:$etcd_peer --initial-advertise-peer-urls http://127.0.0.1:$etcd_peer \
		--initial-cluster lockbench=http://127.0.0.1:$etcd_peer >"$out/$1-etcd.log" 2>&1 &
	server_pid=$!
	wait_for "http://127.0.0.1:$etcd_client/health" "$out/$1-etcd.log"
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

run_latchkey() { # NAME MODE [flags...]
	local name=$1 mode=$2 t0
	shift 2
	echo "== $name"
	t0=$(cpu_now)
	timeout "$limit" "$lk" bench locks --server "http://127.0.0.1:$port" --clients "$clients" --locks "$locks" \
		--mode "$mode" --duration "$duration" --warmup 2s --json "$@" >"$out/$name.json" 2>"$out/$name.progress"
	busy_since "$t0" >"$out/$name.busy"
}

run_compare() { # NAME TARGET MODE [flags...]
	local name=$1 target=$2 mode=$3 t0
	shift 3
	echo "== $name"
	t0=$(cpu_now)
	timeout "$limit" "$work/lockcompare" --target "$target" --clients "$clients" --locks "$locks" \
		--mode "$mode" --duration "$duration" --warmup 2s --json "$@" >"$out/$name.json" 2>"$out/$name.progress"
	busy_since "$t0" >"$out/$name.busy"
}

for backend in sqlite postgres; do
	for i in $(seq 1 "$repeat"); do
		fresh_store "$backend"
		start_latchkey "latchkey-$backend-$i" "$store"
		prof=()
		if [ "$i" = 1 ]; then
			prof=(--server-pprof "http://127.0.0.1:$pprof_port" --profile-dir "$out/latchkey-$backend-profile")
		fi
		run_latchkey "latchkey-$backend-$i-uncontended" uncontended --label "$backend" "${prof[@]}"
		run_latchkey "latchkey-$backend-$i-contended" contended --label "$backend" --handover events
		run_latchkey "latchkey-$backend-poll-$i-contended" contended --label "$backend" --handover poll
		stop_server
	done
	p="$out/latchkey-$backend-profile/round-1.pprof"
	if [ -f "$p" ]; then
		go tool pprof -top -nodecount=40 "$lk" "$p" >"$out/latchkey-$backend-profile-top.txt" 2>/dev/null || true
		go tool pprof -top -cum -nodecount=60 "$lk" "$p" >"$out/latchkey-$backend-profile-cum.txt" 2>/dev/null || true
	fi
done

for i in $(seq 1 "$repeat"); do
	start_etcd "etcd-$i"
	run_compare "etcd-$i-uncontended" etcd uncontended --etcd "127.0.0.1:$etcd_client" --pid "$server_pid"
	run_compare "etcd-$i-contended" etcd contended --etcd "127.0.0.1:$etcd_client" --pid "$server_pid"
	stop_server
done

for i in $(seq 1 "$repeat"); do
	run_compare "pgadvisory-$i-uncontended" pg uncontended --pg "$pg"
	run_compare "pgadvisory-$i-contended" pg contended --pg "$pg"
done

# The table: one line per system and run; "-" where the run is not there
# (the poll rows have no uncontended run of their own).
op() { # FILE OP FIELD
	jq -r --arg op "$2" --arg f "$3" '(.ops[] | select(.op == $op) | .[$f]) // 0' "$1"
}
num() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }
{
	echo "system run unc_cycles/s unc_acquire_p99_ms unc_release_p99_ms con_cycles/s con_wait_p99_ms handover_p50_ms handover_p99_ms release_to_grant_p50_ms release_to_grant_p99_ms peak_rss_MiB busy_cores_unc/con"
	for sys in latchkey-sqlite latchkey-sqlite-poll latchkey-postgres latchkey-postgres-poll etcd pgadvisory; do
		for i in $(seq 1 "$repeat"); do
			u="$out/$sys-$i-uncontended.json" c="$out/$sys-$i-contended.json"
			[ -s "$u" ] || [ -s "$c" ] || continue
			row=("$sys" "$i")
			if [ -s "$u" ]; then
				row+=("$(num "$(jq -r .cycles_per_sec "$u")" %.0f)" "$(num "$(op "$u" acquire p99_ms)" %.1f)"
					"$(num "$(op "$u" release p99_ms)" %.1f)")
			else
				row+=(- - -)
			fi
			if [ -s "$c" ]; then
				row+=("$(num "$(jq -r .cycles_per_sec "$c")" %.0f)" "$(num "$(op "$c" wait p99_ms)" %.1f)"
					"$(num "$(op "$c" handover p50_ms)" %.1f)" "$(num "$(op "$c" handover p99_ms)" %.1f)"
					"$(num "$(op "$c" release_to_grant p50_ms)" %.1f)" "$(num "$(op "$c" release_to_grant p99_ms)" %.1f)")
			else
				row+=(- - - - - -)
			fi
			files=()
			for f in "$u" "$c"; do [ -s "$f" ] && files+=("$f"); done
			rss=$(jq -s '[.[].peak_rss_bytes] | max / 1048576' "${files[@]}")
			row+=("$(awk -v r="$rss" 'BEGIN { if (r > 0) printf "%.0f", r; else print "n/a" }')")
			row+=("$(cat "${u%.json}.busy" 2>/dev/null || echo -)/$(cat "${c%.json}.busy" 2>/dev/null || echo -)")
			echo "${row[*]}"
		done
	done
} | column -t | tee "$out/table.txt"
echo "($clients clients; contended: on $locks locks; $duration a run after a 2 s warm-up; latchkey hand-over by the event"
echo " stream, -poll rows by polling (asking again every 10ms × the place in the queue); hand-over from the previous"
echo " holder's release answer, release_to_grant from its release call, to the next holder knowing; busy: the whole machine)"
echo "results in $out"
