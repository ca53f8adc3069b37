#!/usr/bin/env bash
# Runs every measurement in sequence, each bounded by `timeout`, results in results/*.json.
# Usage: bench/concreteml/run_all.sh [deadline-unix-time] [run-name ...]  (no names: all runs)
set -u
here="$(cd "$(dirname "$0")" && pwd)"
py="${VENV:-/work/venv-cml}/bin/python"
dl="${1:-0}"
shift || true
only=" $* "
mkdir -p "$here/results" "$here/logs"
one() { # name timeout-seconds args...
	local name="$1" t="$2"; shift 2
	if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then return; fi
	echo "== $name $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
	timeout "$t" "$py" "$here/run.py" --deadline "$dl" --out "$here/results/$name.json" "$@" \
		>"$here/logs/$name.log" 2>&1
	echo "   rc=$? $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
}
one simplenet-default 1200 --model simplenet --rounding none --rows 5 --batch 10
one simplenet-r6 900 --model simplenet --rounding 6 --rows 5 --batch 10
one simplenet-r6approx 900 --model simplenet --rounding 6approx --rows 5 --batch 10
one mlp_demo-default 900 --model mlp_demo --rounding none --rows 5 --batch 10
one mlp_demo-r6 900 --model mlp_demo --rounding 6 --rows 5 --batch 10
one cnn-r6 1800 --model cnn --rounding 6 --rows 3 --batch 3
# The default-config CNN needs about 17 GB of memory (keys 9.5 GB, plus their Fourier form at run
# time) and 7 min of key generation; no batch run (Concrete ML loops sample by sample anyway).
one cnn-default 2700 --model cnn --rounding none --rows 3 --batch 0
# A second SimpleNet default run, later in the session, to show the spread under a different load.
one simplenet-default-rerun 900 --model simplenet --rounding none --rows 5 --batch 10
