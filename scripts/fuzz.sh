#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer targets (clang, ASan + UBSan) into build-fuzz/ and run
# each for FUZZ_SECONDS (30) from its seed corpus in tests/fuzz/corpus/
# (plus, for the ELF readers, a few real binaries of this machine). New
# inputs go to a temporary folder; a crash leaves its input in
# build-fuzz/artifacts/ and fails the script. Fix it, and add the input to
# the seed corpus as a regression test.
#   scripts/fuzz.sh [TARGET...]    targets: proc_maps span_spec config records
#                                  x86_nop usdt_notes elf_functions
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-30}
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(proc_maps span_spec config records x86_nop usdt_notes elf_functions)
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKERNSPAN_FUZZ=ON -DKERNSPAN_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target fuzz_all
mkdir -p "$BUILD_DIR/artifacts"
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  case $t in
  usdt_notes | elf_functions)
    for f in /usr/bin/true; do
      [ -f "$f" ] && cp "$f" "$work/" || true
    done ;;
  esac
  seeds=()
  [ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
  log=$(mktemp)
  if ! "$BUILD_DIR/tests/fuzz/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD_DIR/artifacts/$t-" -print_final_stats=1 \
    "$work" "${seeds[@]}" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz: $t FAILED (input in $BUILD_DIR/artifacts/)" >&2
    rm -rf "$work" "$log"
    exit 1
  fi
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  echo "fuzz: $t clean, ${runs:-?} runs in ${SECS} s"
  rm -rf "$work" "$log"
done
