# SPDX-License-Identifier: Apache-2.0
# Target for --span on Debian's python3.11 (its own USDT probes
# python:function__entry/function__return). Counts its own calls, prints
# "ready", waits for SIGUSR1, then calls work() N times (each calls helper()
# twice) and writes the counts as JSON.
import json
import signal
import sys

calls = {"work": 0, "helper": 0}


def helper(x):
    calls["helper"] += 1
    return x * 2


def work(i):
    calls["work"] += 1
    return helper(i) + helper(i + 1)


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("ready", flush=True)
signal.sigwait({signal.SIGUSR1})
total = 0
for i in range(int(sys.argv[1])):
    total += work(i)
with open(sys.argv[2], "w") as f:
    json.dump(calls, f)
