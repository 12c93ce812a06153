// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * uprobes.bpf.c - spans from function entries and returns.
 *
 * Both programs are attached through multi-uprobe links (one per object and
 * direction), so each uprobe carries a cookie: probe id | nargs << 32. Entry
 * pushes a frame on the same per-thread stack as the USDT spans, keyed by
 * KS_FN_TAG | probe id (there is no name string in the target); return pops
 * it and submits one ks_fn_span_rec, which userspace names from its plan.
 *
 * A return that finds its frame below the top means the frames above it
 * never returned (longjmp, an exception unwinding through them): they are
 * reported as incomplete, ended now, and counted.
 */
#define __KERNSPAN_BPF__
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kernspan.h"
#include "lib/maps.bpf.h"
#include "lib/frames.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* libbpf 1.1's bpf_tracing.h stops at PT_REGS_PARM5. */
#if defined(__TARGET_ARCH_x86)
#define KS_PT_REGS_PARM6(x) ((x)->r9)
#else
#define KS_PT_REGS_PARM6(x) ((x)->regs[5])
#endif

/* Arguments saved at entry, by stack depth; only created for probes that
 * asked for args=N, so other probes pay no second lookup. */
struct ks_fn_args {
	__u64 args[KS_MAX_DEPTH][KS_FN_MAX_ARGS];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ks_fn_args);
} fn_args SEC(".maps");

static __always_inline __u32 ks_fn_nargs(__u64 cookie)
{
	__u32 n = (cookie >> 32) & 0xff;

	return n > KS_FN_MAX_ARGS ? KS_FN_MAX_ARGS : n;
}

/* A frame left on the stack by a function that never returned. Not inlined:
 * the return program calls it from a loop over the stack. */
static __noinline void ks_fn_abandon(struct ks_thread *t, __u32 i, __u64 id, __u64 now)
{
	struct ks_span_rec *r;

	ks_count_drop(KS_DROP_FN_ABANDONED);
	if (ks_mode_consumed(t, &t->frames[i & (KS_MAX_DEPTH - 1)], id, now, KS_SPAN_INCOMPLETE))
		return;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		ks_count_drop(KS_DROP_RINGBUF);
		return;
	}
	ks_fill_from_frame(r, t, i, KS_REC_SPAN, sizeof(*r), id, now, KS_SPAN_INCOMPLETE);
	bpf_ringbuf_submit(r, ks_rb_flags(sizeof(*r)));
}

struct ks_abandon_ctx {
	struct ks_thread *t;
	__u64 id;
	__u64 now;
	__u32 first;
};

/* bpf_loop callback: one abandoned frame, first + k. A loop the verifier
 * checks once, rather than once per possible depth. */
static long ks_abandon_one(__u64 k, void *data)
{
	struct ks_abandon_ctx *a = data;

	ks_fn_abandon(a->t, (a->first + (__u32)k) & (KS_MAX_DEPTH - 1), a->id, a->now);
	return 0;
}

SEC("uprobe")
int fn_entry(struct pt_regs *ctx)
{
	__u64 id;
	struct task_struct *task = ks_current(&id);
	__u64 cookie;
	struct ks_thread *t;
	int depth;
	__u32 d, nargs;

	if (!ks_is_target(id >> 32))
		return 0;
	t = ks_thread_of(task, true);
	if (!t) {
		ks_count_drop(KS_DROP_NO_STORAGE);
		return 0;
	}
	cookie = bpf_get_attach_cookie(ctx);
	depth = ks_push_frame(t, (__u32)id, KS_FN_TAG | (__u32)cookie);
	if (depth < 0)
		return 0;
	d = depth;
	nargs = ks_fn_nargs(cookie);
	if (nargs) {
		struct ks_fn_args *a =
		    bpf_task_storage_get(&fn_args, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

		if (a) {
			__u64 *slot = a->args[d & (KS_MAX_DEPTH - 1)];

			slot[0] = PT_REGS_PARM1(ctx);
			slot[1] = PT_REGS_PARM2(ctx);
			slot[2] = PT_REGS_PARM3(ctx);
			slot[3] = PT_REGS_PARM4(ctx);
			slot[4] = PT_REGS_PARM5(ctx);
			slot[5] = KS_PT_REGS_PARM6(ctx);
		}
	}
	return 0;
}

SEC("uretprobe")
int fn_return(struct pt_regs *ctx)
{
	__u64 id;
	struct task_struct *task = ks_current(&id);
	__u64 now = bpf_ktime_get_ns();
	__u64 cookie, tag;
	struct ks_fn_span_rec *r;
	struct ks_thread *t;
	__u32 top, found, nargs;

	t = ks_end_thread(task);
	if (!t)
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	tag = KS_FN_TAG | (__u32)cookie;
	top = (t->depth - 1) & (KS_MAX_DEPTH - 1);
	found = ks_find_frame(t, tag);
	if (found == KS_MAX_DEPTH) {
		ks_count_drop(KS_DROP_UNMATCHED_END);
		return 0;
	}
	if (found != top) {
		/* The frames above never returned: end them here, incomplete. */
		struct ks_abandon_ctx actx = {.t = t, .id = id, .now = now, .first = found + 1};

		bpf_loop(top - found, ks_abandon_one, &actx, 0);
		top = found;
	}
	if (ks_mode_consumed(t, &t->frames[top & (KS_MAX_DEPTH - 1)], id, now, 0)) {
		t->depth = top;
		return 0;
	}
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		ks_count_drop(KS_DROP_RINGBUF);
		t->depth = top;
		return 0;
	}
	ks_fill_from_frame(&r->span, t, top, KS_REC_FN_SPAN, sizeof(*r), id, now, 0);
	r->probe_id = (__u32)cookie;
	nargs = ks_fn_nargs(cookie);
	r->nargs = 0;
	__builtin_memset(r->args, 0, sizeof(r->args));
	if (nargs) {
		struct ks_fn_args *a = bpf_task_storage_get(&fn_args, task, 0, 0);

		if (a) {
			__builtin_memcpy(r->args, a->args[top & (KS_MAX_DEPTH - 1)],
					 sizeof(r->args));
			r->nargs = nargs;
		}
	}
	r->ret = PT_REGS_RC(ctx);
	bpf_ringbuf_submit(r, ks_rb_flags(sizeof(*r)));
	t->depth = top;
	return 0;
}
