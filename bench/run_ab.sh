#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two kernspan binaries side by side, per span: A and B each trace span_loop
# (kernspan.h's 5-byte NOP sites) and span_loop_nop1 (<sys/sdt.h>'s 1-byte
# NOP), in interleaved rounds with an untraced run of each program, so that
# noise from this shared machine falls on all of them alike. Prints, per
# program, the median (min-max) of the loop thread's CPU ns per BEGIN/END
# pair, what each tracer adds over untraced, and B's added cost over A's.
# Not a test: it asserts nothing. Needs root.
#
#   bench/run_ab.sh A_BINARY B_BINARY [--rounds N] [--iterations N] [-- KERNSPAN ARGS...]
#
# e.g. the previous commit against this one (build the old one elsewhere):
#   bench/run_ab.sh /tmp/old/build/kernspan build/kernspan --rounds 7
# Environment: BUILD_DIR (default build) holds bench/span_loop*.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 3,16p "$0" >&2; exit 2; }
A=$1 B=$2
shift 2
ROUNDS=7 ITER=300000
KS_ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
  --rounds) ROUNDS=$2; shift 2 ;;
  --iterations) ITER=$2; shift 2 ;;
  --) shift; KS_ARGS=("$@"); break ;;
  *) echo "run_ab: unknown argument $1" >&2; exit 2 ;;
  esac
done
BUILD_DIR=${BUILD_DIR:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# One run: program $1 traced by kernspan $2 ("" = untraced); prints the
# loop's CPU ns per pair.
one() {
  local prog=$1 ks=$2 log="$out/ks.log"
  if [ -z "$ks" ]; then
    "$prog" --iterations "$ITER" | awk '$1 == "cpu_ns_per_iter" { print $2 }'
    return
  fi
  "$prog" --iterations "$ITER" --wait-for-tracer --wait-timeout-ms 30000 >"$out/loop.out" \
    2>"$out/loop.err" &
  local pid=$!
  for _ in $(seq 100); do # attach to the program, not to the shell before its exec
    grep -q 'waiting for a tracer' "$out/loop.err" 2>/dev/null && break
    sleep 0.05
  done
  "$ks" trace -p "$pid" -q "${KS_ARGS[@]}" >/dev/null 2>"$log" &
  local kpid=$!
  wait "$pid" || true
  wait "$kpid" || true
  if ! grep -q '^cpu_ns_per_iter' "$out/loop.out"; then
    echo "run_ab: $ks on $prog failed: $(tail -1 "$log")" >&2
    echo nan
    return
  fi
  awk '$1 == "cpu_ns_per_iter" { print $2 }' "$out/loop.out"
}

for r in $(seq "$ROUNDS"); do
  for prog in span_loop span_loop_nop1; do
    p="$BUILD_DIR/bench/$prog"
    echo "$prog untraced $(one "$p" "")"
    echo "$prog A $(one "$p" "$A")"
    echo "$prog B $(one "$p" "$B")"
  done
done >"$out/runs"

python3 - "$out/runs" "$A" "$B" "$ROUNDS" "$ITER" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    prog, who, v = line.split()
    if v != "nan":
        runs.setdefault((prog, who), []).append(float(v))
print(f"# A = {sys.argv[2]}\n# B = {sys.argv[3]}\n# {sys.argv[4]} interleaved rounds of {sys.argv[5]} pairs")
print("| program | untraced ns/pair | A ns/pair | B ns/pair | A adds | B adds | B/A added |")
print("|---|---|---|---|---|---|---|")
for prog in ("span_loop", "span_loop_nop1"):
    med = {w: statistics.median(runs[(prog, w)]) for w in ("untraced", "A", "B")}
    rng = {w: (min(runs[(prog, w)]), max(runs[(prog, w)])) for w in ("untraced", "A", "B")}
    add_a, add_b = med["A"] - med["untraced"], med["B"] - med["untraced"]
    cell = lambda w: f"{med[w]:.0f} ({rng[w][0]:.0f}-{rng[w][1]:.0f})"
    print(f"| {prog} | {cell('untraced')} | {cell('A')} | {cell('B')} | {add_a:.0f} | {add_b:.0f} | {add_b / add_a:.2f}x |")
EOF
