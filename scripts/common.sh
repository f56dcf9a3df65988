# scripts/common.sh: what lighttpd/run, apache/run and nginx/run share.
# Sourced, not run.  It checks the common settings (PORT, BIND,
# FCGI_PROCS, RESPONDER, RUNDIR), takes RUNDIR's lock, starts the local
# upstream (--demo) and the private redis-server, checks the responder's
# configuration, supervises what it started, and stops everything
# started, newest first, by PID on SIGINT/SIGTERM/SIGHUP, when its parent
# (make) is gone, or on exit.  It knows nothing about any one web server.
#
# A run script sets `set -euo pipefail`, $prog, $here (its directory) and
# $top (the checkout), sources this file, then calls, in order:
#   run_init "$@"        arguments and settings, RUNDIR, lock, traps
#   run_deps             upstream (--demo), redis-server, --check-config
#   pick_fcgi_address USER, run_daemon   (apache, nginx) todos-fcgi --listen
#   run_started NAME PID [reap]   after starting the web server
#   run_listening NAME   returns once the web server listens on PORT
#   run_supervise        until the web server exits
#
# Exit status: 78 (EX_CONFIG) for a bad setting or an address it cannot
# listen on, 69 (EX_UNAVAILABLE) when redis-server or the local upstream
# keeps dying, 128+N on signal N, else the web server's.

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

# Waits up to 10 s, while process $1 runs, for a command to succeed.
await() {
	local i pid=$1
	shift
	for ((i = 0; i < 100; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		running "$pid" || return 1
		sleep 0.1
	done
	return 1
}

# True if something accepts TCP connections on 127.0.0.1:$1.
tcp_accepts() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Inodes of the TCP sockets listening on port $1, any address, from
# /proc (connecting instead could hang on a BIND that is not this host's).
listeners() {
	local hex files=(/proc/net/tcp)
	[ ! -e /proc/net/tcp6 ] || files+=(/proc/net/tcp6)
	printf -v hex ':%04X' "$1"
	awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
		"${files[@]}"
}

# True if process $1 holds a socket listening on TCP port $2.
listening_on() {
	local inode
	for inode in $(listeners "$2"); do
		ls -l "/proc/$1/fd" 2>/dev/null | grep -qF "socket:[$inode]" && return 0
	done
	return 1
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
	# A second signal must not cut the stop short and orphan the rest.
	trap '' INT TERM HUP
	trap - EXIT
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
	# An IPv6 address may come bare (::1) or bracketed ([::1]); the web
	# servers and URLs want it bracketed before ":PORT": BIND_HOST.
	[[ $BIND =~ ^\[([0-9A-Fa-f.:]+)\]$ ]] && BIND=${BASH_REMATCH[1]}
	[[ $BIND =~ ^[0-9A-Za-z.:_-]{1,253}$ ]] ||
		die "BIND: '$BIND' is not an address or host name"
	BIND_HOST=$BIND
	[[ $BIND != *:* ]] || BIND_HOST="[$BIND]"
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
	export PORT BIND BIND_HOST FCGI_PROCS RESPONDER RUNDIR

	[ ! -L "$RUNDIR/lock" ] || die "RUNDIR: $RUNDIR/lock is a symbolic link"
	exec 9>"$RUNDIR/lock"
	flock -n 9 || die "$RUNDIR is in use by another instance on port $PORT"

	trap stop EXIT
	trap 'exit 129' HUP
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

# The local upstream on port $1 (0: any free one), UPSTREAM_URL, its
# PID in RUNDIR/upstream.pid.  Fd 8 is run_supervise's, 9 the lock.
start_upstream() {
	rm -f "$RUNDIR/upstream.port"
	/usr/bin/python3 "$top/tests/upstream/fake_upstream.py" --quiet \
		--port "$1" --port-file "$RUNDIR/upstream.port" \
		--latency-ms "${DEMO_LATENCY_MS:-120-700}" 8>&- 9>&- &
	run_started upstream $!
	await $! test -s "$RUNDIR/upstream.port" || return 1
	export UPSTREAM_URL="http://127.0.0.1:$(cat "$RUNDIR/upstream.port")"
}

# The private redis-server on RUNDIR/redis.sock, no TCP, nothing saved,
# its PID in RUNDIR/redis.pid; returns once it answers.
start_redis() {
	rm -f "$RUNDIR/redis.sock"
	redis-server --port 0 --unixsocket "$RUNDIR/redis.sock" \
		--unixsocketperm 700 --save "" --appendonly no \
		--dir "$RUNDIR" --logfile "$RUNDIR/redis.log" 8>&- 9>&- &
	run_started redis $!
	await $! redis-cli -s "$RUNDIR/redis.sock" ping
}

# The local upstream (--demo), the private redis-server, the config check.
run_deps() {
	if ((demo)); then
		start_upstream 0 || unavailable "local upstream did not start"
	fi

	# /metrics counts from zero in every run (METRICS_FILE's default).
	[ -n "${METRICS_FILE:-}" ] || rm -f "$RUNDIR/metrics"

	if [ -z "${REDIS_URL:-}" ] && [ -z "${REDIS_SENTINELS:-}" ]; then
		start_redis ||
			unavailable "redis-server did not start (see $RUNDIR/redis.log)"
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
# with "reap", its children are waited for when it is stopped.  Started
# again (a restart), it takes its predecessor's place in the stop order.
declare -A slot=()
run_started() {
	if [ -z "${slot[$1]:-}" ]; then
		slot[$1]=${#pids[@]}
		[ "${3:-}" != reap ] || reap+=("$2")
		pidfiles+=("$RUNDIR/$1.pid")
	fi
	pids[${slot[$1]}]=$2
	echo "$2" >"$RUNDIR/$1.pid"
}

# Waits until the web server, NAME, the last process started, listens on
# PORT.  If it exits first (the port in use, BIND not an address of this
# host, a port below 1024 without privileges), stops with exit 78 naming
# the address, and nothing has said "starting".
run_listening() {
	local front=${pids[-1]} i rc why
	# For run_supervise, opened here so that its child is gone by the time
	# anything says "starting": read -t on a pipe that nobody writes, a
	# sleep without a fork that traps interrupt.
	exec 8<> <(:)
	for ((i = 0; i < 300; i++)); do
		if ! running "$front"; then
			wait "$front" && rc=0 || rc=$?
			why="is $BIND an address of this host? may we use port $PORT?"
			[ -z "$(listeners "$PORT")" ] || why="port $PORT is in use"
			die "cannot listen on $BIND_HOST:$PORT: $why ($1 exited with status $rc)"
		fi
		listening_on "$front" "$PORT" && return 0
		sleep 0.1
	done
	die "$1 did not listen on $BIND_HOST:$PORT in 30 s"
}

# A dependency the service cannot do without is gone: stop everything.
gone() { echo "$prog: $*; stopping" >&2; exit 69; }
unavailable() { echo "$prog: $*" >&2; exit 69; }

# How a child that was waited for with status $1 ended.
ended() {
	if (($1 > 128)); then
		echo "killed by signal $(($1 - 128))"
	else
		echo "exited with status $1"
	fi
}

# Until the web server (the last process started) exits, with its status:
# every half second, restarts the private redis-server (same socket, same
# flags) or the local upstream (same port) that has died, and stops
# everything, as SIGTERM does, once the parent that started this script
# (make, a supervisor) is gone: nothing started here outlives it.  A
# second death within 10 s of a restart stops the service (exit 69).
declare -A restarted=()
run_supervise() {
	local front=${pids[-1]} name pid rc line port what
	while running "$front"; do
		read -r line <"/proc/$$/stat"
		line=${line##*) }
		line=${line#* }
		if [ "${line%% *}" != "$PPID" ]; then
			echo "$prog: parent $PPID is gone; stopping" >&2
			exit 143
		fi
		# The daemon (apache, nginx) restarts its own workers; if it
		# dies itself, nothing answers behind the front: stop.
		if [ -n "${daemon_pid:-}" ] && ! running "$daemon_pid"; then
			wait "$daemon_pid" && rc=0 || rc=$?
			gone "todos-fcgi daemon (pid $daemon_pid) $(ended "$rc")"
		fi
		for name in redis upstream; do
			[ -n "${slot[$name]:-}" ] || continue
			pid=${pids[slot[$name]]}
			! running "$pid" || continue
			wait "$pid" && rc=0 || rc=$?
			what="$name (pid $pid) $(ended "$rc")"
			((SECONDS - ${restarted[$name]:--10} >= 10)) ||
				gone "$what again within 10 s of its restart"
			restarted[$name]=$SECONDS
			if [ "$name" = redis ]; then
				start_redis ||
					gone "$what; redis-server did not restart (see $RUNDIR/redis.log)"
			else
				port=${UPSTREAM_URL##*:}
				start_upstream "$port" ||
					gone "$what; it did not restart on port $port"
			fi
			echo "$prog: $what; restarted (pid ${pids[slot[$name]]})" >&2
		done
		read -t 0.5 -u 8 || :
	done
	wait "$front"
}
