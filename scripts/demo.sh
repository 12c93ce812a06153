#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what is missing, build, start the bundled example service and
# trace it with kernspan for a few seconds: spans live, then the summary.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
BUILD_DIR=build scripts/build.sh >/dev/null

SECONDS_TO_TRACE=${DEMO_SECONDS:-5}
./build/examples/demo_service --requests 0 --rate 20 --threads 2 >/tmp/kernspan-demo.out 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null || true' EXIT
sleep 0.2
echo "demo_service running as PID $demo; tracing it for ${SECONDS_TO_TRACE}s:"
echo "  ./build/kernspan trace -p $demo -d $SECONDS_TO_TRACE -o /tmp/kernspan-demo.jsonl"
./build/kernspan trace -p "$demo" -d "$SECONDS_TO_TRACE" -o /tmp/kernspan-demo.jsonl
echo
echo "spans as JSON Lines: /tmp/kernspan-demo.jsonl ($(wc -l </tmp/kernspan-demo.jsonl) spans)"
