#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The suite where it is hard to pass: in a clone of the committed HEAD under
# a path of 120 characters, with a CPU hog on every CPU, run N times
# (default 10), each run reported pass or fail. Tests that depend on the
# checkout's path, on an idle machine or on lucky timing fail here.
#
#   scripts/check-hard.sh [-n N] [-k] [-- COMMAND...]
#     -n N     runs (default 10)
#     -k       keep the clone (it is removed at the end otherwise)
#     COMMAND  what to run in the clone (default: bash .ci/run)
#
# Each run's output goes to a log file named in its line. The build trees
# stay in the clone between runs, so runs after the first build little.
# Exit status: 0 if every run passed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=10
keep=0
while getopts "n:kh" opt; do
  case $opt in
    n) runs=$OPTARG ;;
    k) keep=1 ;;
    *)
      sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
      [[ $opt == h ]] && exit 0 || exit 2
      ;;
  esac
done
shift $((OPTIND - 1))
[[ ${1:-} == -- ]] && shift
cmd=("$@")
[[ ${#cmd[@]} -gt 0 ]] || cmd=(bash .ci/run)
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "check-hard: -n wants a positive number" >&2; exit 2; }

repo=$(pwd)
head=$(git rev-parse HEAD)
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
  echo "check-hard: uncommitted changes are not tested: only HEAD ${head:0:12} is" >&2
fi

# A checkout path of exactly 120 characters.
base=$(mktemp -d /tmp/ks-hard.XXXXXX)
leaf=/kernspan
pad=$((120 - ${#base} - ${#leaf} - 1))
filler=""
while ((${#filler} < pad)); do filler+="a-long-checkout-path-"; done
dir=$base/${filler:0:pad}$leaf
logs=$base/logs
mkdir -p "$logs"

hogs=()
cleanup() {
  local pid
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${hogs[@]}" 2>/dev/null || true
  if [[ $keep == 0 ]]; then
    rm -rf "${base:?}/${filler:0:pad}"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

git clone --quiet --no-hardlinks "$repo" "$dir"
git -C "$dir" checkout --quiet --detach "$head"
echo "check-hard: HEAD ${head:0:12} in $dir (${#dir} characters)"

# One hog per CPU, pinned where taskset exists; each ends by itself after a
# day should this script be killed without its trap.
ncpu=$(nproc)
for ((c = 0; c < ncpu; c++)); do
  if command -v taskset >/dev/null; then
    taskset -c "$c" timeout 1d yes >/dev/null &
  else
    timeout 1d yes >/dev/null &
  fi
  hogs+=($!)
done
echo "check-hard: $ncpu CPU hogs running; ${runs} runs of: ${cmd[*]}"

passed=0
for ((i = 1; i <= runs; i++)); do
  log=$logs/run-$i.log
  t0=$SECONDS
  if (cd "$dir" && "${cmd[@]}") >"$log" 2>&1; then
    result=PASS
    passed=$((passed + 1))
  else
    result=FAIL
  fi
  failed=$(grep -E '^\s*[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted)' "$log" |
    sed -E 's/^\s*[0-9]+ - //' | tr '\n' ' ' || true)
  printf 'run %d/%d: %s in %ds  %s%s\n' "$i" "$runs" "$result" $((SECONDS - t0)) "$log" \
    "${failed:+  failed: $failed}"
done
echo "check-hard: $passed/$runs runs passed (logs in $logs)"
[[ $passed == "$runs" ]]
