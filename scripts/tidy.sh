#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# clang-tidy over our C++ (.clang-tidy: warnings are errors), using the
# compile database of ${BUILD_DIR:-build}. The generated skeleton is C that
# uses _Bool; clang-tidy parses it as C++, hence the define. GCC-only
# attributes (noipa, for benchmark and test targets) are not clang's.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
files=$(git ls-files 'userspace/*.cpp' 'exporters/*.cpp' 'tests/*.cpp' 'examples/*.cpp' 'bench/*.cpp')
out=$(echo "$files" | xargs -P"$(nproc)" -n4 clang-tidy -p "$BUILD_DIR" --quiet \
  --extra-arg=-D_Bool=bool --extra-arg=-Wno-unknown-attributes 2>/dev/null | grep -E "(warning|error):" | sort -u || true)
if [ -n "$out" ]; then
  echo "$out" >&2
  echo "tidy: $(echo "$out" | wc -l) clang-tidy findings above" >&2
  exit 1
fi
echo "tidy: clang-tidy clean"
