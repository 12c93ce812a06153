#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kernspan's own CPU per span, end to end: span_loop makes N spans (at a
# fixed rate, or flat out with --rate 0) while `kernspan trace -o FILE -q`
# writes them as JSON Lines. kernspan's utime + stime is read from
# /proc/PID/stat once it has attached (start-up excluded) and again once
# the loop has ended and the ring buffer is drained (the detach excluded);
# the difference over the spans received is its CPU per span. Prints one
# line per round and the medians. Not a test: asserts nothing. Needs root.
#
#   bench/run_consumer.sh [--kernspan BIN] [--rate R] [--iterations N] [--rounds K]
#                         [--out FILE] [-- more kernspan trace options]
#
# Environment: BUILD_DIR (default build) holds bench/span_loop.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
KERNSPAN=$BUILD_DIR/kernspan RATE=300000 ITERATIONS=3000000 ROUNDS=3 OUT=/dev/null
while [ $# -gt 0 ]; do
  case $1 in
  --kernspan) KERNSPAN=$2; shift 2 ;;
  --rate) RATE=$2; shift 2 ;;
  --iterations) ITERATIONS=$2; shift 2 ;;
  --rounds) ROUNDS=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  --) shift; break ;;
  *) sed -n 3,15p "$0" >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "run_consumer.sh: needs root" >&2; exit 1; }
LOOP=$BUILD_DIR/bench/span_loop
D=$(mktemp -d /tmp/ks-consumer.XXXXXX)
trap 'rm -rf "$D"' EXIT
CLK_TCK=$(getconf CLK_TCK)

# utime + stime of process $1 in clock ticks (/proc/PID/stat fields 14, 15).
cpu_ticks() {
  local s
  s=$(cat "/proc/$1/stat")
  awk '{ print $12 + $13 }' <<<"${s##*) }"
}
wait_for() { # file text: 20 s at most
  for _ in $(seq 400); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run_consumer.sh: no '$2' in $1" >&2
  return 1
}

echo "# $(uname -r), $(nproc) CPUs; kernspan: $KERNSPAN; rate ${RATE}/s (0: flat out), $ITERATIONS spans"
echo "# round spans loop_s spans_per_s ks_cpu_s ks_ns_per_span drops"
rows=$D/rows
for r in $(seq "$ROUNDS"); do
  "$LOOP" --iterations "$ITERATIONS" --rate "$RATE" --wait-for-tracer --wait-timeout-ms 30000 \
    --linger-ms 60000 >"$D/loop.out" 2>"$D/loop.err" &
  lpid=$!
  "$KERNSPAN" trace -p "$lpid" -q -o "$OUT" "$@" >"$D/ks.out" 2>"$D/ks.err" &
  kpid=$!
  wait_for "$D/ks.err" attached
  t0=$(cpu_ticks "$kpid")
  wait_for "$D/loop.out" loop_end_ns
  sleep 0.5 # the ring buffer drained
  t1=$(cpu_ticks "$kpid")
  kill -INT "$kpid"
  wait "$kpid" || true
  kill "$lpid" 2>/dev/null || true
  wait "$lpid" 2>/dev/null || true
  spans=$(awk '/^spans: / { print $2; exit }' "$D/ks.out")
  drops=$(grep -ho 'total [0-9]*' "$D/ks.out" | head -1 | awk '{ print $2 }')
  awk -v r="$r" -v s="${spans:-0}" -v d="${drops:-0}" -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" \
    '/^iterations/ { n = $2 } /^ns_per_iter/ { ns = $2 }
     END { secs = n * ns / 1e9; cpu = (b - a) / hz
           printf "%d %d %.2f %.0f %.2f %.0f %d\n", r, s, secs, n / secs, cpu, s ? cpu / s * 1e9 : 0, d }' \
    "$D/loop.out" | tee -a "$rows"
done
med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "median: $(awk '{ print $4 }' "$rows" | med) spans/s," \
  "kernspan $(awk '{ print $6 }' "$rows" | med) ns CPU per span"
