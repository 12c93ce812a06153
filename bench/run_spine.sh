#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The spine benchmark: per-span cost of kernspan against
# the floor (two empty BPF programs) and bpftrace, 5-byte vs 1-byte NOP probe
# sites, attach and exit latency, peak RSS. Needs root. Not a test: it prints
# numbers and ratios from one run and asserts nothing.
#
#   bench/run_spine.sh [spine_bench options]   e.g. --reps 9 --iterations 300000
#
# Environment: BUILD_DIR (default build) is configured and built unless
# NO_BUILD=1; KERNSPAN overrides the kernspan binary (default
# $BUILD_DIR/kernspan); BPFTRACE the bpftrace binary.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

if [[ $EUID -ne 0 ]]; then
  echo "run_spine.sh: needs root (sudo $0 $*)" >&2
  exit 1
fi
command -v "${BPFTRACE:-bpftrace}" >/dev/null ||
  { echo "run_spine.sh: bpftrace not found (apt-get install bpftrace)" >&2; exit 1; }

if [[ ${NO_BUILD:-0} != 1 ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DKERNSPAN_BUILD_BENCH=ON >/dev/null
  targets=(span_loop span_loop_nop1 spine_bench)
  [[ -n ${KERNSPAN:-} ]] || targets+=(kernspan)
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${targets[@]}"
fi

KERNSPAN=${KERNSPAN:-$BUILD_DIR/kernspan}
echo "# $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# $("${BPFTRACE:-bpftrace}" --version), kernspan: $KERNSPAN"
exec "$BUILD_DIR/bench/spine_bench" --bindir "$BUILD_DIR/bench" --kernspan "$KERNSPAN" \
  --bpftrace "${BPFTRACE:-bpftrace}" "$@"
