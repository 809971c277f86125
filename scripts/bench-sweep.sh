#!/usr/bin/env bash
# Uncontended lock cycles against the number of clients (docs/benchmarks.md,
# "Cycles/s and p99 against the number of clients", issue 15):
#   scripts/bench-sweep.sh [OUTDIR]        measure, then plot
#   scripts/bench-sweep.sh --plot OUTDIR   only plot OUTDIR/sweep-median.csv again
# For each client count of BENCH_SWEEP (default "1 2 4 8 16 32 64 128"):
# latchkey on SQLite and on PostgreSQL (`latchkey bench locks`) and etcd
# (bench/lockcompare), uncontended: N clients, a lock each, acquire then
# release, every grant and release durable before its answer. Each point
# runs on a fresh store or a fresh etcd; the three systems take turns at
# each count, and the whole sweep runs BENCH_ROUNDS times (default 3), so
# that the machine's drift falls on all alike. A point is BENCH_DURATION
# (default 5s) after BENCH_WARMUP (default 2s) unmeasured; before it the
# script waits, at most BENCH_QUIET_WAIT seconds (default 15), for a
# second in which the machine is nearly idle, and records how busy it was.
# Writes OUTDIR/sweep.csv (a line a point), OUTDIR/sweep-median.csv (a
# line a system and client count: the median over the rounds), sweep.md
# (the medians as a markdown table), and with gnuplot (apt-get install -y
# gnuplot-nox) OUTDIR/sweep.png: the median cycles/s and acquire p99
# against the clients, a line a system. The rest (PostgreSQL, ports, what
# is stopped on exit): scripts/bench-locks-lib.sh.
set -euo pipefail
systems=(latchkey-sqlite latchkey-postgres etcd)

# plot DIR: DIR/sweep.png from DIR/sweep-median.csv, the data inline in
# DIR/sweep.gp so that the plot can be redrawn from that file alone.
plot() {
	local dir=$1 when etcd_version xmax xtics
	if ! command -v gnuplot >/dev/null; then
		echo "gnuplot is not installed: no PNG (apt-get install -y gnuplot-nox, then $0 --plot $dir)" >&2
		return 1
	fi
	when=$(cat "$dir/sweep.when" 2>/dev/null || echo "date unknown")
	etcd_version=$(cat "$dir/etcd.version" 2>/dev/null || echo "")
	xmax=$(awk -F, 'NR > 1 && $2 > m { m = $2 } END { print m * 1.3 }' "$dir/sweep-median.csv")
	xtics=$(awk -F, 'NR > 1 && !seen[$2]++ { printf "%s%s", (n++ ? "," : ""), $2 }' "$dir/sweep-median.csv")
	{
		for sys in "${systems[@]}"; do
			echo "\$${sys//-/_} << EOD"
			awk -F, -v s="$sys" '$1 == s { print $2, $4, $7 }' "$dir/sweep-median.csv"
			echo "EOD"
		done
		cat <<-GP
			set terminal pngcairo size 1400,560 font "sans,11"
			set output "$dir/sweep.png"
			set multiplot layout 1,2 title "Uncontended lock cycles against clients (a lock each, acquire then release, fsync before each answer)\\n2-core machine, $when" font "sans,12"
			set logscale x 2
			set xrange [0.8:$xmax]
			set xtics ($xtics)
			set xlabel "clients (each its own lock)"
			set grid
			set key top left
			set style data linespoints
			set ylabel "cycles/s (acquire + release), median of the rounds"
			set yrange [0:*]
			set title "Throughput"
			plot \$latchkey_sqlite using 1:2 title "latchkey, SQLite" lw 2 pt 7, \\
			     \$latchkey_postgres using 1:2 title "latchkey, PostgreSQL" lw 2 pt 5, \\
			     \$etcd using 1:2 title "etcd $etcd_version" lw 2 pt 9
			set logscale y
			set yrange [*:*]
			set ylabel "acquire p99 (ms, log scale), median of the rounds"
			set title "Latency: 99th percentile of an acquire call"
			plot \$latchkey_sqlite using 1:3 title "latchkey, SQLite" lw 2 pt 7, \\
			     \$latchkey_postgres using 1:3 title "latchkey, PostgreSQL" lw 2 pt 5, \\
			     \$etcd using 1:3 title "etcd $etcd_version" lw 2 pt 9
			unset multiplot
		GP
	} >"$dir/sweep.gp"
	gnuplot "$dir/sweep.gp"
	echo "plot in $dir/sweep.png"
}

if [ "${1:-}" = --plot ]; then
	plot "${2:?--plot OUTDIR}"
	exit
fi

out=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)-sweep}
counts=${BENCH_SWEEP:-1 2 4 8 16 32 64 128}
rounds=${BENCH_ROUNDS:-3}
quiet_wait=${BENCH_QUIET_WAIT:-15}
n_counts=0
for n in $counts; do
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 256 ]; then
		echo "BENCH_SWEEP: client counts from 1 to 256, not $n" >&2
		exit 2
	fi
	n_counts=$((n_counts + 1))
done
if [ "$n_counts" -lt 1 ] || [ "$n_counts" -gt 12 ]; then
	echo "BENCH_SWEEP: 1 to 12 client counts" >&2
	exit 2
fi
if ! [[ $rounds =~ ^[1-5]$ ]]; then
	echo "BENCH_ROUNDS: 1 to 5" >&2
	exit 2
fi
if ! [[ $quiet_wait =~ ^[0-9]+$ ]] || [ "$quiet_wait" -lt 1 ] || [ "$quiet_wait" -gt 60 ]; then
	echo "BENCH_QUIET_WAIT: 1 to 60 (seconds)" >&2
	exit 2
fi
. "$(dirname "$0")/bench-locks-lib.sh"
check_duration 5s
command -v gnuplot >/dev/null ||
	echo "warning: gnuplot is not installed (apt-get install -y gnuplot-nox): this run writes the CSV but no PNG" >&2

# quiet: waits, at most quiet_wait seconds, for a second in which the
# machine runs less than half a core (other people's builds and tests on
# a shared machine), and prints the busy cores of the last second waited.
quiet() {
	local t0 b
	for _ in $(seq 1 "$quiet_wait"); do
		t0=$(cpu_now)
		sleep 1
		b=$(busy_since "$t0")
		awk -v b="$b" 'BEGIN { exit !(b < 0.5) }' && break
	done
	echo "$b"
}

points=$((rounds * n_counts * ${#systems[@]}))
run_s=$(($(seconds "$duration" | cut -d. -f1) + $(seconds "$warmup" | cut -d. -f1)))
echo "$rounds rounds of $n_counts client counts × ${#systems[@]} systems: $points points of $duration after $warmup;"
echo "about $((points * (run_s + 6))) s on a quiet machine, at most $((points * (limit + quiet_wait + 10))) s"
bench_setup
etcd --version | awk '/^etcd Version/ { print $3 }' >"$out/etcd.version"
started=$(date -u '+%Y-%m-%d %H:%M')

# sweep.csv: every point. others_before: the machine's busy cores in the
# last second before the point started, nothing of this script running.
echo "round,system,clients,cycles_per_sec,acquire_p50_ms,acquire_p99_ms,release_p99_ms,server_cpu_ms_per_cycle,busy_cores,others_before,peak_rss_mib" >"$out/sweep.csv"
for round in $(seq 1 "$rounds"); do
	for clients in $counts; do
		for sys in "${systems[@]}"; do
			name="$sys-$clients-r$round"
			others=$(quiet)
			case $sys in
			latchkey-*)
				fresh_store "${sys#latchkey-}"
				start_latchkey "$name" "$store"
				run_latchkey "$name" uncontended --label "${sys#latchkey-}"
				;;
			etcd)
				start_etcd "$name"
				run_compare "$name" etcd uncontended --etcd "127.0.0.1:$etcd_client" --pid "$server_pid"
				;;
			esac
			stop_server
			jq -r --arg round "$round" --arg sys "$sys" --arg busy "$(cat "$out/$name.busy")" --arg others "$others" '
				def r(d): (. * pow(10; d) | round) / pow(10; d);
				def op(o; f): (.ops[] | select(.op == o) | .[f]) // 0;
				[$round, $sys, .clients, (.cycles_per_sec | round), (op("acquire"; "p50_ms") | r(2)),
				 (op("acquire"; "p99_ms") | r(2)), (op("release"; "p99_ms") | r(2)),
				 (if .cycles > 0 then 1000 * .server_cpu_seconds / .cycles else 0 end | r(3)),
				 $busy, $others, ((.peak_rss_bytes // 0) / 1048576 | floor)] | map(tostring) | join(",")' \
				"$out/$name.json" >>"$out/sweep.csv"
		done
	done
done
echo "$started–$(date -u '+%H:%M') UTC, $rounds rounds, $duration a point after a $warmup warm-up" >"$out/sweep.when"

# sweep-median.csv: a line a system and client count, the median over the
# rounds (what the plot shows), the range of cycles/s, and the most the
# machine was busy with others just before one of its points.
awk -F, '
	function med(a, k, m,    i, j, t, v) {
		for (i = 1; i <= m; i++) v[i] = a[k, i] + 0
		for (i = 2; i <= m; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
		return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
	}
	NR > 1 {
		k = $2 FS $3
		if (!(k in n)) order[++keys] = k
		m = ++n[k]
		c[k, m] = $4; a[k, m] = $6; r[k, m] = $7
		if (m == 1 || $4 < lo[k]) lo[k] = $4
		if (m == 1 || $4 > hi[k]) hi[k] = $4
		if (m == 1 || $10 > o[k]) o[k] = $10
	}
	END {
		print "system,clients,rounds,cycles_per_sec,cycles_per_sec_min,cycles_per_sec_max,acquire_p99_ms,release_p99_ms,others_before_max"
		for (i = 1; i <= keys; i++) {
			k = order[i]
			printf "%s,%d,%.0f,%.0f,%.0f,%.1f,%.1f,%s\n", k, n[k], med(c, k, n[k]), lo[k], hi[k], med(a, k, n[k]), med(r, k, n[k]), o[k]
		}
	}' "$out/sweep.csv" >"$out/sweep-median.csv"

# The medians as a markdown table, for docs/benchmarks.md.
awk -F, 'NR == 1 { printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; printf "\n|"; for (i = 1; i <= NF; i++) printf "---|"; print ""; next }
	{ printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; print "" }' "$out/sweep-median.csv" >"$out/sweep.md"
cat "$out/sweep.md"
echo "($(cat "$out/sweep.when"); every point in $out/sweep.csv)"
plot "$out"
