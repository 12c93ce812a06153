#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cost-programs benchmark (issue 3, "Speed"). Needs root; asserts nothing.
#
# Two workloads (bench/costs_load.cpp): two threads on one CPU ping-ponging
# over pipes (ns per context switch) and a getppid() loop (ns per syscall).
# Each runs untraced, under empty programs on the same hooks (the floor:
# kernspan top --bench-floor), under kernspan's cost programs (kernspan top),
# and under the bpftrace equivalents; once as the target and once while the
# tracers watch another process (a sleeping one). Repetitions are interleaved
# and the median of each cell printed, with its difference from the floor.
# bpftrace runs in a private mount namespace with tracefs mounted (its
# tracepoint probes need it; kernspan does not).
#
#   bench/run_costs.sh [REPS]        (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
REPS=${1:-5}
KS=${KERNSPAN:-$BUILD_DIR/kernspan}
LOAD=$BUILD_DIR/bench/costs_load
BPFTRACE=${BPFTRACE:-bpftrace}
N_PP=${N_PP:-200000}
N_SC=${N_SC:-2000000}

[[ $EUID -eq 0 ]] || { echo "run_costs.sh: needs root" >&2; exit 1; }
command -v "$BPFTRACE" >/dev/null || { echo "run_costs.sh: bpftrace not found" >&2; exit 1; }
if [[ ${NO_BUILD:-0} != 1 ]]; then
  cmake --build "$BUILD_DIR" -j2 --target kernspan costs_load >/dev/null
fi

tmp=$(mktemp -d)
sleeper_pid=
cleanup() { [[ -n $sleeper_pid ]] && kill "$sleeper_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
sleep 1000 & sleeper_pid=$!

# run_one WORKLOAD TRACER WHO -> prints ns/event
run_one() {
  local workload=$1 tracer=$2 who=$3 n
  [[ $workload == pingpong ]] && n=$N_PP || n=$N_SC
  "$LOAD" "$workload" "$n" >"$tmp/out" &
  local lp=$!
  local target=$lp
  [[ $who == other ]] && target=$sleeper_pid
  local tp= ready=
  : >"$tmp/tracer"
  case $tracer in
    none) ;;
    floor) "$KS" top -p "$target" --bench-floor -i 3600 >/dev/null 2>"$tmp/tracer" & tp=$!
      ready=watching ;;
    kernspan) "$KS" top -p "$target" -i 3600 >/dev/null 2>"$tmp/tracer" & tp=$!
      ready=watching ;;
    bpftrace)
      # The same events kernspan's programs see, counted per thread.
      # bpftrace's tracepoints need tracefs, which this machine may not
      # mount: mount it in a private mount namespace for bpftrace alone.
      unshare -m sh -c "mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; exec $BPFTRACE -e '
        tracepoint:raw_syscalls:sys_enter /pid == $target/ { @s[tid] = count(); }
        tracepoint:sched:sched_switch /pid == $target/ { @c[tid] = count(); }'" \
        >"$tmp/tracer" 2>&1 & tp=$!
      ready=Attaching ;;
  esac
  # costs_load must block SIGUSR1 before it comes; a tracer must be attached.
  sleep 0.3
  if [[ -n $tp ]]; then
    for ((i = 0; i < 200; i++)); do grep -q "$ready" "$tmp/tracer" && break; sleep 0.05; done
    grep -q "$ready" "$tmp/tracer" || { echo "run_costs.sh: $tracer did not attach" >&2; exit 1; }
    sleep 0.5 # bpftrace prints before its last attach; settle
  fi
  kill -USR1 "$lp"
  wait "$lp"
  # kernspan exits by itself when its target does.
  if [[ -n $tp ]]; then kill -INT "$tp" 2>/dev/null || true; wait "$tp" 2>/dev/null || true; fi
  cat "$tmp/out"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A res
tracers=(none floor kernspan bpftrace)
for w in pingpong getppid; do
  for who in target other; do
    for ((r = 0; r < REPS; r++)); do
      for t in "${tracers[@]}"; do
        [[ $t == none && $who == other ]] && continue
        res[$w.$who.$t]+="$(run_one "$w" "$t" "$who") "
      done
    done
  done
done

echo "kernel $(uname -r), $(nproc) CPUs, $REPS reps (median), $(date -u +%F)"
printf '%-9s %-7s %10s %10s %10s %10s %14s %14s\n' workload process untraced floor kernspan bpftrace \
  "kernspan-floor" "bpftrace-floor"
for w in pingpong getppid; do
  for who in target other; do
    declare -A m=()
    for t in "${tracers[@]}"; do
      key=$w.$who.$t
      [[ $t == none && $who == other ]] && key=$w.target.none
      m[$t]=$(echo "${res[$key]}" | tr ' ' '\n' | grep . | median)
    done
    printf '%-9s %-7s %10.1f %10.1f %10.1f %10.1f %14.1f %14.1f\n' "$w" "$who" "${m[none]}" \
      "${m[floor]}" "${m[kernspan]}" "${m[bpftrace]}" \
      "$(echo "${m[kernspan]} - ${m[floor]}" | bc -l)" "$(echo "${m[bpftrace]} - ${m[floor]}" | bc -l)"
  done
done
echo "(ns per context switch for pingpong, per syscall for getppid; 'other': the"
echo " tracers watch a sleeping process while the workload runs untargeted)"
