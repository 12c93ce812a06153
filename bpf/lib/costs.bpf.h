/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The thread's cost counters as of now: what the cost programs accumulated,
 * plus the slice in progress (the thread is on CPU while it runs a probe).
 */
#ifndef KERNSPAN_BPF_LIB_COSTS_BPF_H
#define KERNSPAN_BPF_LIB_COSTS_BPF_H

#include "maps.bpf.h"

static __always_inline void ks_costs_now(const struct ks_thread *t, __u64 now, struct ks_costs *out)
{
	*out = t->totals;
	if (t->oncpu_since && now > t->oncpu_since)
		out->cpu_ns += now - t->oncpu_since;
}

#define KS_COST_DELTA(out, end, base, f) (out)->f = (end)->f - (base)->f

static __always_inline void ks_costs_delta(const struct ks_costs *end, const struct ks_costs *base,
					   struct ks_costs *out)
{
	KS_COST_DELTA(out, end, base, cpu_ns);
	KS_COST_DELTA(out, end, base, offcpu_ns);
	KS_COST_DELTA(out, end, base, runq_ns);
	KS_COST_DELTA(out, end, base, io_wait_ns);
	KS_COST_DELTA(out, end, base, sleep_ns);
	KS_COST_DELTA(out, end, base, syscalls);
	KS_COST_DELTA(out, end, base, syscall_ns);
	KS_COST_DELTA(out, end, base, read_bytes);
	KS_COST_DELTA(out, end, base, write_bytes);
	KS_COST_DELTA(out, end, base, net_tx_bytes);
	KS_COST_DELTA(out, end, base, net_rx_bytes);
	KS_COST_DELTA(out, end, base, tcp_retransmits);
	KS_COST_DELTA(out, end, base, minflt);
	KS_COST_DELTA(out, end, base, majflt);
	KS_COST_DELTA(out, end, base, ctxsw_voluntary);
	KS_COST_DELTA(out, end, base, ctxsw_involuntary);
}

#endif /* KERNSPAN_BPF_LIB_COSTS_BPF_H */
