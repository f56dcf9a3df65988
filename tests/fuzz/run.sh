#!/bin/sh
# run.sh: runs libFuzzer targets for a while each, one summary line apiece.
#
#   sh tests/fuzz/run.sh OUTDIR SECONDS NAME...
#
# Runs OUTDIR/fuzz_NAME for SECONDS with OUTDIR/corpus/NAME as the corpus it
# writes to and tests/fuzz/corpus/NAME as seeds it only reads (libFuzzer
# adds new inputs to its first corpus directory only).  Crash inputs go to
# OUTDIR/artifacts/NAME-*, each run's output to OUTDIR/logs/NAME.log.
# Every target runs; the exit status is 1 if any of them failed, and the
# end of a failing run's log is printed.
set -u

if [ $# -lt 3 ]; then
	echo "usage: $0 outdir seconds name..." >&2
	exit 2
fi
out=$1
secs=$2
shift 2

: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export UBSAN_OPTIONS

mkdir -p "$out/artifacts" "$out/logs" || exit 1
status=0
for name in "$@"; do
	bin=$out/fuzz_$name
	log=$out/logs/$name.log
	mkdir -p "$out/corpus/$name" || exit 1
	dict=
	if [ -f "tests/fuzz/$name.dict" ]; then
		dict=-dict=tests/fuzz/$name.dict
	fi
	# $dict unquoted: no word when there is no dictionary.
	"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" \
	    $dict "$out/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if [ $rc -eq 0 ]; then
		echo "fuzz_$name: ok, ${execs:-?} execs in ${secs}s" \
		    "(${rate:-?}/s), corpus $(ls "$out/corpus/$name" | wc -l)"
	else
		status=1
		echo "fuzz_$name: FAILED (exit $rc) after ${execs:-?} execs;" \
		    "log $log"
		tail -n 40 "$log" | sed 's/^/    /'
		crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
		if [ -n "$crash" ]; then
			echo "    reproduce: $bin $crash"
		fi
	fi
done
exit $status
