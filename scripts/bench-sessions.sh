#!/usr/bin/env bash
# Runs the session benchmarks of docs/benchmarks.md on one backend:
#   scripts/bench-sessions.sh sqlite|postgres [OUTDIR]
# (a) cycle throughput with the production argon2id profile and with the
#     cheap test profile (the rules and the store without the hash);
# (b) login throughput against the raw argon2id rate: two runs of six
#     rounds, each round judged against raw measurements on either side of
#     it, with a CPU profile of the server per round that gives the share
#     of its CPU spent outside argon2id;
# (c) cycle p99 on an empty store and on one seeded with 100k principals
#     and 1M past sessions.
# PostgreSQL: LATCHKEY_BENCH_POSTGRES (default the local test database);
# each run uses a fresh schema. BENCH_PHASES (default "a b c") picks the
# phases, BENCH_DURATION (default 20s) the length of each run. Everything
# stays on 127.0.0.1, every run is bounded in time.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh" # wait_for
backend=${1:?usage: scripts/bench-sessions.sh sqlite|postgres [OUTDIR]}
out=${2:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$backend}
pg=${LATCHKEY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
duration=${BENCH_DURATION:-20s}
mkdir -p "$out"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/latchkey" ./cmd/latchkey
lk="$work/latchkey"
export LATCHKEY_ADMIN_PASSWORD=bench-admin-password LATCHKEY_PASSWORD=bench-admin-password
port=7431

store_url() { # a fresh, empty store
	if [ "$backend" = sqlite ]; then
		rm -rf "$work/data"; mkdir -p "$work/data"; echo "sqlite://$work/data/latchkey.db"
	else
		local schema="bench_$(date +%s%N)"
		psql "$pg" -qc "CREATE SCHEMA $schema" >/dev/null
		echo "${pg}&search_path=$schema"
	fi
}

start() { # start URL [serve flags...]
	local url=$1; shift
	"$lk" serve --listen 127.0.0.1:$port --data-dir "$work/data" --store "$url" "$@" >"$out/serve-$port.log" 2>&1 &
	wait_for "http://127.0.0.1:$port/readyz" "$out/serve-$port.log"
}

stop() { kill %1 2>/dev/null || true; wait %1 2>/dev/null || true; port=$((port + 1)); }

run() { # NAME [bench flags...]
	local name=$1; shift
	echo "== $backend: $name"
	"$lk" bench sessions --server "http://127.0.0.1:$port" --label "$backend" "$@" 2>"$out/$name.progress" | tee "$out/$name.txt"
}

cheap=(--argon2-time 1 --argon2-memory 64)
phases=${BENCH_PHASES:-a b c}

if [[ $phases == *a* ]]; then
	start "$(store_url)"
	run a-cycle-production --terminals 32 --duration "$duration"
	stop
	start "$(store_url)" "${cheap[@]}"
	run a-cycle-cheap --terminals 32 --duration "$duration" "${cheap[@]}"
	stop
fi
if [[ $phases == *b* ]]; then
	pprof=127.0.0.1:$((port + 1000))
	start "$(store_url)" --pprof-listen "$pprof"
	for i in 1 2; do
		run "b-login-$i" --terminals 16 --duration "${BENCH_LOGIN_DURATION:-60s}" --mode login --rounds 6 --warmup 5s \
			--raw-hash-duration 4s --server-pprof "http://$pprof" --profile-dir "$out/b-login-$i-profiles"
		echo "server CPU outside argon2id, per round (go tool pprof -top -focus=crypto/argon2):" | tee -a "$out/b-login-$i.txt"
		for f in "$out/b-login-$i-profiles"/round-*.pprof; do
			share=$(go tool pprof -top -focus=crypto/argon2 -nodefraction=0 -nodecount=100000 "$f" 2>/dev/null |
				sed -n 's/^Showing nodes accounting for [^,]*, \([0-9.]*\)% of .*/\1/p')
			echo "  $(basename "$f" .pprof): $(awk -v s="$share" 'BEGIN { printf "%.1f%%", 100 - s }')" | tee -a "$out/b-login-$i.txt"
		done
	done
	stop
fi
[[ $phases == *c* ]] || { echo "results in $out"; exit 0; }

url=$(store_url)
start "$url" # bootstrap the admin first: a seeded store is not empty
stop
echo "== $backend: seeding 100k principals and 1M past sessions"
"$lk" bench seed --store "$url" --principals 100000 --sessions 1000000 2>"$out/seed.progress" | tee "$out/seed.txt"
# Let the kernel write the load back first: its writeback would otherwise
# slow the fsyncs of the measured run and show as a large-store cost.
sync
sleep 5
start "$url"
run c-cycle-seeded --terminals 32 --duration "$duration"
stop
start "$(store_url)"
run c-cycle-empty --terminals 32 --duration "$duration"
stop
echo "results in $out"
