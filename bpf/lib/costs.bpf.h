/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-thread cost accounting shared by costs.bpf.c (which keeps the running
 * counters) and spans.bpf.c (which snapshots them at a span's begin and end).
 */
#ifndef KERNSPAN_BPF_LIB_COSTS_BPF_H
#define KERNSPAN_BPF_LIB_COSTS_BPF_H

#include "maps.bpf.h"

/*
 * Close the off-CPU piece in progress at `end`, adding it to offcpu_ns and to
 * the bucket its reason names. A piece is closed by a wakeup (sleep or I/O
 * ends, the run-queue wait begins) or by the switch-in.
 */
static __always_inline void ks_off_end(struct ks_thread *t, __u64 end)
{
	__u64 since = t->offcpu_since;

	if (since && end > since) {
		__u64 d = end - since;

		t->totals.offcpu_ns += d;
		if (t->off_reason == KS_OFF_RUNQ)
			t->totals.runq_ns += d;
		else if (t->off_reason == KS_OFF_IO)
			t->totals.io_wait_ns += d;
		else if (t->off_reason == KS_OFF_SLEEP)
			t->totals.sleep_ns += d;
	}
	t->offcpu_since = 0;
	t->off_reason = KS_OFF_NONE;
}

/*
 * raw_tp variant only: when a target thread was last woken (sched_wakeup,
 * sched_wakeup_new), by tid. raw_tp programs cannot reach the woken task's
 * storage, so the time waits here until the thread's first program run
 * after its switch-in folds it in (ks_sync_oncpu). LRU: entries of exited
 * threads age out; a stale entry is older than the thread's off-CPU piece
 * (or than the thread itself) and is ignored.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* ktime of its last wakeup */
} wakeups SEC(".maps") __weak;

/*
 * raw_tp variant: split the off-CPU piece that ended at the switch-in `on` at
 * the thread's last wakeup, as the tp_btf wakeup programs do at once: time
 * before it stays sleep/io_wait, time after it is runq. A thread first seen
 * now (no piece open) gets its run-queue wait since a wakeup after its birth.
 */
static __always_inline void ks_fold_wakeup(struct ks_thread *t, __u32 tid, __u64 on)
{
	__u64 *w = bpf_map_lookup_elem(&wakeups, &tid);
	__u64 wake;

	if (!w)
		return;
	wake = *w;
	if (wake > on)
		return;
	if (t->offcpu_since) {
		if (wake < t->offcpu_since ||
		    (t->off_reason != KS_OFF_SLEEP && t->off_reason != KS_OFF_IO))
			return;
		ks_off_end(t, wake);
	} else if (wake < bpf_get_current_task_btf()->start_time) {
		return; /* a dead thread's, with the same tid */
	}
	t->offcpu_since = wake;
	t->off_reason = KS_OFF_RUNQ;
}

/*
 * Called from a program running in the thread itself, which is therefore on
 * CPU. oncpu_since is unset only for a thread first seen since attach, or
 * (raw_tp variant) after a switch-in that parked its time in `oncpu`: take
 * that time if it is ours, else start the slice now.
 */
static __always_inline void ks_sync_oncpu(struct ks_thread *t, __u32 tid, __u64 now)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot;
	__u64 on = now;

	if (t->oncpu_since)
		return;
	slot = bpf_map_lookup_elem(&oncpu, &zero);
	if (slot && slot->tid == tid && slot->since <= now) {
		on = slot->since;
		ks_fold_wakeup(t, tid, on);
	}
	ks_off_end(t, on);
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
