#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The uprobe benchmark: per-call cost of a traced function
# (kernspan trace mode and stats mode, with and without the endbr64 placement
# rule) against the untraced call, libbpf-tools' funclatency and bpftrace's
# uprobe/uretprobe histogram one-liner; and attach/detach time for 1, 100 and
# 1000 uprobes. Needs root. Prints numbers from one run, asserts nothing.
#
#   bench/run_uprobes.sh [CALLS]      (default 200000 calls per case)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
CALLS=${1:-200000}
[[ $EUID -eq 0 ]] || { echo "run_uprobes.sh: needs root" >&2; exit 1; }
if [[ ${NO_BUILD:-0} != 1 ]]; then
  cmake --build "$BUILD_DIR" -j2 --target fn_loop kernspan >/dev/null
fi
KS=$BUILD_DIR/kernspan
LOOP=$(readlink -f "$BUILD_DIR/bench/fn_loop")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

wait_text() { # file text timeout_s
  for _ in $(seq $(($3 * 100))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.01; done
  return 1
}

# One run of fn_loop under a tracer: prints ns per call.
per_call() { # label, then the tracer command with PID for the pid
  local label=$1; shift
  "$LOOP" --calls "$CALLS" >"$TMP/loop" &
  local pid=$!
  wait_text "$TMP/loop" ready 5
  local tracer=-1
  if [[ $# -gt 0 ]]; then
    "${@//PID/$pid}" >"$TMP/tr.out" 2>&1 &
    tracer=$!
    if ! wait_text "$TMP/tr.out" "attached\|Tracing\|Attaching" 30; then
      printf "%-44s did not start: %s\n" "$label" "$(head -c 200 "$TMP/tr.out")"
      kill "$pid" "$tracer" 2>/dev/null || true
      return 0
    fi
    sleep 1 # bpftrace prints before it attaches
  fi
  kill -USR1 "$pid"
  wait "$pid"
  [[ $tracer -lt 0 ]] || { kill -INT "$tracer"; wait "$tracer" || true; }
  printf "%-44s %8s ns/call\n" "$label" "$(awk '/ns_per_call/ {print $2}' "$TMP/loop")"
}

echo "# $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "## per call of bench_target (endbr64; push %rbx; ...), $CALLS calls"
per_call "untraced"
per_call "kernspan trace (entry+4, after endbr64)" "$KS" trace -p PID -q --uprobe fn_loop:bench_target
per_call "kernspan trace --raw-entry (on endbr64)" "$KS" trace -p PID -q --raw-entry --uprobe fn_loop:bench_target
per_call "kernspan --mode stats (entry+4)" "$KS" trace -p PID -q --mode stats --uprobe fn_loop:bench_target
per_call "kernspan --mode stats --raw-entry" "$KS" trace -p PID -q --mode stats --raw-entry --uprobe fn_loop:bench_target
# stdbuf: funclatency's "Tracing" line is block-buffered into a file.
per_call "funclatency (libbpf-tools)" stdbuf -oL /usr/sbin/funclatency -p PID :bench_target
per_call "bpftrace uprobe/uretprobe hist" bpftrace -p PID -e "uprobe:$LOOP:bench_target { @s[tid] = nsecs; } uretprobe:$LOOP:bench_target /@s[tid]/ { @h = hist(nsecs - @s[tid]); delete(@s[tid]); }"

echo "## attach and detach (kernspan: one multi-uprobe link per object and direction)"
for n in 1 100 1000; do
  case $n in
    1) pat='fn_0000' ;;
    100) pat='fn_00[0-9][0-9]' ;;
    1000) pat='fn_[0-9][0-9][0-9][0-9]' ;;
  esac
  "$LOOP" --idle >"$TMP/loop" &
  pid=$!
  wait_text "$TMP/loop" ready 5
  start=$(date +%s%N)
  "$KS" -v trace -p "$pid" -q -d 1 --uprobe "fn_loop:$pat" >/dev/null 2>"$TMP/ks.err"
  total_ms=$((($(date +%s%N) - start) / 1000000 - 1000))
  kill "$pid"; wait "$pid" 2>/dev/null || true
  attach=$(grep -o 'attach took [0-9.]* ms' "$TMP/ks.err" | awk '{print $3}')
  detach=$(grep -o 'detached in [0-9.]* ms' "$TMP/ks.err" | awk '{print $3}')
  printf "%5d functions (%5d uprobes): attach %8s ms, detach %8s ms, whole run minus -d: %6d ms\n" \
    "$n" $((2 * n)) "$attach" "$detach" "$total_ms"
done
echo "## bpftrace, for reference (one perf-event uprobe each, detached one by one)"
for n in 1 100; do
  case $n in 1) pat='fn_0000' ;; 100) pat='fn_00*' ;; esac # bpftrace: '*' globs only
  "$LOOP" --idle >"$TMP/loop" &
  pid=$!
  wait_text "$TMP/loop" ready 5
  bpftrace -p "$pid" -e "uprobe:$LOOP:$pat { @n = count(); } interval:s:1 { exit(); }" \
    >"$TMP/bt.out" 2>&1 &
  bt=$!
  wait_text "$TMP/bt.out" "Attaching" 30
  start=$(date +%s%N)
  wait "$bt" || true
  printf "%5d uprobes: bpftrace from 'Attaching' to exit (includes its 1 s interval): %6d ms\n" \
    "$n" $((($(date +%s%N) - start) / 1000000))
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
