#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real software at full rate: PostgreSQL 15 under pgbench -S, each query a
# span from PostgreSQL's own USDT probes (query__start .. query__done).
# A throw-away cluster on a unix socket (no TCP), then interleaved rounds of
#   untraced | bpftrace count | bpftrace hist | kernspan trace (costs on, the
#   default) | kernspan --no-costs | kernspan --mode stats [| name=sql(arg0)]
# printing per configuration the median TPS (min-max), the ratio to
# untraced, and for kernspan its CPU per span (its utime + stime from
# /proc/PID/stat over the pgbench run only, start-up excluded), spans,
# drops and peak RSS.
# Not a test: asserts nothing. Needs root; installs PostgreSQL 15 if missing.
#
#   bench/run_pg.sh [--rounds N] [--seconds T] [--clients C] [--scale S]
#
# Environment: KERNSPAN (default build/kernspan), BPFTRACE (bpftrace),
# KERNSPAN_B (a second kernspan, e.g. main's: its rows, marked B, are
# interleaved with the first one's).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=5 SECONDS_PER=10 CLIENTS=2 SCALE=10
while [ $# -gt 0 ]; do
  case $1 in
  --rounds) ROUNDS=$2; shift 2 ;;
  --seconds) SECONDS_PER=$2; shift 2 ;;
  --clients) CLIENTS=$2; shift 2 ;;
  --scale) SCALE=$2; shift 2 ;;
  *) sed -n 3,17p "$0" >&2; exit 2 ;;
  esac
done
KERNSPAN=$(readlink -f "${KERNSPAN:-build/kernspan}")
BPFTRACE=${BPFTRACE:-bpftrace}
# shellcheck source=bench/pg_cluster.sh
. bench/pg_cluster.sh

SPAN='postgresql:query__start..postgresql:query__done'
BT_COUNT="usdt:$PG:postgresql:query__start { @n = count(); }"
BT_HIST="usdt:$PG:postgresql:query__start { @s[tid] = nsecs; }
usdt:$PG:postgresql:query__done /@s[tid]/ { @h = hist(nsecs - @s[tid]); delete(@s[tid]); }"
configs=(untraced bt_count bt_hist ks_trace ks_nocosts ks_stats)
if "$KERNSPAN" trace --help 2>/dev/null | grep -q 'sql('; then
  configs+=(ks_sql)
fi
KERNSPAN_B=${KERNSPAN_B:+$(readlink -f "$KERNSPAN_B")}
[ -z "$KERNSPAN_B" ] || configs+=(B_ks_trace B_ks_nocosts B_ks_stats)

pgbench_tps() {
  as_pg pgbench -h "$D" -S -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER" postgres 2>/dev/null |
    awk '/^tps = / { print $3; exit }'
}

# Waits until file $1 contains $2 (10 s at most).
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# utime + stime of process $1 so far, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the parenthesized comm).
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  awk '{ print $12 + $13 }' <<<"${s##*) }"
}

run_one() { # config -> "tps [ks_cpu_s spans drops rss_kb]"
  local c=$1 log=$D/tracer.log tm=$D/time.txt ks=$KERNSPAN
  case $c in B_*) ks=$KERNSPAN_B c=${c#B_} ;; esac
  : >"$log"
  case $c in
  untraced)
    pgbench_tps
    return ;;
  bt_count | bt_hist)
    local prog=$BT_COUNT
    [ "$c" = bt_hist ] && prog=$BT_HIST
    "$BPFTRACE" -e "$prog" >"$log" 2>&1 &
    local pid=$!
    wait_for "$log" Attaching
    sleep 2 # bpftrace says "Attaching" before it attaches
    pgbench_tps
    kill -INT "$pid"
    wait "$pid" || true
    return ;;
  esac
  local args=(trace --binary "$PG" --span "$SPAN,name=query")
  case $c in
  ks_trace) args+=(-o "$D/q.jsonl") ;;
  ks_nocosts) args+=(--no-costs -o "$D/q.jsonl") ;;
  ks_stats) args+=(--mode stats) ;;
  ks_sql) args=(trace --binary "$PG" --span "$SPAN,name=sql(arg0)" -o "$D/q.jsonl") ;;
  esac
  /usr/bin/time -f "%M" -o "$tm" "$ks" "${args[@]}" -q >"$D/ks.out" 2>"$log" &
  local pid=$!
  wait_for "$log" attached
  # kernspan (either binary, whatever its file is called) is time's only
  # child (its own fork for the fast detach comes later, at the stop, and
  # is time's grandchild).
  local kpid
  kpid=$(pgrep -P "$pid" | head -1 || true)
  kpid=${kpid:-$pid}
  # Its CPU while pgbench runs only: start-up (BTF, verification, attach)
  # and the detach are not the spans' cost.
  local t0 t1 tps
  t0=$(cpu_ticks "$kpid")
  tps=$(pgbench_tps)
  t1=$(cpu_ticks "$kpid")
  kill -INT "$kpid" 2>/dev/null || true
  wait "$pid" || true
  local spans drops
  spans=$(awk '/^spans: / { print $2 }' "$log" "$D/ks.out" | head -1)
  drops=$(grep -ho 'total [0-9]*' "$log" "$D/ks.out" | head -1 | awk '{ print $2 }')
  echo "$tps $(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }') \
${spans:-0} ${drops:-0} $(cat "$tm")"
  rm -f "$D/q.jsonl"
}

results=$D/results
for r in $(seq "$ROUNDS"); do
  for c in "${configs[@]}"; do
    echo "$c $(run_one "$c")" >>"$results"
  done
  echo "run_pg: round $r of $ROUNDS done" >&2
done

python3 - "$results" "$ROUNDS" "$SECONDS_PER" "$CLIENTS" "$SCALE" "$KERNSPAN" "$KERNSPAN_B" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 2 and f[1] not in ("", "0"):
        rows.setdefault(f[0], []).append(f[1:])
print(f"# pgbench -S -c {sys.argv[4]} -j {sys.argv[4]} -T {sys.argv[3]}, scale {sys.argv[5]}, "
      f"{sys.argv[2]} interleaved rounds; kernspan: {sys.argv[6]}"
      + (f", B: {sys.argv[7]}" if sys.argv[7] else ""))
print("| configuration | TPS median (min-max) | vs untraced | kernspan CPU/span | spans/run | drops | peak RSS |")
print("|---|---|---|---|---|---|---|")
base = statistics.median(float(r[0]) for r in rows["untraced"])
names = {"untraced": "untraced", "bt_count": "bpftrace count", "bt_hist": "bpftrace hist",
         "ks_trace": "kernspan trace (costs)", "ks_nocosts": "kernspan --no-costs",
         "ks_stats": "kernspan --mode stats", "ks_sql": "kernspan name=sql(arg0)"}
for c, rs in rows.items():
    tps = [float(r[0]) for r in rs]
    med = statistics.median(tps)
    extra = ["", "", "", ""]
    if "ks_" in c and all(len(r) >= 5 for r in rs):
        cpu = statistics.median(float(r[1]) for r in rs)
        spans = statistics.median(float(r[2]) for r in rs)
        drops = max(int(r[3]) for r in rs)
        rss = max(int(r[4]) for r in rs)
        extra = [f"{cpu / spans * 1e6:.2f} us" if spans else "-", f"{spans:.0f}", str(drops),
                 f"{rss / 1024:.0f} MiB"]
    name = names.get(c.removeprefix("B_"), c) + (" (B)" if c.startswith("B_") else "")
    print(f"| {name} | {med:.0f} ({min(tps):.0f}-{max(tps):.0f}) | {med / base:.3f} | "
          + " | ".join(extra) + " |")
EOF
