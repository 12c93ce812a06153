// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * follow.bpf.c - grows the target set at run time (kernspan trace
 * --follow-children, --binary).
 *
 * A fork of a traced process adds the child's tgid to `targets` before the
 * child runs a single instruction, so none of its spans is missed; an exec
 * of the --binary file adds the process likewise. The set shrinks when a
 * process is freed, so a recycled pid does not inherit a place in it.
 * Userspace learns of new members by reading the map (it only needs them to
 * know when every traced process has exited).
 *
 * All three are raw_tp programs reading their task arguments with CO-RE, so
 * one variant serves every kernel.
 */
#define __KERNSPAN_BPF__
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kernspan.h"
#include "lib/maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* --binary: the executable's inode number and device (kernel dev_t). */
const volatile __u64 targ_exe_ino __weak = 0;
const volatile __u32 targ_exe_dev __weak = 0;
/* Forked children of a traced process are traced too... */
const volatile __u8 targ_follow __weak = 0;
/* ...and stay traced when they exec another file (--follow-children; with
 * only --binary, a process leaves the set when it stops running it). */
const volatile __u8 targ_follow_exec __weak = 0;

/* Who forked whom, for naming spans: a span name is read from the target at
 * the end, and a child's copy of a read-only file page is not mapped until
 * it touches it, so the read can fail where the parent's succeeded at the
 * same address. An exec forgets the relation (new image, new addresses). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KS_MAX_TARGETS);
	__type(key, __u32);   /* child tgid */
	__type(value, __u32); /* parent tgid */
} follow_parent SEC(".maps");

static __always_inline void ks_add_target(__u32 tgid)
{
	const __u8 one = 1;

	if (bpf_map_update_elem(&targets, &tgid, &one, BPF_ANY))
		ks_count_drop(KS_DROP_FOLLOW_FULL);
}

/* Fires for every clone; a new thread keeps its parent's tgid. */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(follow_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);

	if (!targ_follow || ctgid == ptgid || !ks_is_target(ptgid))
		return 0;
	ks_add_target(ctgid);
	bpf_map_update_elem(&follow_parent, &ctgid, &ptgid, BPF_ANY);
	return 0;
}

/* After a successful exec: does the process now run the --binary file?
 * (Loaded whenever following, for follow_parent.) */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(follow_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct inode *ino = BPF_CORE_READ(bprm, file, f_inode);
	__u32 tgid = BPF_CORE_READ(p, tgid);

	bpf_map_delete_elem(&follow_parent, &tgid);
	if (ks_paused || !targ_exe_ino)
		return 0;
	if (BPF_CORE_READ(ino, i_ino) == targ_exe_ino &&
	    BPF_CORE_READ(ino, i_sb, s_dev) == targ_exe_dev)
		ks_add_target(tgid);
	else if (!targ_follow_exec)
		bpf_map_delete_elem(&targets, &tgid); /* runs something else now */
	return 0;
}

/* The last reference to a task is gone: a group leader's tgid leaves the set
 * (its threads have all been reaped by then). */
SEC("raw_tp/sched_process_free")
int BPF_PROG(follow_free, struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (pid == tgid)
		bpf_map_delete_elem(&targets, &tgid);
	return 0;
}
