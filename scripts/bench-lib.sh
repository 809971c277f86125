# Shell functions the benchmark scripts share; sourced, not run:
#   . "$(dirname "$0")/bench-lib.sh"

wait_for() { # URL LOG: wait until URL answers (10 s at most), else exit
	for _ in $(seq 1 50); do
		curl -fs "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "no answer from $1; see $2" >&2
	exit 1
}

# Busy cores of the whole machine between two snapshots of /proc/stat
# (user+nice+system+irq+softirq over all, times the cores): it shows
# whether something besides the benchmark ran during a run.
cpu_now() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
busy_since() { # "BUSY TOTAL" from cpu_now
	local now
	now=$(cpu_now)
	awk -v a="$1" -v b="$now" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
		if (y[2] > x[2]) printf "%.2f", n * (y[1] - x[1]) / (y[2] - x[2]); else print "n/a" }'
}

# postmaster_pid PGURL: the process ID of the PostgreSQL server at PGURL
# when it runs on this machine (the parent of its checkpointer), else
# nothing.
postmaster_pid() {
	local ckpt
	ckpt=$(psql "$1" -Atc "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'" 2>/dev/null) || return 0
	[ -n "$ckpt" ] && [ -r "/proc/$ckpt/stat" ] || return 0
	# The parent is the 2nd field after the command name's ')'.
	local pm
	pm=$(sed 's/.*) //' "/proc/$ckpt/stat" | awk '{ print $2 }')
	tr '\0' ' ' <"/proc/$pm/cmdline" 2>/dev/null | grep -q postgres && echo "$pm"
	return 0
}

# fresh_store BACKEND: sets store to a fresh, empty store: a new SQLite
# file under $work/data, or a new schema (named $schema_prefix and the
# time) of the PostgreSQL at $pg, added to the schemas array for the
# caller's cleanup to drop.
fresh_store() {
	if [ "$1" = sqlite ]; then
		rm -rf "$work/data"
		mkdir -p "$work/data"
		store="sqlite://$work/data/latchkey.db"
	else
		local schema="${schema_prefix:-bench}_$(date +%s%N)"
		psql "$pg" -qc "CREATE SCHEMA $schema" >/dev/null
		schemas+=("$schema")
		store="${pg}&search_path=$schema"
	fi
}

# A latchkey server on 127.0.0.1:$port (pprof on $pprof_port) with the
# cheap argon2id profile (logging clients on is not what is measured),
# its data in $work/data and its log in $out/NAME-serve.log; sets
# server_pid. The caller sets lk, port, pprof_port, work and out.
start_latchkey() { # NAME STORE
	mkdir -p "$work/data"
	"$lk" serve --listen 127.0.0.1:$port --pprof-listen 127.0.0.1:$pprof_port --data-dir "$work/data" --store "$2" \
		--argon2-time 1 --argon2-memory 64 >"$out/$1-serve.log" 2>&1 &
	server_pid=$!
	wait_for "http://127.0.0.1:$port/readyz" "$out/$1-serve.log"
}

stop_server() { # what start_latchkey (or another start) left in server_pid
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}
