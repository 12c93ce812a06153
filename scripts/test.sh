#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what is missing, build, and run every test through ctest.
# As root the BPF integration tests run for real; they never skip there.
# A second build with AddressSanitizer and UBSan runs the unit tests and the
# integration tests too (KERNSPAN_SKIP_SANITIZE=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/lint.sh
# The OpenTelemetry JS decoder the OTLP tests check our bodies with, pinned
# by its package-lock.json.
(cd tests/otlp-decoder && npm ci --no-audit --no-fund --loglevel=error)
# Independent readers of other outputs: Chrome traces, and Zipkin v2 JSON
# through the zipkin package's own span model.
(cd tests/checks && npm ci --no-audit --no-fund --loglevel=error)

BUILD_DIR=build scripts/build.sh
BUILD_DIR=build scripts/tidy.sh
(cd build && ctest --output-on-failure --timeout 300 -j1)
# The .deb as a packager builds it (build type None, dpkg-buildflags,
# prefix /usr): its dependencies, dpkg's consent, the packaged binary at work.
tests/deploy/check.sh deb
# libFuzzer targets (clang): each parser of outside input for FUZZ_SECONDS.
FUZZ_SECONDS=${FUZZ_SECONDS:-30} scripts/fuzz.sh

if [ "${KERNSPAN_SKIP_SANITIZE:-0}" != "1" ]; then
  BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DKERNSPAN_SANITIZE=ON \
    -DKERNSPAN_BUILD_BENCH=OFF
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure --timeout 300 -j1)
fi
