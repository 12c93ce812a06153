/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * State shared by every BPF source in bpf/. Maps and rodata are __weak so each
 * concern can include this header and `bpftool gen object` merges them into
 * one object with one set of maps (and one skeleton).
 */
#ifndef KERNSPAN_BPF_LIB_MAPS_BPF_H
#define KERNSPAN_BPF_LIB_MAPS_BPF_H

#include "../kernspan.h"

/* Configuration, set by userspace between open and load. */
const volatile __u32 targ_tgid __weak = 0; /* single target; 0: use `targets` */
/* Bytes one CPU submits between forced wake-ups (see ks_rb_flags); 0: never. */
const volatile __u64 targ_rb_wakeup __weak = 0;
const volatile __u8 targ_costs __weak = 0; /* cost programs are loaded */
/* Something reads the threads' running totals (the dump_threads iterator:
 * `kernspan top`, per-thread /metrics): the cost programs count every event
 * of every target thread. 0: only spans read the counters, as differences
 * between a begin and an end, and a thread with no span open is not counted
 * (see ks_counted, costs.bpf.c). */
const volatile __u8 targ_thread_totals __weak = 0;
/* The tp_btf sched_switch is loaded: the cost counters keep time on the
 * scheduler's clock (see ks_cost_clock). */
const volatile __u8 targ_sched_clock __weak = 0;
/* Read-only mappings of the targets holding span names (see
 * KS_SPAN_NAME_OMITTED); set by userspace before load. */
const volatile __u32 targ_nranges __weak = 0;
/* task_rename is watched, so a thread's comm may be sent once (see
 * KS_SPAN_COMM_OMITTED); set by userspace before load. */
const volatile __u8 targ_comm_once __weak = 0;
const volatile struct ks_name_range targ_ranges[KS_MAX_NAME_RANGES] __weak = {};
/* The target set grows at run time (follow.bpf.c): after targ_tgid, look in
 * `targets`. */
const volatile __u8 targ_dynamic __weak = 0;
/* --max-string: bytes kept of each string read from a target, 1..KS_MAX_STRING.
 * A constant to the verifier (rodata is frozen), so reads sized by it are
 * bounded. */
const volatile __u32 targ_max_string __weak = KS_DEFAULT_STRING;

/* Set by userspace when it stops: every program returns at once, even while
 * the kernel is still unregistering its uprobes. */
volatile __u32 ks_paused __weak = 0;

/* One open span on a thread's stack. */
struct ks_frame {
	__u64 name_ptr; /* the target's pointer to the span name */
	__u64 start_ns;
	__u64 span_id;
	__u64 parent_span_id;
	__u64 trace_id_hi;
	__u64 trace_id_lo;
	__u32 flags;
	__u32 _pad;
	struct ks_costs base; /* thread counters at begin (when targ_costs) */
};

/* Per-thread state: in the thread's slot of `thread_slots`, or in task
 * local storage when another thread holds that slot (ks_thread_of). A
 * reused tid never inherits a stack or counters: exits free slots, and a
 * slot held under the same tid by an older thread is taken over fresh. */
struct ks_thread {
	__u32 depth;	/* frames in use */
	__u32 overflow; /* begins refused past KS_MAX_DEPTH, still to be ended */
	struct ks_frame frames[KS_MAX_DEPTH];
	struct ks_costs totals; /* running counters kept by the cost programs;
				 * not cpu_ns, the kernel's (ks_cur_cpu) */
	__u64 oncpu_since;	/* ktime it went on CPU; 0 while off CPU, unknown, or still
				 * parked in `oncpu` (ks_switch_in) */
	__u64 offcpu_since;	/* start of the off-CPU piece in progress; 0: none */
	__u64 syscall_start;	/* ktime of the current syscall's entry; 0: none */
	__u32 off_reason;	/* what the off-CPU piece in progress is (KS_OFF_*) */
	__u32 syscall_nr;
	__u64 rng; /* per-thread id generator state; 0 until first used */
	/* Name pointers in targ_ranges this thread has sent in full, by
	 * (ptr >> 3) % KS_NAME_CACHE: later records may omit the name. */
	__u64 sent_names[KS_NAME_CACHE];
	__u32 comm_sent; /* comm went out in a record since the last rename */
	__u32 _pad_comm;
	/* sched_info.run_delay when the off-CPU piece in progress began */
	__u64 rd_out;
	/* The kernel's CPU time of the thread (se.sum_exec_runtime) when it
	 * was first seen: cpu_ns counts from there (see ks_cur_cpu). */
	__u64 cpu_base;
	__u64 cpu_last; /* the largest CPU time reported: reports never go back */
	/* Span snapshots (ks_costs_at): on-CPU time the kernel did not charge
	 * to the thread, counted as run-queue wait, and the cost clock minus
	 * cpu, off-CPU and that time at the first snapshot. */
	__u64 stolen_ns;
	__u64 unacc_anchor;
	__u32 anchored; /* unacc_anchor is set */
	__u32 _pad_anchor;
};

/* ks_thread.off_reason: how the off-CPU time in progress is counted. */
#define KS_OFF_NONE 0  /* on CPU, or never seen going off */
#define KS_OFF_RUNQ 1  /* runnable, waiting for a CPU (preempted, or woken) */
#define KS_OFF_IO 2    /* blocked in uninterruptible sleep (D) */
#define KS_OFF_SLEEP 3 /* any other sleep: locks, timers, sockets, futexes */

/*
 * Per CPU: the target thread last switched in on this CPU, and when. The
 * switch-in time is parked here and applied by the thread's next program run
 * in its own context (ks_sync_oncpu): one task-storage lookup per switch
 * instead of two, and raw_tp programs cannot reach next's storage anyway.
 */
struct ks_cpu_slot {
	__u32 tid; /* 0: not a target thread */
	/* Without targ_thread_totals: 0 when the thread running on this CPU
	 * has no span open, or is no target; 1 when it may have one (a target
	 * thread switched in, or one that began a span here). See ks_counted. */
	__u32 watch;
	__u64 since;
	/* With targ_sched_clock (see ks_cost_clock): CLOCK_MONOTONIC minus
	 * this CPU's scheduler clock, the smallest lately measured. */
	__s64 clk_off;
	__u64 clk_checked; /* scheduler clock at the last measurement; 0: none */
	__u64 clk_set;	   /* scheduler clock when clk_off was taken; 0: none */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by userspace */
} events SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_MAX_TARGETS);
	__type(key, __u32);  /* tgid */
	__type(value, __u8); /* unused */
} targets SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_cpu_slot);
} oncpu SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ks_thread);
} threads SEC(".maps") __weak;

/*
 * Where a thread's ks_thread lives. First choice: slot tid % KS_THREAD_SLOTS
 * of an array, claimed on the thread's first event if free. An array lookup
 * is inlined by the verifier; a task-storage lookup was ~40 ns of every span
 * begin, span end and cost event of a target thread here. A thread whose
 * slot is taken lives in task local storage as before, for good: it never
 * moves, so its stack is never split. The slot remembers its thread's start
 * time, so a later thread with the same tid (the owner is then dead) takes
 * it over fresh instead of inheriting a stack; thread exit frees it.
 */
#define KS_THREAD_SLOTS 256
#define KS_PF_EXITING 0x00000004 /* include/linux/sched.h, not in vmlinux.h */

struct ks_thread_slot {
	__u32 owner; /* tid; 0: free */
	__u32 _pad;
	__u64 start_time; /* the owner's task->start_time */
	struct ks_thread t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KS_THREAD_SLOTS);
	__type(key, __u32);
	__type(value, struct ks_thread_slot);
} thread_slots SEC(".maps") __weak;

/* What task storage's zero-filled creation gives: all but the frames, which
 * depth 0 makes unread. */
static __always_inline void ks_thread_reset(struct ks_thread *t)
{
	t->depth = 0;
	t->overflow = 0;
	__builtin_memset(&t->totals, 0, sizeof(t->totals));
	t->oncpu_since = 0;
	t->offcpu_since = 0;
	t->syscall_start = 0;
	t->off_reason = 0;
	t->syscall_nr = 0;
	t->rng = 0;
	__builtin_memset(t->sent_names, 0, sizeof(t->sent_names));
	t->comm_sent = 0;
	t->rd_out = 0;
	t->stolen_ns = 0;
	t->unacc_anchor = 0;
	t->anchored = 0;
}

/* A new thread state starts its CPU time from the kernel's figure now. */
static __always_inline struct ks_thread *ks_thread_born(struct ks_thread *t,
							struct task_struct *task)
{
	if (t) {
		t->cpu_base = task->se.sum_exec_runtime;
		t->cpu_last = t->cpu_base;
	}
	return t;
}

/* The slot a thread with this tid would own (it may hold another's). */
static __always_inline struct ks_thread_slot *ks_slot_of(__u32 tid)
{
	__u32 k = tid & (KS_THREAD_SLOTS - 1);

	return bpf_map_lookup_elem(&thread_slots, &k);
}

/* `task`'s state (a trusted task pointer); with `create`, made on first use. */
static __always_inline struct ks_thread *ks_thread_of(struct task_struct *task, bool create)
{
	__u32 tid = task->pid;
	__u64 start = task->start_time;
	struct ks_thread_slot *s = ks_slot_of(tid);
	struct ks_thread *t;

	if (s && s->owner == tid) {
		if (s->start_time == start)
			return &s->t;
		if (!create)
			return NULL;
		/* The same tid, a new thread: the owner has exited. Take over. */
	} else {
		t = bpf_task_storage_get(&threads, task, 0, 0);
		if (t || !create)
			return t;
		/* Claim a free slot; not for a thread past its exit (its last
		 * switch-out): the slot it gave back would stay taken by a dead
		 * tid. */
		if (!s || s->owner != 0 || (task->flags & KS_PF_EXITING) ||
		    __sync_val_compare_and_swap(&s->owner, 0, tid) != 0)
			return ks_thread_born(
			    bpf_task_storage_get(&threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE),
			    task);
	}
	s->start_time = start;
	ks_thread_reset(&s->t);
	return ks_thread_born(&s->t, task);
}

/* `task`'s tgid << 32 | tid, as bpf_get_current_pid_tgid() gives it. */
static __always_inline __u64 ks_task_id(struct task_struct *task)
{
	return ((__u64)task->tgid << 32) | (__u32)task->pid;
}

/*
 * The calling thread, and its ks_task_id, from one helper call instead of
 * two. Programs that have it pass `task` on rather than call again.
 */
static __always_inline struct task_struct *ks_current(__u64 *id)
{
	struct task_struct *task = bpf_get_current_task_btf();

	*id = ks_task_id(task);
	return task;
}

/* An exiting thread gives its slot back (if it has one). */
static __always_inline void ks_thread_release(struct task_struct *task)
{
	__u32 tid = task->pid;
	struct ks_thread_slot *s = ks_slot_of(tid);

	if (s && s->owner == tid && s->start_time == task->start_time)
		s->owner = 0;
}

/* Is this process one we watch? One compare for a single target, one
 * lookup for a set; a growing set (following forks) still answers the first
 * target with the compare. */
static __always_inline bool ks_is_target(__u32 tgid)
{
	if (ks_paused)
		return false;
	if (targ_tgid) {
		if (tgid == targ_tgid)
			return true;
		if (!targ_dynamic)
			return false;
	}
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

static __always_inline void ks_count_drops(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&drops, &slot);

	if (v)
		*v += n; /* per-CPU slot: no atomic needed */
}

static __always_inline void ks_count_drop(__u32 slot)
{
	ks_count_drops(slot, 1);
}

/* Bytes this CPU has submitted since its last forced wake-up. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rb_unwoken SEC(".maps") __weak;

/*
 * Batch wake-ups: userspace sweeps the buffer on a timer, and a burst wakes
 * it early. Each CPU forces a wake-up once per targ_rb_wakeup bytes it
 * submits; userspace sets that to a quarter of the buffer over the number of
 * CPUs, so no more than a quarter of the buffer fills after a sweep before
 * some CPU wakes the consumer. A per-CPU count is an inlined array access;
 * asking the buffer its fill level (bpf_ringbuf_query) was a helper call on
 * every record. Waking on every record made each one pay for a
 * self-interrupt.
 */
static __always_inline __u64 ks_rb_flags(__u64 size)
{
	__u32 zero = 0;
	__u64 *n;

	if (!targ_rb_wakeup)
		return BPF_RB_NO_WAKEUP;
	n = bpf_map_lookup_elem(&rb_unwoken, &zero);
	if (!n)
		return BPF_RB_NO_WAKEUP;
	*n += size;
	if (*n < targ_rb_wakeup)
		return BPF_RB_NO_WAKEUP;
	*n = 0;
	return BPF_RB_FORCE_WAKEUP;
}

/*
 * Span and trace ids: a per-thread splitmix64 stream seeded with 64 random
 * bits on first use. Cheaper than two to six bpf_get_prandom_u32() calls per
 * span, and as unique: the streams of two threads would have to collide.
 */
/* Is the name at `ptr` in a read-only mapping of process `tgid`? */
static __always_inline bool ks_name_stable(__u32 tgid, __u64 ptr)
{
	for (__u32 i = 0; i < KS_MAX_NAME_RANGES; i++) {
		if (i >= targ_nranges)
			break;
		if (targ_ranges[i].tgid == tgid && ptr >= targ_ranges[i].lo &&
		    ptr < targ_ranges[i].hi)
			return true;
	}
	return false;
}

static __always_inline __u64 ks_next_id(struct ks_thread *t)
{
	__u64 z;

	if (!t->rng)
		t->rng = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32() | 1;
	t->rng += 0x9e3779b97f4a7c15ULL;
	z = t->rng;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 1; /* ids are never zero: zero means "no parent" */
}

/*
 * Copy the current comm into a record, or flag it omitted when this thread
 * already sent it: bpf_get_current_comm costs ~70 ns here, a third of a
 * span record.
 */
static __always_inline __u32 ks_fill_comm(struct ks_thread *t, char *comm)
{
	if (targ_comm_once && t->comm_sent)
		return KS_SPAN_COMM_OMITTED;
	bpf_get_current_comm(comm, KS_COMM_LEN);
	t->comm_sent = 1;
	return 0;
}

static __always_inline void ks_fill_hdr(struct ks_hdr *h, __u16 kind, __u16 size, __u64 id,
					__u64 now)
{
	h->kind = kind;
	h->size = size;
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->cpu = bpf_get_smp_processor_id();
	h->ktime = now;
}

#endif /* KERNSPAN_BPF_LIB_MAPS_BPF_H */
