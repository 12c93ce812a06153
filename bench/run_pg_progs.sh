#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What each of kernspan's BPF programs costs per run under PostgreSQL 15 and
# pgbench -S (the workload of run_pg.sh): for each kernspan binary given, one
# `kernspan trace` of the queries (costs on) during a pgbench run with
# kernel.bpf_stats_enabled=1, then the kernel's run_time_ns / run_cnt of
# each of its programs (ns per run) and runs per query. The kernel's own
# figures, free of the wall-clock noise of a shared machine. Rounds
# alternate between the binaries; the median of each cell is printed.
# Not a test: asserts nothing. Needs root and PostgreSQL 15 (run_pg.sh
# installs it).
#
#   bench/run_pg_progs.sh [--rounds N] [--seconds T] KERNSPAN...
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 SECONDS_PER=5 CLIENTS=2 SCALE=10
bins=()
while [ $# -gt 0 ]; do
  case $1 in
  --rounds) ROUNDS=$2; shift 2 ;;
  --seconds) SECONDS_PER=$2; shift 2 ;;
  -*) sed -n 3,13p "$0" >&2; exit 2 ;;
  *) bins+=("$(readlink -f "$1")"); shift ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || bins=("$(readlink -f build/kernspan)")
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
# shellcheck source=bench/pg_cluster.sh
. bench/pg_cluster.sh
pg_cluster_on_exit sysctl -qw kernel.bpf_stats_enabled="$stats_was"

SPAN='postgresql:query__start..postgresql:query__done,name=query'
for r in $(seq "$ROUNDS"); do
  for i in "${!bins[@]}"; do
    log=$D/ks.log
    "${bins[$i]}" trace --binary "$PG" --span "$SPAN" -o "$D/q.jsonl" -q >"$D/ks.out" 2>"$log" &
    pid=$!
    for _ in $(seq 100); do grep -q attached "$log" && break; sleep 0.1; done
    sysctl -qw kernel.bpf_stats_enabled=1
    # Counters from here: the programs' totals before the run are subtracted.
    # Its programs: those its descriptors (programs, links) refer to.
    grep -h '^prog_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u >"$D/ids"
    bpftool prog show -j >"$D/before.json"
    as_pg pgbench -h "$D" -S -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER" postgres >"$D/pgb.out" 2>&1
    bpftool prog show -j >"$D/after.json"
    sysctl -qw kernel.bpf_stats_enabled="$stats_was"
    kill -INT "$pid"
    wait "$pid" || true
    tx=$(awk '/number of transactions actually processed/ { print $NF }' "$D/pgb.out")
    python3 - "$D/before.json" "$D/after.json" "$D/ids" "$i" "$tx" >>"$D/rows" <<'EOF'
import json, sys
before = {p["id"]: p for p in json.load(open(sys.argv[1]))}
ids = {int(x) for x in open(sys.argv[3]).read().split()}
for p in json.load(open(sys.argv[2])):
    if p["id"] not in ids:
        continue
    b = before.get(p["id"], {})
    n = p.get("run_cnt", 0) - b.get("run_cnt", 0)
    t = p.get("run_time_ns", 0) - b.get("run_time_ns", 0)
    if n > 0:
        print(sys.argv[4], p["name"], n, t, sys.argv[5])
EOF
  done
  echo "run_pg_progs: round $r of $ROUNDS done" >&2
done

python3 - "$D/rows" "${bins[@]}" <<'EOF'
import statistics, sys
cells = {}
for line in open(sys.argv[1]):
    b, name, n, t, tx = line.split()
    cells.setdefault((name, int(b)), []).append((int(n), int(t), int(tx)))
bins = sys.argv[2:]
for i, b in enumerate(bins):
    print(f"# {chr(65 + i)}: {b}")
print("| program | " + " | ".join(f"{chr(65 + i)} ns/run | {chr(65 + i)} runs/query"
                                   for i in range(len(bins))) + " |")
print("|---|" + "---|---|" * len(bins))
for name in sorted({k[0] for k in cells}):
    row = []
    for i in range(len(bins)):
        rs = cells.get((name, i), [])
        if not rs:
            row += ["-", "-"]
            continue
        row.append(f"{statistics.median(t / n for n, t, _ in rs):.0f}")
        row.append(f"{statistics.median(n / tx for n, _, tx in rs if tx):.2f}")
    print(f"| {name} | " + " | ".join(row) + " |")
EOF
