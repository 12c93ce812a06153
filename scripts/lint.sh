#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# clang-format must have nothing to change in our sources.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c' 2>/dev/null | grep -v '^bpf/vmlinux' || true)
[ -n "$files" ] || exit 0
bad=$(clang-format --dry-run $files 2>&1 | grep -c 'warning:' || true)
if [ "$bad" != "0" ]; then
  clang-format --dry-run $files 2>&1 | grep 'warning:' | cut -d: -f1 | sort -u >&2
  echo "lint: $bad clang-format differences in the files above; run: clang-format -i <file>" >&2
  exit 1
fi
echo "lint: clang-format clean"
