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
# 20s) is the length of each measured run, after an unmeasured warm-up
# (BENCH_WARMUP, default 2s).
# The first uncontended latchkey run of each backend takes a CPU profile of
# the server. latchkey uses the cheap argon2id profile: logging the clients
# on is the only hashing, and it is not measured.
# PostgreSQL: LATCHKEY_BENCH_POSTGRES (default the local test database);
# latchkey gets a fresh schema per run, dropped at the end. etcd must be
# installed (apt-get install etcd-server). Everything listens on 127.0.0.1
# only (the ports: scripts/bench-locks-lib.sh); everything started here is
# stopped on exit. scripts/bench-sweep.sh runs the uncontended mode against
# the number of clients and plots it.
set -euo pipefail
out=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)-locks}
clients=${BENCH_CLIENTS:-32}
locks=${BENCH_LOCKS:-4}
repeat=${BENCH_REPEAT:-2}
. "$(dirname "$0")/bench-locks-lib.sh"
check_duration 15s
bench_setup

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
echo "($clients clients; contended: on $locks locks; $duration a run after a $warmup warm-up; latchkey hand-over by the event"
echo " stream, -poll rows by polling (asking again every 10ms × the place in the queue); hand-over from the previous"
echo " holder's release answer, release_to_grant from its release call, to the next holder knowing; busy: the whole machine)"
echo "results in $out"
