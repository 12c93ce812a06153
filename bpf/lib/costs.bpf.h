/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-thread cost accounting shared by costs.bpf.c (which keeps the running
 * counters) and spans.bpf.c (which snapshots them at a span's begin and end).
 */
#ifndef KERNSPAN_BPF_LIB_COSTS_BPF_H
#define KERNSPAN_BPF_LIB_COSTS_BPF_H

#include "maps.bpf.h"

/*
 * The kernel's own run-queue wait of a task so far (sched_info.run_delay,
 * ns): every wait between being queued runnable (woken, created, or
 * preempted) and getting a CPU, added when it gets the CPU. 0 on kernels
 * built without CONFIG_SCHED_INFO: there all off-CPU time after a block
 * stays in sleep/io_wait.
 */
static __always_inline __u64 ks_run_delay(struct task_struct *task)
{
	if (!bpf_core_field_exists(task->sched_info))
		return 0;
	return task->sched_info.run_delay; /* a BTF pointer: a plain load */
}

/*
 * Add the off-CPU piece that began at offcpu_since and ended at `end` to
 * `c`, split: the part the kernel counted as run-queue wait (`rd_in`, the
 * thread's run_delay including this piece's wait, minus `rd_out`, its
 * run_delay when the piece began) is runq; the rest goes to the bucket of
 * why it left the CPU. A piece that began runnable (preempted) is all runq.
 */
static __always_inline void ks_piece_add(const struct ks_thread *t, __u64 end, __u64 rd_in,
					 struct ks_costs *c)
{
	__u64 since = t->offcpu_since;
	__u64 d, rq;

	if (!since || end <= since)
		return;
	d = end - since;
	rq = d;
	if (t->off_reason != KS_OFF_RUNQ) {
		rq = rd_in > t->rd_out ? rd_in - t->rd_out : 0;
		if (rq > d)
			rq = d;
	}
	c->offcpu_ns += d;
	c->runq_ns += rq;
	if (t->off_reason == KS_OFF_IO)
		c->io_wait_ns += d - rq;
	else if (t->off_reason != KS_OFF_RUNQ)
		c->sleep_ns += d - rq;
}

/* Close the off-CPU piece at `end` (see ks_piece_add). */
static __always_inline void ks_off_end(struct ks_thread *t, __u64 end, __u64 rd_in)
{
	ks_piece_add(t, end, rd_in, &t->totals);
	t->offcpu_since = 0;
	t->off_reason = KS_OFF_NONE;
}

/*
 * Called from a program running in the thread itself, which is therefore on
 * CPU, so its run_delay already holds the wait that ended at its switch-in:
 * the off-CPU piece that switch-in closed is split here. oncpu_since is
 * unset after a switch-in, which parked its time in this CPU's `oncpu` slot
 * (ks_switch_in): take that time if it is ours, else (a thread first seen
 * since attach) start the slice now.
 */
static __always_inline void ks_sync_oncpu(struct ks_thread *t, __u32 tid, __u64 now)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot;
	__u64 on = now;

	if (t->oncpu_since) {
		if (t->offcpu_since)
			ks_off_end(t, t->oncpu_since, ks_run_delay(bpf_get_current_task_btf()));
		return;
	}
	slot = bpf_map_lookup_elem(&oncpu, &zero);
	if (slot && slot->tid == tid && slot->since <= now)
		on = slot->since;
	if (t->offcpu_since)
		ks_off_end(t, on, ks_run_delay(bpf_get_current_task_btf()));
	t->oncpu_since = on;
}

/* The current thread's state, created on its first event since attach. */
static __always_inline struct ks_thread *ks_self(__u32 tid, __u64 now)
{
	struct ks_thread *t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
						   BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!t) {
		ks_count_drop(KS_DROP_NO_STORAGE);
		return NULL;
	}
	ks_sync_oncpu(t, tid, now);
	return t;
}

/*
 * The counters the kernel already keeps per task, exact and free to read:
 * page faults (min_flt/maj_flt, counted in the fault path for this task) and
 * context switches (nvcsw: switched out while blocking; nivcsw: preempted;
 * both incremented by __schedule() only when it really switches).
 */
static __always_inline void ks_task_counters(struct task_struct *task, struct ks_costs *out)
{
	out->minflt = task->min_flt;
	out->majflt = task->maj_flt;
	out->ctxsw_voluntary = task->nvcsw;
	out->ctxsw_involuntary = task->nivcsw;
}

/* The current thread's counters as of `now`: what the cost programs
 * accumulated plus the slice in progress (it runs this probe, so it is on
 * CPU), and the kernel's own per-task counters. */
static __always_inline void ks_costs_now(const struct ks_thread *t, __u64 now, struct ks_costs *out)
{
	*out = t->totals;
	if (t->oncpu_since && now > t->oncpu_since)
		out->cpu_ns += now - t->oncpu_since;
	ks_task_counters(bpf_get_current_task_btf(), out);
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
