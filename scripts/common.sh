# scripts/common.sh: what lighttpd/run, apache/run and nginx/run share.
# Sourced, not run.  It checks the common settings (PORT, BIND,
# FCGI_PROCS, RESPONDER, RUNDIR), takes RUNDIR's lock, starts the local
# upstream (--demo) and the private redis-server, checks the responder's
# configuration, and stops everything started, newest first, by PID on
# SIGINT/SIGTERM or on exit.  It knows nothing about any one web server.
#
# A run script sets `set -euo pipefail`, $prog, $here (its directory) and
# $top (the checkout), sources this file, then calls, in order:
#   run_init "$@"        arguments and settings, RUNDIR, lock, traps
#   run_deps             upstream (--demo), redis-server, --check-config
#   pick_fcgi_address USER, run_daemon   (apache, nginx) todos-fcgi --listen
#   run_started NAME PID [reap]   after starting the web server
#   wait "${pids[-1]}"

die() { echo "$prog: $*" >&2; exit 78; }

# Decimal in [lo, hi], leading zeros allowed (bash would read them as octal).
decimal() {
	[[ $1 =~ ^[0-9]{1,9}$ ]] && ((10#$1 >= $2 && 10#$1 <= $3))
}

# PIDs whose parent is $1, from /proc (procps may not be installed).
children() {
	local f line rest
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		rest=${line##*) }
		rest=${rest#* }
		[ "${rest%% *}" = "$1" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
	done
	return 0
}

# True while $1 runs; a zombie (exited, not yet reaped by init) is gone.
running() {
	local line
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
	line=${line##*) }
	[ "${line%% *}" != Z ]
}

# Waits up to 10 s for a command to succeed.
await() {
	local i
	for ((i = 0; i < 100; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# True if something accepts TCP connections on 127.0.0.1:$1.
tcp_accepts() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Stops what was started, newest first.  A web server (or the daemon)
# signals its responders but may not wait for them; for the PIDs in
# $reap, wait here (up to 10 s) for their children too, so that nothing
# of ours outlives the script.
pids=()
reap=()
pidfiles=()
remove=()	# directories made for this run, removed at the end
stop() {
	trap - EXIT INT TERM
	local i j p n kids=() owner=()
	for p in "${reap[@]}"; do
		for j in $(children "$p"); do
			kids+=("$j")
			owner+=("$p")
		done
	done
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		# A child that does not stop in 10 s (a frozen redis) is killed.
		for ((n = 0; n < 100; n++)); do
			running "${pids[i]}" || break
			sleep 0.1
		done
		kill -KILL "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
		for ((j = 0; j < ${#kids[@]}; j++)); do
			[ "${owner[j]}" = "${pids[i]}" ] || continue
			for ((n = 0; n < 100; n++)); do
				running "${kids[j]}" || break
				sleep 0.1
			done
		done
	done
	((${#pidfiles[@]} == 0)) || rm -f "${pidfiles[@]}"
	((${#remove[@]} == 0)) || rm -rf "${remove[@]}"
}

# Arguments and the settings every front reads.  FCGI_PROCS defaults to
# $fcgi_procs_default if the script set it, else to the cores.
run_init() {
	demo=0
	case "${1:-}" in
	--demo) demo=1 ;;
	"") ;;
	*) echo "usage: $prog [--demo]" >&2; exit 64 ;;
	esac

	PORT=${PORT:-5000}
	decimal "$PORT" 1 65535 || die "PORT: '$PORT' is not a port number in 1..65535"
	PORT=$((10#$PORT))
	BIND=${BIND:-127.0.0.1}
	[[ $BIND =~ ^[0-9A-Za-z.:_-]{1,253}$ ]] ||
		die "BIND: '$BIND' is not an address or host name"
	local cores
	cores=$(nproc)
	FCGI_PROCS=${FCGI_PROCS:-${fcgi_procs_default:-$((cores > 256 ? 256 : cores))}}
	decimal "$FCGI_PROCS" 1 256 || die "FCGI_PROCS: '$FCGI_PROCS' is not a number in 1..256"
	FCGI_PROCS=$((10#$FCGI_PROCS))
	RESPONDER=${RESPONDER:-$top/build/todos-fcgi}
	[ -x "$RESPONDER" ] || die "RESPONDER: '$RESPONDER' is not an executable (run make)"
	RUNDIR=${RUNDIR:-${TMPDIR:-/tmp}/todos-fcgi-$PORT}
	# The directory holds sockets that feed the cache: it must be ours alone,
	# not something another user made (or linked) first in a shared /tmp.
	mkdir -p -m 700 "$RUNDIR" 2>/dev/null || true
	[ -d "$RUNDIR" ] && [ ! -L "$RUNDIR" ] && [ -O "$RUNDIR" ] ||
		die "RUNDIR: '$RUNDIR' is not a directory owned by $(id -un)"
	chmod 700 "$RUNDIR"
	export PORT BIND FCGI_PROCS RESPONDER RUNDIR

	[ ! -L "$RUNDIR/lock" ] || die "RUNDIR: $RUNDIR/lock is a symbolic link"
	exec 9>"$RUNDIR/lock"
	flock -n 9 || die "$RUNDIR is in use by another instance on port $PORT"

	trap stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Where the daemon listens (FCGI_ADDRESS, for --listen).  By default a
# unix socket, FCGI_SOCKET, in a directory of its own that only the front's
# workers can enter: run as root, the front's workers are $1 (www-data), the
# directory's group, mode 0710; as anyone else, they are us, mode 0700.
# Whoever can connect to a FastCGI socket can kill workers (Debian 12's
# libfcgi, README: The FastCGI daemon), so no other local user may.  RUNDIR
# (0700) cannot hold it: $1 could not enter.  FCGI_PORT set: TCP on
# 127.0.0.1:FCGI_PORT instead, reachable by every local user.
pick_fcgi_address() {
	local dir
	FCGI_SOCKET=
	if [ -n "${FCGI_PORT:-}" ]; then
		decimal "$FCGI_PORT" 1 65535 ||
			die "FCGI_PORT: '$FCGI_PORT' is not a port number in 1..65535"
		FCGI_PORT=$((10#$FCGI_PORT))
		((FCGI_PORT != PORT)) || die "FCGI_PORT: '$FCGI_PORT' is PORT"
		FCGI_ADDRESS=127.0.0.1:$FCGI_PORT
		return 0
	fi
	dir=$(mktemp -d /tmp/todos-fcgi-sock.XXXXXX) ||
		die "cannot make the socket's directory in /tmp"
	remove+=("$dir")
	if [ "$(id -u)" = 0 ]; then
		chgrp "$1" "$dir" && chmod 0710 "$dir" ||
			die "cannot give $dir to group $1"
	fi
	FCGI_SOCKET=$dir/fcgi.sock
	FCGI_ADDRESS=unix:$FCGI_SOCKET
}

# True if the daemon listens on FCGI_ADDRESS.
fcgi_listening() {
	if [ -n "$FCGI_SOCKET" ]; then
		awk -v p="$FCGI_SOCKET" '$4 == "00010000" && $8 == p { f = 1 }
			END { exit !f }' /proc/net/unix
	else
		tcp_accepts "$FCGI_PORT"
	fi
}

# The local upstream (--demo), the private redis-server, the config check.
run_deps() {
	if ((demo)); then
		rm -f "$RUNDIR/upstream.port"
		/usr/bin/python3 "$top/tests/upstream/fake_upstream.py" --quiet \
			--port 0 --port-file "$RUNDIR/upstream.port" \
			--latency-ms "${DEMO_LATENCY_MS:-120-700}" 9>&- &
		pids+=($!)
		await test -s "$RUNDIR/upstream.port" || die "local upstream did not start"
		export UPSTREAM_URL="http://127.0.0.1:$(cat "$RUNDIR/upstream.port")"
	fi

	# /metrics counts from zero in every run (METRICS_FILE's default).
	[ -n "${METRICS_FILE:-}" ] || rm -f "$RUNDIR/metrics"

	if [ -z "${REDIS_URL:-}" ] && [ -z "${REDIS_SENTINELS:-}" ]; then
		rm -f "$RUNDIR/redis.sock"
		redis-server --port 0 --unixsocket "$RUNDIR/redis.sock" \
			--unixsocketperm 700 --save "" --appendonly no \
			--dir "$RUNDIR" --logfile "$RUNDIR/redis.log" 9>&- &
		pids+=($!)
		await redis-cli -s "$RUNDIR/redis.sock" ping ||
			die "redis-server did not start (see $RUNDIR/redis.log)"
		export REDIS_URL="unix://$RUNDIR/redis.sock"
	fi

	# One line naming the bad variable, before anything serves.
	"$RESPONDER" --check-config || exit 78
}

# todos-fcgi --listen FCGI_ADDRESS --workers FCGI_PROCS (pick_fcgi_address
# first), its PID in RUNDIR/daemon.pid; returns once it accepts connections.
run_daemon() {
	local i
	"$RESPONDER" --listen "$FCGI_ADDRESS" --workers "$FCGI_PROCS" 9>&- &
	daemon_pid=$!
	run_started daemon "$daemon_pid" reap
	for ((i = 0; i < 100; i++)); do
		running "$daemon_pid" ||
			die "todos-fcgi could not listen on $FCGI_ADDRESS"
		fcgi_listening && return 0
		sleep 0.1
	done
	die "todos-fcgi did not listen on $FCGI_ADDRESS"
}

# Records a started process: stopped by PID, its PID in RUNDIR/NAME.pid;
# with "reap", its children are waited for when it is stopped.
run_started() {
	pids+=("$2")
	[ "${3:-}" != reap ] || reap+=("$2")
	pidfiles+=("$RUNDIR/$1.pid")
	echo "$2" >"$RUNDIR/$1.pid"
}
