# Shared by the benchmarks in tests/bench/: the root check and the private mount
# namespace every one of them runs in, and small helpers. Sourced after SELF and TOP
# are set; BENCH_NAME names the script in messages.

# Refuse to run without root; re-run the script in a private mount namespace, so that
# none of its mounts are seen by the host.
bench_enter() { # why-root "$@"
	if [[ $EUID -ne 0 ]]; then
		echo "$BENCH_NAME: needs root ($1)" >&2
		exit 1
	fi
	shift
	if [[ ${CVOL_BENCH_IN_NS:-} != 1 ]]; then
		export CVOL_BENCH_IN_NS=1
		exec unshare -m --propagation private -- "$BASH" "$SELF" "$@"
	fi
}

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

# TERM a process we started, KILL it after SECONDS, and reap it.
stop_pid() { # pid seconds
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# Run the command until it succeeds, for SECONDS at most.
wait_for() { # seconds command...
	local t=$(($1 * 10))
	shift
	until "$@" >/dev/null 2>&1; do
		((--t > 0)) || return 1
		sleep 0.1
	done
}

median() {
	printf '%s\n' "$@" | sort -n | awk '
		{ v[NR] = $1 }
		END { printf "%s\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

fmt() { awk "BEGIN { printf \"%.$2f\", $1 }"; }
