// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * uprobes.bpf.c - spans from function entries and returns (issue 4).
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
#include "lib/costs.bpf.h"

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

static __always_inline __u64 ks_fn_rand64(void)
{
	__u64 v = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32();

	return v ? v : 1; /* ids are never zero: zero means "no parent" */
}

static __always_inline __u32 ks_fn_nargs(__u64 cookie)
{
	__u32 n = (cookie >> 32) & 0xff;

	return n > KS_FN_MAX_ARGS ? KS_FN_MAX_ARGS : n;
}

/* Fill the span part of a record from frames[i], ended at `now`. */
static __always_inline void ks_fn_fill(struct ks_span_rec *r, struct ks_thread *t, __u32 i,
				       __u16 kind, __u16 size, __u64 id, __u64 now, __u32 extra)
{
	struct ks_frame *f = &t->frames[i & (KS_MAX_DEPTH - 1)];

	ks_fill_hdr(&r->hdr, kind, size, id, now);
	r->start_ns = f->start_ns;
	r->end_ns = now;
	r->trace_id_hi = f->trace_id_hi;
	r->trace_id_lo = f->trace_id_lo;
	r->span_id = f->span_id;
	r->parent_span_id = f->parent_span_id;
	r->depth = i;
	r->flags = f->flags | extra;
	r->name_ptr = f->name_ptr;
	r->name[0] = 0; /* named by userspace from the tag */
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	if (targ_costs) {
		struct ks_costs end;

		ks_costs_now(t, now, &end);
		ks_costs_delta(&end, &f->base, &r->costs);
		r->flags |= KS_SPAN_HAS_COSTS;
	} else {
		__builtin_memset(&r->costs, 0, sizeof(r->costs));
	}
}

/* A frame left on the stack by a function that never returned. Not inlined:
 * the return program calls it from a loop over the stack. */
static __noinline void ks_fn_abandon(struct ks_thread *t, __u32 i, __u64 id, __u64 now)
{
	struct ks_span_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	ks_count_drop(KS_DROP_FN_ABANDONED);
	if (!r) {
		ks_count_drop(KS_DROP_RINGBUF);
		return;
	}
	ks_fn_fill(r, t, i, KS_REC_SPAN, sizeof(*r), id, now, KS_SPAN_INCOMPLETE);
	bpf_ringbuf_submit(r, ks_rb_flags());
}

SEC("uprobe")
int fn_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 cookie;
	struct ks_thread *t;
	struct ks_frame *f;
	__u32 d, nargs;

	if (!ks_is_target(id >> 32))
		return 0;
	t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t) {
		ks_count_drop(KS_DROP_NO_STORAGE);
		return 0;
	}
	d = t->depth;
	if (d >= KS_MAX_DEPTH) {
		t->overflow++;
		ks_count_drop(KS_DROP_STACK_OVERFLOW);
		return 0;
	}
	cookie = bpf_get_attach_cookie(ctx);
	f = &t->frames[d & (KS_MAX_DEPTH - 1)];
	f->name_ptr = KS_FN_TAG | (__u32)cookie;
	f->span_id = ks_fn_rand64();
	f->flags = 0;
	if (d == 0) {
		f->trace_id_hi = ks_fn_rand64();
		f->trace_id_lo = ks_fn_rand64();
		f->parent_span_id = 0;
	} else {
		struct ks_frame *up = &t->frames[(d - 1) & (KS_MAX_DEPTH - 1)];

		f->trace_id_hi = up->trace_id_hi;
		f->trace_id_lo = up->trace_id_lo;
		f->parent_span_id = up->span_id;
	}
	nargs = ks_fn_nargs(cookie);
	if (nargs) {
		struct ks_fn_args *a = bpf_task_storage_get(&fn_args, bpf_get_current_task_btf(), 0,
							    BPF_LOCAL_STORAGE_GET_F_CREATE);

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
	t->depth = d + 1;
	f->start_ns = bpf_ktime_get_ns();
	if (targ_costs)
		ks_costs_now(t, f->start_ns, &f->base);
	return 0;
}

SEC("uretprobe")
int fn_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	__u64 cookie, tag;
	struct ks_fn_span_rec *r;
	struct ks_thread *t;
	__u32 d, top, nargs;

	if (!ks_is_target(id >> 32))
		return 0;
	t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (!t || t->depth == 0) {
		ks_count_drop(KS_DROP_UNMATCHED_END);
		return 0;
	}
	if (t->overflow) {
		t->overflow--;
		return 0;
	}
	cookie = bpf_get_attach_cookie(ctx);
	tag = KS_FN_TAG | (__u32)cookie;
	d = t->depth;
	top = (d - 1) & (KS_MAX_DEPTH - 1);
	if (t->frames[top].name_ptr != tag) {
		__u32 found = KS_MAX_DEPTH;

		for (int i = KS_MAX_DEPTH - 1; i >= 0; i--) {
			if ((__u32)i < top && t->frames[i].name_ptr == tag) {
				found = i;
				break;
			}
		}
		if (found == KS_MAX_DEPTH) {
			ks_count_drop(KS_DROP_UNMATCHED_END);
			return 0;
		}
		/* The frames above never returned: end them here, incomplete. */
#pragma clang loop unroll(disable)
		for (int i = KS_MAX_DEPTH - 1; i > 0; i--) {
			if ((__u32)i <= top && (__u32)i > found)
				ks_fn_abandon(t, i, id, now);
		}
		top = found;
	}
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		ks_count_drop(KS_DROP_RINGBUF);
		t->depth = top;
		return 0;
	}
	ks_fn_fill(&r->span, t, top, KS_REC_FN_SPAN, sizeof(*r), id, now, 0);
	r->probe_id = (__u32)cookie;
	nargs = ks_fn_nargs(cookie);
	r->nargs = 0;
	__builtin_memset(r->args, 0, sizeof(r->args));
	if (nargs) {
		struct ks_fn_args *a =
		    bpf_task_storage_get(&fn_args, bpf_get_current_task_btf(), 0, 0);

		if (a) {
			__builtin_memcpy(r->args, a->args[top & (KS_MAX_DEPTH - 1)],
					 sizeof(r->args));
			r->nargs = nargs;
		}
	}
	r->ret = PT_REGS_RC(ctx);
	bpf_ringbuf_submit(r, ks_rb_flags());
	t->depth = top;
	return 0;
}
