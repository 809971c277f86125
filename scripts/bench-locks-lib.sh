# Shared by scripts/bench-locks.sh and scripts/bench-sweep.sh; sourced, not run.
# The caller sets out (the results directory) and clients, and may set
# locks (contended runs); then calls bench_setup, which makes a work
# directory, builds latchkey and lockcompare into it, and stops everything
# started here on exit. Settings from the environment:
#   LATCHKEY_BENCH_POSTGRES  PostgreSQL (default the local test database)
#   BENCH_DURATION           a measured run (more than 0, at most 20s)
#   BENCH_WARMUP             the unmeasured warm-up before it (default 2s)
#   BENCH_PORT, BENCH_PPROF_PORT          latchkey (default 7441, 7442)
#   BENCH_ETCD_CLIENT, BENCH_ETCD_PEER    etcd (default 2379, 2380)
# Everything listens on 127.0.0.1 only.
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh" # wait_for, cpu_now, busy_since, start_latchkey, stop_server
pg=${LATCHKEY_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
warmup=${BENCH_WARMUP:-2s}
port=${BENCH_PORT:-7441} pprof_port=${BENCH_PPROF_PORT:-7442}
etcd_client=${BENCH_ETCD_CLIENT:-2379} etcd_peer=${BENCH_ETCD_PEER:-2380}
export LATCHKEY_ADMIN_PASSWORD=bench-admin-password LATCHKEY_PASSWORD=bench-admin-password
server_pid= store= work= lk=
schemas=() schema_prefix=bench_locks

seconds() { # DURATION: its length in seconds (Go's 500ms, 15s, 1m)
	awk -v d="$1" 'BEGIN { n = d + 0; if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60; print n }'
}

check_duration() { # DEFAULT: sets duration and limit (a run that outlives limit is killed)
	duration=${BENCH_DURATION:-$1}
	local secs warm
	secs=$(seconds "$duration") warm=$(seconds "$warmup")
	if ! awk -v s="$secs" 'BEGIN { exit !(s > 0 && s <= 20) }'; then
		echo "BENCH_DURATION=$duration: want more than 0 and at most 20s" >&2
		exit 2
	fi
	if ! awk -v s="$warm" 'BEGIN { exit !(s >= 0 && s <= 20) }'; then
		echo "BENCH_WARMUP=$warmup: want 0 to 20s" >&2
		exit 2
	fi
	limit=$((${secs%.*} + ${warm%.*} + 60))
}

cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	for s in "${schemas[@]}"; do psql "$pg" -qc "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
	[ -z "$work" ] || rm -rf "$work"
}

bench_setup() {
	mkdir -p "$out"
	work=$(mktemp -d)
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	go build -o "$work/latchkey" ./cmd/latchkey
	(cd bench/lockcompare && go build -o "$work/lockcompare" .)
	lk="$work/latchkey"
}


start_etcd() { # NAME: a fresh etcd
	mkdir -p "$work/etcd"
	etcd --name lockbench --data-dir "$(mktemp -d -p "$work/etcd")" \
		--listen-client-urls http://127.0.0.1:$etcd_client --advertise-client-urls http://127.0.0.1:$etcd_client \
		--listen-peer-urls http://127.0.0.1:$etcd_peer --initial-advertise-peer-urls http://127.0.0.1:$etcd_peer \
		--initial-cluster lockbench=http://127.0.0.1:$etcd_peer >"$out/$1-etcd.log" 2>&1 &
	server_pid=$!
	wait_for "http://127.0.0.1:$etcd_client/health" "$out/$1-etcd.log"
}


run_latchkey() { # NAME MODE [flags...]: `latchkey bench locks` into $out/NAME.json
	local name=$1 mode=$2 t0
	shift 2
	echo "== $name"
	t0=$(cpu_now)
	timeout "$limit" "$lk" bench locks --server "http://127.0.0.1:$port" --clients "$clients" --locks "${locks:-4}" \
		--mode "$mode" --duration "$duration" --warmup "$warmup" --json "$@" >"$out/$name.json" 2>"$out/$name.progress"
	busy_since "$t0" >"$out/$name.busy"
}

run_compare() { # NAME TARGET MODE [flags...]: bench/lockcompare into $out/NAME.json
	local name=$1 target=$2 mode=$3 t0
	shift 3
	echo "== $name"
	t0=$(cpu_now)
	timeout "$limit" "$work/lockcompare" --target "$target" --clients "$clients" --locks "${locks:-4}" \
		--mode "$mode" --duration "$duration" --warmup "$warmup" --json "$@" >"$out/$name.json" 2>"$out/$name.progress"
	busy_since "$t0" >"$out/$name.busy"
}

# Reading the results: op FILE OP FIELD is one field of one op's stats
# (0 if absent); num VALUE FORMAT formats a number.
op() {
	jq -r --arg op "$2" --arg f "$3" '(.ops[] | select(.op == $op) | .[$f]) // 0' "$1"
}
num() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }
