#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cost-programs benchmark. Needs root; asserts nothing.
#
# Two workloads (bench/costs_load.cpp): two threads on one CPU ping-ponging
# over pipes (ns per context switch) and a getppid() loop (ns per syscall).
# "pingsched" is pingpong with only the scheduler hooks loaded, in the floor
# and in kernspan (hidden --bench-sched-only) and for bpftrace (sched_switch
# alone): the price of a context switch without the syscall programs.
# Each runs untraced, under empty programs on the same hooks (the floor:
# kernspan top --bench-floor), under kernspan's cost programs (kernspan top),
# and under the bpftrace equivalents; once as the target and once while the
# tracers watch another process (a sleeping one). Repetitions are interleaved
# and the median of each cell printed, with its difference from the floor.
# bpftrace runs in a private mount namespace with tracefs mounted (its
# tracepoint probes need it; kernspan does not).
#
# Then, with kernel.bpf_stats_enabled=1, the kernel's own run_time_ns /
# run_cnt of each kernspan program over one second of each workload (ns per
# program run, without the wall-clock noise of a shared machine).
#
#   bench/run_costs.sh [REPS]        (default 5)
#   STATS_ONLY=1 bench/run_costs.sh  (the BPF stats part alone)
#   WORKLOADS="pingsched getppid" bench/run_costs.sh   (a subset)
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
  local workload=$1 tracer=$2 who=$3 n load=$1 only=() sys=1
  [[ $workload == getppid ]] && n=$N_SC || n=$N_PP
  if [[ $workload == pingsched ]]; then load=pingpong only=(--bench-sched-only) sys=0; fi
  "$LOAD" "$load" "$n" >"$tmp/out" &
  local lp=$!
  local target=$lp
  [[ $who == other ]] && target=$sleeper_pid
  local tp= ready=
  : >"$tmp/tracer"
  case $tracer in
    none) ;;
    floor) "$KS" top -p "$target" --bench-floor "${only[@]}" -i 3600 >/dev/null 2>"$tmp/tracer" &
      tp=$! ready=watching ;;
    kernspan) "$KS" top -p "$target" "${only[@]}" -i 3600 >/dev/null 2>"$tmp/tracer" & tp=$!
      ready=watching ;;
    bpftrace)
      # The same events kernspan's programs see, counted per thread.
      # bpftrace's tracepoints need tracefs, which this machine may not
      # mount: mount it in a private mount namespace for bpftrace alone.
      local sysprobe=
      ((sys)) && sysprobe="tracepoint:raw_syscalls:sys_enter /pid == $target/ { @s[tid] = count(); }"
      unshare -m sh -c "mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; exec $BPFTRACE -e '
        $sysprobe
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
read -ra workloads <<<"${WORKLOADS:-pingpong pingsched getppid}"
if [[ ${STATS_ONLY:-0} != 1 ]]; then
for w in "${workloads[@]}"; do
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
for w in "${workloads[@]}"; do
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
echo "(ns per context switch for pingpong and pingsched, per syscall for getppid;"
echo " 'other': the tracers watch a sleeping process while the workload runs untargeted)"
fi

# ns per program run from the kernel's BPF stats: kernspan's programs (and
# the floor's), one second into each workload, as the target and not.
prog_stats() { # WORKLOAD TRACER WHO
  local workload=$1 tracer=$2 who=$3 load=$1 flags=()
  [[ $workload == pingsched ]] && load=pingpong flags+=(--bench-sched-only)
  [[ $tracer == floor ]] && flags+=(--bench-floor)
  local n=$((N_PP * 10))
  [[ $load == getppid ]] && n=$((N_SC * 10))
  "$LOAD" "$load" "$n" >/dev/null &
  local lp=$! target
  target=$lp
  [[ $who == other ]] && target=$sleeper_pid
  "$KS" top -p "$target" "${flags[@]}" -i 3600 >/dev/null 2>"$tmp/tracer" &
  local tp=$!
  sleep 0.3
  for ((i = 0; i < 200; i++)); do grep -q watching "$tmp/tracer" && break; sleep 0.05; done
  grep -q watching "$tmp/tracer" || { echo "run_costs.sh: kernspan did not attach" >&2; exit 1; }
  # Ours: the programs whose fds kernspan holds (other tracers may run).
  cat /proc/"$tp"/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {print $2}' | sort -u >"$tmp/ids"
  kill -USR1 "$lp"
  sleep 0.5
  bpftool prog show -j >"$tmp/s0"
  sleep 1
  bpftool prog show -j >"$tmp/s1"
  kill "$lp" 2>/dev/null || true
  wait "$lp" 2>/dev/null || true
  kill -INT "$tp" 2>/dev/null || true
  wait "$tp" 2>/dev/null || true
  python3 - "$tmp/s0" "$tmp/s1" "$tmp/ids" "$workload" "$tracer" "$who" <<'PY'
import json, sys
ours = {int(x) for x in open(sys.argv[3]).read().split()}
def load(path):
    out = {}
    for p in json.load(open(path)):
        if p["id"] in ours:
            out[p["name"]] = (p.get("run_time_ns", 0), p.get("run_cnt", 0))
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
for name in sorted(b):
    t0, c0 = a.get(name, (0, 0))
    t1, c1 = b[name]
    if c1 > c0:
        print(f"{sys.argv[4]:<9} {sys.argv[5]:<8} {sys.argv[6]:<6} {name:<16} {c1 - c0:>10} "
              f"{(t1 - t0) / (c1 - c0):8.1f}")
PY
}

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1
echo
echo "BPF stats, one second of each workload (kernel.bpf_stats_enabled=1):"
printf '%-9s %-8s %-6s %-16s %10s %8s\n' workload tracer who program runs ns/run
for w in "${workloads[@]}"; do
  for who in target other; do
    for t in floor kernspan; do prog_stats "$w" "$t" "$who"; done
  done
done
sysctl -q kernel.bpf_stats_enabled="$old_stats"
