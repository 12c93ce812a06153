// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * syscalls.bpf.c - kernspan syscalls: every syscall of the machine (or of
 * one process), counted per number with its failures by errno and a log2
 * histogram of its time in the kernel (blocked time included).
 *
 * sys_enter notes the time and number in the thread's task storage (freed
 * with the thread: no entry outlives it); sys_exit adds the call to the
 * per-CPU maps. Calls that were in progress at attach have no entry and are
 * not counted; exit and exit_group never return and are not counted either.
 */
#define __KERNSPAN_BPF__
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "kernspan.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 targ_tgid = 0; /* 0: every process */
const volatile __u32 targ_self = 0; /* kernspan's own tgid, never counted */

struct ks_sys_start {
	__u64 ts;
	__s64 nr; /* -1: none in progress */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ks_sys_start);
} sys_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, KS_SYS_MAX);
	__type(key, __u32);
	__type(value, struct ks_sys_val);
} sys_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, KS_SYS_ERRNO_MAX);
	__type(key, struct ks_sys_errno_key);
	__type(value, __u64);
} sys_errnos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_TOOL_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tool_drops SEC(".maps");

static __always_inline void ks_tool_drop(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&tool_drops, &slot);

	if (n)
		*n += 1;
}

static __always_inline bool ks_counted(struct task_struct *task)
{
	__u32 tgid = task->tgid;

	return tgid != targ_self && (!targ_tgid || tgid == targ_tgid);
}

/* log2 slot of v: the index of its highest set bit (0 for 0 and 1). */
static __always_inline __u32 ks_log2(__u64 v)
{
	__u32 r = 0;

	for (int s = 32; s > 0; s >>= 1) {
		if (v >> s) {
			v >>= s;
			r += s;
		}
	}
	return r;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long nr)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ks_sys_start *st;

	if (!ks_counted(task))
		return 0;
	st = bpf_task_storage_get(&sys_start, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		ks_tool_drop(KS_TOOL_DROP_NO_STORAGE);
		return 0;
	}
	st->nr = nr;
	st->ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ks_sys_start *st;
	struct ks_sys_val *v;
	__u32 nr, slot;
	__u64 d;

	if (!ks_counted(task))
		return 0;
	st = bpf_task_storage_get(&sys_start, task, 0, 0);
	if (!st || st->nr < 0 || st->nr >= KS_SYS_MAX)
		return 0; /* entered before attach, or not a syscall number we keep */
	nr = (__u32)st->nr;
	d = bpf_ktime_get_ns() - st->ts;
	st->nr = -1;
	v = bpf_map_lookup_elem(&sys_stats, &nr);
	if (!v) {
		struct ks_sys_val zero = {};

		/* Another CPU may have inserted it meanwhile: look again. */
		bpf_map_update_elem(&sys_stats, &nr, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&sys_stats, &nr);
		if (!v) {
			ks_tool_drop(KS_TOOL_DROP_STATS_FULL);
			return 0;
		}
	}
	v->count++;
	v->total_ns += d;
	slot = ks_log2(d);
	if (slot >= KS_SYS_SLOTS)
		slot = KS_SYS_SLOTS - 1;
	v->hist[slot]++;
	if (ret < 0 && ret >= -4095) {
		struct ks_sys_errno_key k = {.nr = nr, .err = (__u32)-ret};
		__u64 *n, one = 1;

		v->errors++;
		n = bpf_map_lookup_elem(&sys_errnos, &k);
		if (!n) {
			bpf_map_update_elem(&sys_errnos, &k, &one, BPF_NOEXIST);
			n = bpf_map_lookup_elem(&sys_errnos, &k);
			if (!n) {
				ks_tool_drop(KS_TOOL_DROP_ERRNO_FULL);
				return 0;
			}
			if (*n == 1)
				return 0; /* our insert: counted */
		}
		*n += 1;
	}
	return 0;
}
