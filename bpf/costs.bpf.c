// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * costs.bpf.c - per-thread resource counters for the target's threads: CPU,
 * off-CPU time split by why, syscalls, read/write and network bytes. Spans
 * snapshot them at begin and end (spans.bpf.c); `kernspan top` reads them
 * through the dump_threads task iterator.
 *
 * Every program asks "is this thread the target's?" first: one compare for a
 * single target, one lookup for a set, before any other work.
 *
 * Off-CPU accounting, per thread, in task local storage:
 *   switch-out   an off piece starts, labelled
 *                runq if the thread is still runnable (preempted, yielded),
 *                io_wait if it blocks in D state, sleep otherwise; the
 *                kernel's run_delay of the thread is noted (rd_out);
 *   switch-in    the piece ends; the time is parked in the CPU's `oncpu`
 *                slot. The thread's next program run (ks_sync_oncpu) sets
 *                oncpu_since from it and splits the piece: the part the
 *                kernel counted as run-queue wait (run_delay growth over the
 *                piece: from the wakeup to the switch-in) is runq, the rest
 *                goes to the label's bucket.
 * No wakeup programs: the kernel already times the wait after a wakeup.
 * offcpu_ns is always runq_ns + io_wait_ns + sleep_ns. CPU time is not
 * timed here: it is the kernel's own figure, read when asked (ks_cur_cpu).
 *
 * The tp_btf sched_switch reads no clock on most runs: see ks_cost_clock.
 *
 * Only while a span is open, unless something reads the running totals
 * (targ_thread_totals): see ks_counted.
 */
#define __KERNSPAN_BPF__
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kernspan.h"
#include "lib/maps.bpf.h"
#include "lib/costs.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The cost programs' "is this thread the target's?": for a single target
 * the tgid compare alone (targ_tgid is read-only data, a constant to the
 * verifier), so a thread of another process touches no memory but its own
 * task; processes followed since (targ_dynamic) are in `targets`, as for
 * ks_is_target. Unlike the span programs they do not check ks_paused: they
 * only update task storage and emit nothing, so running on while userspace
 * detaches is harmless, and the check cost a page of .bss on the first
 * program after each kernel entry.
 */
static __always_inline bool ks_cost_target(__u32 tgid)
{
	if (targ_tgid) {
		if (tgid == targ_tgid)
			return true;
		if (!targ_dynamic)
			return false;
	}
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

/*
 * Whether `task`'s counters are kept now: its state if so, else NULL. For
 * the current task, `slot` this CPU's (NULL with targ_thread_totals).
 *
 * With targ_thread_totals, every event of every target thread is counted,
 * into state made on its first one. Without, only spans read the counters,
 * as differences between a span's begin and its end. Both run on CPU, in
 * user mode, in the thread: no syscall is in progress then, and no off-CPU
 * piece (one ends at a switch-in, before the thread runs again, and is split
 * lazily, at the latest by the begin's or end's own snapshot). So nothing a
 * thread does with no span open can reach a span, and it is not counted:
 * in a server, most syscalls and switches happen between requests. The
 * question is asked before any clock read, through this CPU's `watch` flag:
 * a switch-in sets it for a target thread, a span begin sets it (ks_watch_open,
 * so a thread with a span open always has it set), and the thread's first
 * event with no span open clears it again. Until the next switch-in, its
 * events then cost one per-CPU load.
 *
 * An end that takes no snapshot (sampled out, too short, ring buffer full)
 * may leave an off-CPU piece unsplit at depth 0. It is dropped here, at the
 * thread's next event, before a later switch-in could close it with the wrong
 * time; what it held reaches the next begin as unaccounted time, in that
 * span's base (ks_costs_at), not in the span.
 */
static __always_inline struct ks_thread *ks_counted_of(struct ks_cpu_slot *slot,
						       struct task_struct *task)
{
	struct ks_thread *t;

	if (targ_thread_totals) {
		if (!ks_cost_target(task->tgid))
			return NULL;
		t = ks_thread_of(task, true);
		if (!t)
			ks_count_drop(KS_DROP_NO_STORAGE);
		return t;
	}
	if (!slot || !slot->watch)
		return NULL;
	t = ks_thread_of(task, false);
	if (t && t->depth)
		return t;
	slot->watch = 0;
	if (t && t->offcpu_since) {
		t->offcpu_since = 0;
		t->off_reason = KS_OFF_NONE;
	}
	return NULL;
}

/* ks_counted_of for the current thread, asked first in every program that
 * runs in it; *task is set when the result is not NULL. */
static __always_inline struct ks_thread *ks_counted(struct task_struct **task)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot = NULL;

	if (!targ_thread_totals) {
		slot = bpf_map_lookup_elem(&oncpu, &zero);
		if (!slot || !slot->watch)
			return NULL;
	}
	*task = bpf_get_current_task_btf();
	return ks_counted_of(slot, *task);
}

/* include/linux/sched.h: #defines, so not in vmlinux.h */
#define KS_TASK_UNINTERRUPTIBLE 0x0002
#define KS_TASK_NOLOAD 0x0400

static __always_inline __u32 ks_off_reason(bool preempt, unsigned int prev_state,
					   unsigned int state_now)
{
	/* __state is reset to TASK_RUNNING when a signal cancels the block:
	 * read it again rather than trusting prev_state alone. */
	if (preempt || prev_state == 0 || state_now == 0)
		return KS_OFF_RUNQ;
	if ((prev_state & KS_TASK_UNINTERRUPTIBLE) && !(prev_state & KS_TASK_NOLOAD))
		return KS_OFF_IO;
	return KS_OFF_SLEEP;
}

/* The current thread (prev, `task`, its state t) leaves the CPU at `now`. */
static __always_inline void ks_switch_out(struct ks_thread *t, struct task_struct *task, __u64 now,
					  __u32 reason)
{
	ks_sync_oncpu(t, task->pid, now);
	t->oncpu_since = 0;
	t->offcpu_since = now;
	t->off_reason = reason;
	t->rd_out = ks_run_delay(task);
}

/*
 * A switch-in on this CPU: a target thread's time is parked in the CPU's
 * `oncpu` slot, not written to its own storage (a second task-storage lookup
 * per switch, and cold lines of a thread that was off CPU). Its next program
 * run takes it (ks_sync_oncpu), at the latest its own switch-out: until then
 * it runs on this CPU, so no other switch-in can overwrite the slot. Any
 * other thread (tid 0) clears the slot, so it only ever holds the thread
 * running now: left in place, a stale slot made the raw_tp variant charge a
 * thread CPU time it had spent off CPU in about one run in ten of
 * Costs.RawTracepointFallbackMeasuresCpuAndBytes.
 */
static __always_inline void ks_switch_in(struct ks_cpu_slot *slot, __u32 tid, __u64 now)
{
	if (!tid) {
		if (slot->tid || slot->watch) {
			slot->tid = 0;
			slot->watch = 0;
		}
		return;
	}
	slot->tid = tid;
	slot->watch = 1; /* until the thread finds it has no span open */
	slot->since = now ? now : bpf_ktime_get_ns();
}

/* Declared in this source only: bpftool 7.1's linker fails on a kfunc
 * extern that several of the linked objects declare. */
extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym __weak;

/*
 * ks_rq_clock for the hot path: the same walk as plain loads through a
 * read-only view of the task, which the verifier checks without the
 * vmlinux-wide searches a trusted walk costs (see ks_rq_clock). The cast
 * is inlined to a register move; a fault in the walk reads as 0.
 */
static __always_inline __u64 ks_rq_clock_ro(struct task_struct *task)
{
	struct task_struct *ro;

	if (!bpf_core_field_exists(task->se.cfs_rq))
		return 0;
	ro = bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));
	return ro->se.cfs_rq->rq->clock;
}

/* The time of a switch on this CPU, on the cost clock (ks_cost_clock). */
static __always_inline __u64 ks_switch_time(struct ks_cpu_slot *slot, struct task_struct *task)
{
	__u64 rqc;

	if (!ks_sched_clock_on())
		return bpf_ktime_get_ns();
	rqc = ks_rq_clock_ro(task);
	if (!rqc)
		return bpf_ktime_get_ns() - slot->clk_off;
	if (!slot->clk_set || rqc - slot->clk_checked >= KS_CLK_CHECK_NS)
		ks_clk_sample(slot, rqc, bpf_ktime_get_ns());
	return rqc;
}

/*
 * CPU time comes from the kernel's own accounting, the figure behind
 * CLOCK_THREAD_CPUTIME_ID and schedstat: se.sum_exec_runtime, which
 * update_curr() advances on every tick, switch and wakeup preemption check,
 * plus the slice the running task has had since, which the kernel adds only
 * when asked (task_sched_runtime). That slice is the task clock
 * (rq->clock_task) from se.exec_start to the runqueue's last clock update,
 * then the scheduler clock from that update to `sched_now` (0: unknown, and
 * that part is left out). The task clock leaves out what the hypervisor
 * stole (PARAVIRT_TIME_ACCOUNTING) and interrupts took
 * (IRQ_TIME_ACCOUNTING), which differences of the scheduler clock at
 * switches counted as CPU: 5% more than the thread's own CPU clock, under
 * load here. Only what was stolen since the last clock update (within a
 * tick) can still count.
 *
 * update_curr() also runs from other CPUs (a wakeup onto this runqueue
 * checks for preemption), and a tick may come in between two loads: the
 * fields are read until two passes agree. `task` and `rq` are read-only
 * views (ks_rq_clock_ro); a fault reads as 0.
 */
#define KS_READ_ONCE(x) (*(volatile typeof(x) *)&(x))

static __always_inline __u64 ks_running_cpu(struct task_struct *task, struct rq *rq,
					    __u64 sched_now)
{
	__u64 sum = 0, start = 0, clk = 0, clk_task = 0, cpu;
	int i;

	for (i = 0; i < 3; i++) {
		sum = KS_READ_ONCE(task->se.sum_exec_runtime);
		start = KS_READ_ONCE(task->se.exec_start);
		clk = KS_READ_ONCE(rq->clock);
		clk_task = KS_READ_ONCE(rq->clock_task);
		if (sum == KS_READ_ONCE(task->se.sum_exec_runtime) &&
		    start == KS_READ_ONCE(task->se.exec_start) && clk == KS_READ_ONCE(rq->clock))
			break;
	}
	cpu = sum;
	if (clk_task > start)
		cpu += clk_task - start;
	if (sched_now > clk)
		cpu += sched_now - clk;
	return cpu;
}

/* A read-only view of `task`, and through it its runqueue (NULL without
 * FAIR_GROUP_SCHED: then no slice is added). */
static __always_inline struct task_struct *ks_task_ro(struct task_struct *task, struct rq **rq)
{
	struct task_struct *ro = bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));

	*rq = NULL;
	if (bpf_core_field_exists(task->se.cfs_rq))
		*rq = ro->se.cfs_rq->rq;
	return ro;
}

/*
 * The current thread's CPU time (see costs.bpf.h). With the tp_btf
 * sched_switch the cost clock is the scheduler's; without it this CPU's
 * offset between the two is estimated here, from the clock as last updated
 * (it lags by up to a tick, so the smallest offset lately seen is kept, as
 * ks_clk_sample does at switches).
 */
__noinline __u64 ks_cur_cpu(__u64 mono, __u64 now)
{
	struct rq *rq;
	struct task_struct *task = ks_task_ro(bpf_get_current_task_btf(), &rq);
	struct ks_cpu_slot *slot;
	__u32 zero = 0;

	if (!rq)
		return task->se.sum_exec_runtime;
	if (!ks_sched_clock_on()) {
		now = 0;
		slot = bpf_map_lookup_elem(&oncpu, &zero);
		if (slot) {
			ks_clk_sample(slot, rq->clock, mono);
			now = mono - slot->clk_off;
		}
	}
	return ks_running_cpu(task, rq, now);
}

/*
 * The tp_btf variant reads the tasks through BTF pointers; its raw_tp twin
 * (older kernels) takes prev as the current task and reads next with
 * probe reads. The tracepoint fires before the scheduler adds the wait that
 * ends at this switch-in to next's run_delay (sched_info_arrive), which is
 * one more reason the piece is split later, in the thread's own context.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot = bpf_map_lookup_elem(&oncpu, &zero);
	struct ks_thread *out;
	bool in;
	__u64 now;

	if (!slot)
		return 0;
	out = ks_counted_of(slot, prev);
	in = ks_cost_target(next->tgid);
	if (!out && !in) {
		ks_switch_in(slot, 0, 0);
		if (!slot->clk_set && ks_sched_clock_on())
			ks_switch_time(slot, prev); /* this CPU's first offset */
		return 0;
	}
	now = ks_switch_time(slot, prev); /* prev and next share this CPU's rq */
	/* Out first: prev may take its own switch-in from the slot. */
	if (out)
		ks_switch_out(out, prev, now, ks_off_reason(preempt, prev_state, prev->__state));
	ks_switch_in(slot, in ? next->pid : 0, now);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct ks_cpu_slot *slot = bpf_map_lookup_elem(&oncpu, &zero);
	struct ks_thread *out;
	__u64 now = 0;

	if (!slot)
		return 0;
	out = ks_counted_of(slot, cur);
	if (out) {
		now = bpf_ktime_get_ns();
		ks_switch_out(out, cur, now, ks_off_reason(preempt, prev_state, cur->__state));
	}
	ks_switch_in(slot, ks_cost_target(BPF_CORE_READ(next, tgid)) ? BPF_CORE_READ(next, pid) : 0,
		     now);
	return 0;
}

/*
 * Which syscalls move bytes, by x86-64 number: their positive results count
 * as read_bytes / write_bytes. Reads: read, pread64, readv, preadv,
 * preadv2, recvfrom, recvmsg. Writes: write, pwrite64, writev, pwritev,
 * pwritev2, sendto, sendmsg. sendfile and copy_file_range count as both
 * (as /proc/PID/io rchar and wchar do). recvmmsg/sendmmsg return a message
 * count, not bytes, and are left out.
 */
#define KS_RW_READ 1
#define KS_RW_WRITE 2

static __always_inline __u32 ks_rw_kind(__u32 nr)
{
#if defined(__TARGET_ARCH_x86)
	const __u64 reads =
	    (1ull << 0) | (1ull << 17) | (1ull << 19) | (1ull << 40) | (1ull << 45) | (1ull << 47);
	const __u64 writes =
	    (1ull << 1) | (1ull << 18) | (1ull << 20) | (1ull << 40) | (1ull << 44) | (1ull << 46);

	if (nr < 64)
		return ((reads >> nr) & 1 ? KS_RW_READ : 0) |
		       ((writes >> nr) & 1 ? KS_RW_WRITE : 0);
	switch (nr) {
	case 295: /* preadv */
	case 327: /* preadv2 */
		return KS_RW_READ;
	case 296: /* pwritev */
	case 328: /* pwritev2 */
		return KS_RW_WRITE;
	case 326: /* copy_file_range */
		return KS_RW_READ | KS_RW_WRITE;
	}
#endif
	return 0;
}

/*
 * Syscalls. syscall_ns is wall time inside the kernel, blocked time
 * included.
 *
 * x86-64's uretprobe and uprobe syscalls are the kernel's own trampolines
 * for probes on 5-byte NOPs and returns (Linux 6.11+, 6.18+): every hit of
 * a kernspan probe enters one. They are not the program's syscalls, and
 * they are the hot path: both programs turn them away before any lookup.
 * At exit the kernel has set their orig_ax to -1 (no restart), as
 * rt_sigreturn does; no other syscall leaves with -1 unless it was
 * cancelled at entry (nr -1 there too). So rt_sigreturn is counted at its
 * entry, with no time: it does not return to its caller.
 */
#if defined(__TARGET_ARCH_x86)
#define KS_NR_RT_SIGRETURN 15
#define KS_NR_URETPROBE 335
#define KS_NR_UPROBE 336
#else
#define KS_NR_RT_SIGRETURN -2
#define KS_NR_URETPROBE -2
#define KS_NR_UPROBE -2
#endif

SEC("raw_tp/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long nr)
{
	struct task_struct *task;
	struct ks_thread *t;
	__u64 now;

	if (nr == KS_NR_UPROBE || nr == KS_NR_URETPROBE || nr < 0)
		return 0;
	t = ks_counted(&task);
	if (!t)
		return 0;
	if (nr == KS_NR_RT_SIGRETURN) {
		t->totals.syscalls++;
		return 0;
	}
	now = ks_cost_clock(bpf_ktime_get_ns());
	ks_sync_oncpu(t, task->pid, now);
	t->syscall_start = now;
	t->syscall_nr = (__u32)nr;
	return 0;
}

/*
 * sys_exit's body; nr is the exit's orig_ax, or -2 where it cannot be read
 * cheaply (the storage lookup then sorts the trampolines out: they have no
 * syscall_start).
 */
static __always_inline int ks_sys_exit(long nr, long ret)
{
	struct task_struct *task;
	struct ks_thread *t;
	__u32 kind;
	__u64 now;

	if (nr == -1)
		return 0;
	t = ks_counted(&task);
	if (!t || !t->syscall_start)
		return 0; /* entered before attach, or with no span open */
	now = ks_cost_clock(bpf_ktime_get_ns());
	ks_sync_oncpu(t, task->pid, now);
	t->totals.syscalls++;
	if (now > t->syscall_start)
		t->totals.syscall_ns += now - t->syscall_start;
	t->syscall_start = 0;
	if (ret > 0) {
		kind = ks_rw_kind(t->syscall_nr);
		if (kind & KS_RW_READ)
			t->totals.read_bytes += ret;
		if (kind & KS_RW_WRITE)
			t->totals.write_bytes += ret;
	}
	return 0;
}

/* tp_btf: orig_ax is a plain load from the BTF-typed regs. */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
#if defined(__TARGET_ARCH_x86)
	return ks_sys_exit((long)regs->orig_ax, ret);
#else
	return ks_sys_exit(-2, ret);
#endif
}

/* raw_tp twin (older kernels): reading orig_ax would take a probe read,
 * dearer than the lookup it saves. */
SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	return ks_sys_exit(-2, ret);
}

/*
 * Network bytes: sock:sock_send_length / sock_recv_length fire in
 * sock_sendmsg()/sock_recvmsg(), in the calling thread, for every way of
 * sending or receiving on a socket (write, send*, sendfile, splice...).
 * Counted: positive results on AF_INET/AF_INET6 sockets whose protocol is
 * TCP or UDP; receives with MSG_PEEK are not (the data is read again).
 */
#define KS_AF_INET 2
#define KS_AF_INET6 10
#define KS_IPPROTO_TCP 6
#define KS_IPPROTO_UDP 17
#define KS_MSG_PEEK 2

static __always_inline bool ks_inet_stream_or_dgram(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);

	return (family == KS_AF_INET || family == KS_AF_INET6) &&
	       (proto == KS_IPPROTO_TCP || proto == KS_IPPROTO_UDP);
}

/* Byte counts need no clock: the off-CPU piece, if any, is split later. */
SEC("raw_tp/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	struct task_struct *task;
	struct ks_thread *t;

	if (ret <= 0)
		return 0;
	t = ks_counted(&task);
	if (t && ks_inet_stream_or_dgram(sk))
		t->totals.net_tx_bytes += ret;
	return 0;
}

/*
 * TCP retransmits (tp_btf variant). A retransmit runs
 * mostly from a timer or softirq, in whatever task was interrupted, so it is
 * charged to the socket's last sender: the target thread that most recently
 * began a send on that socket. The sender is kept in socket local storage
 * (freed with the socket), with its start time so a reused tid is not
 * mistaken for it. Counted: successful retransmits (err == 0), in segments
 * (tcp_skb_pcount), which is what tcpi_total_retrans adds for them.
 *
 * The sender is noted where a TCP send begins (tcp_sendmsg_locked, 6.16+),
 * before its first segment leaves. sock_send_length fires only when the
 * send returns, and a send blocked on a full buffer returns after the
 * retransmits of its own first segments: noted there, they found no sender
 * and were lost. Kernels without that tracepoint note it there still
 * (targ_sender_at_start = 0).
 */
struct ks_sock_owner {
	__u32 tid;
	__u32 tgid;
	__u64 start_time; /* task->start_time of the sender */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ks_sock_owner);
} sock_owner SEC(".maps");

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

const volatile __u8 targ_sender_at_start = 0; /* tcp_send_start is loaded */

/* Remember the calling thread (`task`, id `id`) as sk's last sender. */
static __always_inline void ks_note_sender(struct sock *sk, struct task_struct *task, __u64 id)
{
	struct ks_sock_owner *o;

	o = bpf_sk_storage_get(&sock_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o) {
		ks_count_drop(KS_DROP_RETRANS_UNATTRIBUTED);
		return;
	}
	o->tid = (__u32)id;
	o->tgid = id >> 32;
	o->start_time = task->start_time;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_btf, struct sock *sk, int ret, int flags)
{
	struct task_struct *task;
	struct ks_thread *t;
	__u16 family, proto;
	__u64 id;

	if (ret <= 0)
		return 0;
	family = sk->__sk_common.skc_family;
	proto = sk->sk_protocol;
	if ((family != KS_AF_INET && family != KS_AF_INET6) ||
	    (proto != KS_IPPROTO_TCP && proto != KS_IPPROTO_UDP))
		return 0;
	t = ks_counted(&task);
	if (t)
		t->totals.net_tx_bytes += ret;
	if (proto == KS_IPPROTO_TCP && !targ_sender_at_start) {
		task = ks_current(&id);
		if (ks_cost_target(id >> 32))
			ks_note_sender(sk, task, id);
	}
	return 0;
}

/* Each pass of a TCP send's loop, before it queues anything (6.16+). */
SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(tcp_send_start, struct sock *sk, struct msghdr *msg, struct sk_buff *skb,
	     int size_goal)
{
	__u64 id;
	struct task_struct *task = ks_current(&id);

	if (ks_cost_target(id >> 32))
		ks_note_sender(sk, task, id);
	return 0;
}

/*
 * Newer kernels (6.15+) pass the retransmit's `err` to the tracepoint and
 * fire it for failed ones too; older ones pass (sk, skb) and fire it only on
 * success. The tracepoint's record gained an `err` field in the same change,
 * so CO-RE tells them apart at load: on an older kernel the branch reading
 * the third argument is dead, and the verifier, which rejects a read past
 * the tracepoint's arguments, never walks it. (No BTF parse in userspace.)
 */
SEC("tp_btf/tcp_retransmit_skb")
int tcp_retransmit(__u64 *ctx)
{
	const struct sock *sk = (const struct sock *)ctx[0];
	const struct sk_buff *skb = (const struct sk_buff *)ctx[1];
	struct ks_sock_owner *o;
	struct task_struct *task;
	struct ks_thread *t;
	__u32 segs;

	if (bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err) && (int)ctx[2])
		return 0;
	o = bpf_sk_storage_get(&sock_owner, (struct sock *)sk, 0, 0);
	if (!o || !ks_cost_target(o->tgid))
		return 0; /* no target thread ever sent on it */
	segs = BPF_CORE_READ((struct tcp_skb_cb *)skb->cb, tcp_gso_segs);
	if (!segs)
		segs = 1;
	task = bpf_task_from_pid(o->tid);
	if (!task) {
		ks_count_drops(KS_DROP_RETRANS_UNATTRIBUTED, segs); /* sender exited */
		return 0;
	}
	t = task->start_time == o->start_time ? ks_thread_of(task, false) : NULL;
	if (t)
		__sync_fetch_and_add(&t->totals.tcp_retransmits, segs);
	else if (targ_thread_totals || task->start_time != o->start_time)
		ks_count_drops(KS_DROP_RETRANS_UNATTRIBUTED, segs);
	/* else the sender never had a span open: no span to charge */
	bpf_task_release(task);
	return 0;
}

SEC("raw_tp/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	struct task_struct *task;
	struct ks_thread *t;

	if (ret <= 0 || (flags & KS_MSG_PEEK))
		return 0;
	t = ks_counted(&task);
	if (t && ks_inet_stream_or_dgram(sk))
		t->totals.net_rx_bytes += ret;
	return 0;
}

/* When a running thread, not yet synced since its switch-in, went on CPU:
 * its time is still parked in its CPU's slot (ks_switch_in). 0 if unknown. */
static __always_inline __u64 ks_parked_oncpu(struct task_struct *task)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot = bpf_map_lookup_percpu_elem(&oncpu, &zero, task->thread_info.cpu);

	if (slot && slot->tid == (__u32)task->pid)
		return slot->since;
	return 0;
}

/* CLOCK_MONOTONIC `mono` on the cost clock of the CPU `task` last ran on
 * (the iterator runs on its reader's CPU). */
static __always_inline __u64 ks_cost_clock_of(struct task_struct *task, __u64 mono)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot;

	if (!ks_sched_clock_on())
		return mono;
	slot = bpf_map_lookup_percpu_elem(&oncpu, &zero, task->thread_info.cpu);
	return slot && slot->clk_set ? mono - slot->clk_off : mono;
}

/* `task`'s CPU time (ks_running_cpu) as of `mono`, seen from another CPU:
 * with the slice in progress if it is running on one. */
static __always_inline __u64 ks_task_cpu_of(struct task_struct *task, __u64 mono)
{
	__u32 zero = 0;
	struct ks_cpu_slot *slot;
	struct task_struct *ro;
	struct rq *rq;

	if (!task->on_cpu)
		return task->se.sum_exec_runtime;
	ro = ks_task_ro(task, &rq);
	if (!rq)
		return task->se.sum_exec_runtime;
	slot = bpf_map_lookup_percpu_elem(&oncpu, &zero, task->thread_info.cpu);
	return ks_running_cpu(
	    ro, rq, ks_sched_clock_on() && slot && slot->clk_set ? mono - slot->clk_off : 0);
}

/*
 * `kernspan top`: task storage cannot be walked from userspace, so a task
 * iterator (attached with the target's tgid: it visits that process's
 * threads only) writes each thread's totals, including the on- or off-CPU
 * piece in progress, to a seq file userspace reads on each refresh. No
 * per-event cost beyond what spans already pay.
 */
SEC("iter/task")
int dump_threads(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct ks_thread_rec r = {};
	struct ks_thread *t;
	__u64 now;

	if (!task)
		return 0;
	r.tid = task->pid;
	r.tgid = task->tgid;
	now = bpf_ktime_get_ns();
	r.ktime = now;
	bpf_probe_read_kernel_str(r.comm, sizeof(r.comm), task->comm);
	t = ks_thread_of(task, false);
	if (t) {
		__u64 on = t->oncpu_since;
		__u64 cpu = ks_task_cpu_of(task, now);

		if (!on && task->on_cpu)
			on = ks_parked_oncpu(task);
		now = ks_cost_clock_of(task, now);
		r.costs = t->totals;
		r.costs.cpu_ns = (cpu > t->cpu_last ? cpu : t->cpu_last) - t->cpu_base;
		if (t->offcpu_since && on) /* closed, not split yet */
			ks_piece_add(t, on, ks_run_delay(task), &r.costs);
		else if (t->offcpu_since) /* in progress: by its label */
			ks_piece_add(t, now, t->rd_out, &r.costs);
	}
	ks_task_counters(task, &r.costs);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/*
 * The floor for bench/run_costs.sh: empty programs on the same hooks, so the
 * benchmark can tell the hooks' own price from what the cost programs add.
 * Loaded only with `kernspan top --bench-floor` (hidden).
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(floor_sched_switch)
{
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(floor_sys_enter)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit)
{
	return 0;
}
