#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kernspan's start-up alone, by its own "attached ... in X ms" line: N starts
# against one waiting span_loop (paced, so it lives through all of them),
# A/B interleaved when a second set of arguments is given. Needs root;
# asserts nothing. The spine benchmark (run_spine.sh) times the same from the
# target's side, against bpftrace.
#
#   bench/run_attach.sh [-n N] [-- ARGS_A [-- ARGS_B]]
#   e.g. bench/run_attach.sh -n 9 -- --no-costs -- (costs off, then on)
#
# Environment: BUILD_DIR (default build); PRELOAD: libraries to LD_PRELOAD
# into the target (a process with many mapped objects).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
n=9
if [[ ${1:-} == -n ]]; then
  n=$2
  shift 2
fi
[[ ${1:-} == -- ]] && shift
a=()
b=()
two=0
for arg in "$@"; do
  if [[ $arg == -- && $two == 0 ]]; then
    two=1
  elif [[ $two == 0 ]]; then
    a+=("$arg")
  else
    b+=("$arg")
  fi
done
if [[ $EUID -ne 0 ]]; then
  echo "run_attach.sh: needs root (sudo $0 $*)" >&2
  exit 1
fi
LD_PRELOAD=${PRELOAD:-} "$BUILD_DIR/bench/span_loop" --iterations 1000000000 --rate 1000 \
  >/dev/null &
target=$!
trap 'kill $target 2>/dev/null || true' EXIT
sleep 0.5
echo "# target PID $target, $(awk '$2 ~ /x/ {print $6}' /proc/$target/maps | sort -u | grep -c .) mapped executable objects"
once() {
  "$BUILD_DIR/kernspan" trace -p "$target" -d 0.05 -q "$@" 2>&1 >/dev/null |
    grep -o 'in [0-9.]* ms' | grep -o '[0-9.]*' || echo nan
}
ta=()
tb=()
for ((i = 0; i < n; i++)); do
  ta+=("$(once "${a[@]}")")
  if [[ $two == 1 ]]; then
    tb+=("$(once "${b[@]}")")
  fi
done
report() {
  local label=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v l="$label" '{v[NR] = $1} END {
    printf "%-24s median %6.1f ms  min %6.1f  max %6.1f  (n=%d)\n", l, v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}
report "A: ${a[*]:-(defaults)}" "${ta[@]}"
if [[ $two == 1 ]]; then
  report "B: ${b[*]:-(defaults)}" "${tb[@]}"
fi
