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
	/* Taken even if a little after `now`: now is CLOCK_MONOTONIC moved
	 * onto the scheduler clock (ks_cost_clock), off by microseconds, and
	 * the slice must start where the off-CPU piece ended, at a time of
	 * the same clock as the switch-out that will end it. Mixing the two
	 * here cost 7-45 ms over 20000 switches (Costs.SpansCarryWhatTheyCost,
	 * pingpong). */
	if (slot && slot->tid == tid)
		on = slot->since;
	if (t->offcpu_since)
		ks_off_end(t, on, ks_run_delay(bpf_get_current_task_btf()));
	t->oncpu_since = on;
}

/*
 * The cost counters' clock. With the tp_btf sched_switch (targ_sched_clock)
 * every switch is timed by the scheduler's own clock, rq->clock, which
 * __schedule() has just updated: bpf_ktime_get_ns() cost 70-90 ns of that
 * program's ~220 here, three loads through se.cfs_rq->rq a few. Slices and
 * off-CPU pieces are then differences of that one clock, so they add up to
 * exactly the time between their ends, as the kernel's own accounting does.
 *
 * Programs running in the thread (spans, syscalls, sockets) read
 * CLOCK_MONOTONIC and move it onto the scheduler clock with this CPU's
 * offset between the two (ks_cost_clock). An error in the offset only moves
 * the ends of a span's costs, not what lies between them. sched_switch
 * measures the offset on a CPU's first switch after attach, then again with
 * one real clock read every KS_CLK_CHECK_NS of scheduler time. rq->clock can
 * lag (the update is skipped right after a wakeup that preempts) but never
 * lead, and a lagging sample overstates the offset: so the smallest is
 * kept, and replaced by a larger one only after KS_CLK_KEEP_NS, in which
 * the two clocks drift apart by at most 16 us (NTP slews CLOCK_MONOTONIC by
 * at most 500 ppm), usually far less.
 *
 * Without the tp_btf variant or without FAIR_GROUP_SCHED (no se.cfs_rq)
 * every time is CLOCK_MONOTONIC, read where needed.
 */
#define KS_CLK_CHECK_NS (4ull * 1000 * 1000)
#define KS_CLK_KEEP_NS (32ull * 1000 * 1000)

static __always_inline bool ks_sched_clock_on(void)
{
	return targ_sched_clock && bpf_core_field_exists(((struct sched_entity *)0)->cfs_rq);
}

/*
 * The scheduler clock of the CPU `task` is on, as last updated; 0 if none.
 * For the thread-context programs' rare first estimate (ks_cost_clock):
 * probe reads. A plain walk through the trusted task pointer would make the
 * verifier search all of vmlinux's BTF, by name and one type at a time,
 * for up to four "__safe_*" variants of each pointer it loads
 * (btf_nested_type_is_trusted), on every path that reaches the walk: that
 * was a large part of a start here. sched_switch, where the walk is hot,
 * goes through a read-only cast instead (costs.bpf.c).
 */
static __always_inline __u64 ks_rq_clock(struct task_struct *task)
{
	if (!bpf_core_field_exists(task->se.cfs_rq))
		return 0;
	return BPF_CORE_READ(task, se.cfs_rq, rq, clock);
}

/* A measurement of this CPU's offset: the scheduler clock read as rqc
 * while CLOCK_MONOTONIC read mono. */
static __always_inline void ks_clk_sample(struct ks_cpu_slot *slot, __u64 rqc, __u64 mono)
{
	__s64 off = (__s64)(mono - rqc);

	slot->clk_checked = rqc;
	if (!slot->clk_set || off < slot->clk_off || rqc - slot->clk_set > KS_CLK_KEEP_NS) {
		slot->clk_off = off;
		slot->clk_set = rqc;
	}
}

/* CLOCK_MONOTONIC `mono`, just read by the current thread, on the cost
 * clock. */
static __always_inline __u64 ks_cost_clock(__u64 mono)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot;
	__u64 rqc;

	if (!ks_sched_clock_on())
		return mono;
	slot = bpf_map_lookup_elem(&oncpu, &zero);
	if (!slot)
		return mono;
	if (!slot->clk_set) {
		/* No switch on this CPU since attach: a first estimate from
		 * the clock as the scheduler last updated it here (at most a
		 * tick ago), bettered by the next switch. */
		rqc = ks_rq_clock(bpf_get_current_task_btf());
		if (!rqc)
			return mono;
		ks_clk_sample(slot, rqc, mono);
	}
	return mono - slot->clk_off;
}

/*
 * A span begins on the current thread: without targ_thread_totals its
 * counters are kept from now on, until it has no span open again (see
 * ks_counted in costs.bpf.c). The flag is this CPU's: a BPF program does not
 * migrate, and the thread's next switch-in sets it wherever it runs.
 */
static __always_inline void ks_watch_open(void)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot = bpf_map_lookup_elem(&oncpu, &zero);

	if (slot && !slot->watch)
		slot->watch = 1;
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

/*
 * The current thread's CPU time (ns, since it began) as the kernel counts
 * it, at CLOCK_MONOTONIC `mono`, `now` the same on the cost clock. Defined
 * once, in costs.bpf.c: see there.
 */
__u64 ks_cur_cpu(__u64 mono, __u64 now);

/*
 * The current thread's counters at `mono` (CLOCK_MONOTONIC, just read):
 * what a span snapshots at its begin and end. It is on CPU, running this
 * probe: the off-CPU pieces are closed (ks_sync_oncpu), CPU time is the
 * kernel's (ks_cur_cpu), never less than already reported, so a span's
 * CPU time is never negative and a parent's holds its children's.
 *
 * Time on CPU that the kernel did not charge to the thread (stolen by the
 * hypervisor, or taken by interrupts) is in neither CPU time nor an
 * off-CPU piece. The thread was runnable and waiting for a CPU, so it is
 * counted as run-queue wait: whenever cpu + off-CPU time has grown by less
 * than the cost clock since the thread's first snapshot, the difference is
 * added (stolen_ns). A span's wall time is then its CPU plus off-CPU time,
 * and runq_ns is the kernel's run_delay plus stolen time. `kernspan top`
 * shows the plain totals.
 */
static __always_inline void ks_costs_at(struct ks_thread *t, __u32 tid, __u64 mono,
					struct ks_costs *out)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 now = ks_cost_clock(mono);
	__u64 cpu, unacc;

	ks_sync_oncpu(t, tid, now);
	*out = t->totals;
	cpu = ks_cur_cpu(mono, now);
	if (cpu < t->cpu_last)
		cpu = t->cpu_last;
	t->cpu_last = cpu;
	out->cpu_ns = cpu - t->cpu_base;
	unacc = now - out->cpu_ns - out->offcpu_ns - t->stolen_ns;
	if (!t->anchored) {
		t->unacc_anchor = unacc;
		t->anchored = 1;
	} else if ((__s64)(unacc - t->unacc_anchor) > 0) {
		t->stolen_ns += unacc - t->unacc_anchor;
	}
	out->runq_ns += t->stolen_ns;
	out->offcpu_ns += t->stolen_ns;
	ks_task_counters(task, out);
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
