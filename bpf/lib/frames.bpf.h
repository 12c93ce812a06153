/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pushing a frame and filling a span record from one, for the span sources
 * added for function uprobes and USDT pairs. spans.bpf.c's
 * ks_begin/ks_emit, which predate this header, share its trace inheritance
 * (ks_frame_trace) and the checks at an end (ks_end_thread).
 */
#ifndef KERNSPAN_BPF_LIB_FRAMES_BPF_H
#define KERNSPAN_BPF_LIB_FRAMES_BPF_H

#include "maps.bpf.h"
#include "costs.bpf.h"
#include "modes.bpf.h"

/* For async pairs, which may run on a thread without storage; frames on a
 * thread's stack take ids from its generator (ks_next_id). */
static __always_inline __u64 ks_frames_rand64(void)
{
	__u64 v = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32();

	return v ? v : 1; /* ids are never zero: zero means "no parent" */
}

/*
 * The trace of frame f, being pushed at depth d with no remote parent: a new
 * trace at the root (sampled there), else its parent's, as its child.
 */
static __always_inline void ks_frame_trace(struct ks_thread *t, struct ks_frame *f, __u32 d)
{
	if (d == 0) {
		f->trace_id_hi = ks_next_id(t);
		f->trace_id_lo = ks_next_id(t);
		f->parent_span_id = 0;
		f->flags |= ks_sample_root(f->trace_id_lo, 0);
	} else {
		struct ks_frame *up = &t->frames[(d - 1) & (KS_MAX_DEPTH - 1)];

		f->trace_id_hi = up->trace_id_hi;
		f->trace_id_lo = up->trace_id_lo;
		f->parent_span_id = up->span_id;
		f->flags |= ks_sample_inherit(up->flags);
	}
}

/*
 * The cost counters at a begin (into *out), and what the span in frame f
 * cost up to `now`: global functions, defined in spans.bpf.c, which the
 * verifier checks once on their own instead of once for each way into them.
 * All arguments are non-NULL.
 */
int ks_begin_costs(struct ks_thread *t, __u32 tid, __u64 now, struct ks_costs *out);
int ks_span_costs(struct ks_thread *t, __u32 tid, __u64 now, const struct ks_frame *f,
		  struct ks_costs *out);

/*
 * Push a frame keyed by `key` on the thread's stack. Returns its depth, or
 * -1 when the stack is full (counted; the matching end is absorbed by
 * t->overflow).
 */
static __always_inline int ks_push_frame(struct ks_thread *t, __u32 tid, __u64 key)
{
	__u32 d = t->depth;
	struct ks_frame *f;

	if (d >= KS_MAX_DEPTH) {
		t->overflow++;
		ks_count_drop(KS_DROP_STACK_OVERFLOW);
		return -1;
	}
	f = &t->frames[d & (KS_MAX_DEPTH - 1)];
	f->name_ptr = key;
	f->span_id = ks_next_id(t);
	f->flags = 0;
	ks_frame_trace(t, f, d);
	t->depth = d + 1;
	f->start_ns = bpf_ktime_get_ns();
	if (targ_costs)
		ks_begin_costs(t, tid, f->start_ns, &f->base);
	return d;
}

/*
 * The storage of `task` (the calling thread) when one of its spans ends, or
 * NULL when there is nothing to end: not a target, no frame open (counted as
 * an unmatched end), or its begin found the stack full (absorbed,
 * t->overflow).
 */
static __always_inline struct ks_thread *ks_end_thread(struct task_struct *task)
{
	struct ks_thread *t;

	if (!ks_is_target(task->tgid))
		return NULL;
	t = ks_thread_of(task, false);
	if (!t || t->depth == 0) {
		ks_count_drop(KS_DROP_UNMATCHED_END);
		return NULL;
	}
	if (t->overflow) {
		t->overflow--;
		return NULL;
	}
	return t;
}

struct ks_find_ctx {
	struct ks_thread *t;
	__u64 key;
	__u32 top;
	__u32 found;
};

/* bpf_loop callback: is frame top - 1 - k the one keyed c->key? */
static long ks_find_frame_cb(__u32 k, void *arg)
{
	struct ks_find_ctx *c = arg;
	__u32 i;

	if (k >= c->top)
		return 1;
	i = (c->top - 1 - k) & (KS_MAX_DEPTH - 1);
	if (c->t->frames[i].name_ptr == c->key) {
		c->found = i;
		return 1;
	}
	return 0;
}

/*
 * The depth of the innermost frame below `top` keyed by `key`, or
 * KS_MAX_DEPTH. Searched through bpf_loop: unrolled, each depth it could
 * return was a path of its own into the record that follows, and the
 * verifier walked them all (fn_return: 947k of its 1M-instruction limit).
 */
static __always_inline __u32 ks_find_below(struct ks_thread *t, __u32 top, __u64 key)
{
	struct ks_find_ctx c = {.t = t, .key = key, .top = top, .found = KS_MAX_DEPTH};

	bpf_loop(KS_MAX_DEPTH, ks_find_frame_cb, &c, 0);
	return c.found;
}

/* The depth of the innermost frame keyed by `key`, or KS_MAX_DEPTH. */
static __always_inline __u32 ks_find_frame(struct ks_thread *t, __u64 key)
{
	__u32 top = (t->depth - 1) & (KS_MAX_DEPTH - 1);

	if (t->frames[top].name_ptr == key)
		return top;
	return ks_find_below(t, top, key);
}

/*
 * The header and the fixed fields of a span record for frame f at depth i,
 * ended at `now`, with `flags`: everything before the comm, the costs and
 * the name, which not every record carries (see KS_SPAN_REC_NO_NAME).
 */
static __always_inline void ks_fill_span_fields(struct ks_span_rec *r, const struct ks_frame *f,
						__u32 i, __u16 kind, __u16 size, __u64 id,
						__u64 now, __u32 flags)
{
	ks_fill_hdr(&r->hdr, kind, size, id, now);
	r->start_ns = f->start_ns;
	r->end_ns = now;
	r->trace_id_hi = f->trace_id_hi;
	r->trace_id_lo = f->trace_id_lo;
	r->span_id = f->span_id;
	r->parent_span_id = f->parent_span_id;
	r->depth = i;
	r->flags = flags;
	r->name_ptr = f->name_ptr;
}

/* Fill the span part of a record from frames[i], ended at `now`. */
static __always_inline void ks_fill_from_frame(struct ks_span_rec *r, struct ks_thread *t, __u32 i,
					       __u16 kind, __u16 size, __u64 id, __u64 now,
					       __u32 extra)
{
	struct ks_frame *f = &t->frames[i & (KS_MAX_DEPTH - 1)];

	ks_fill_span_fields(r, f, i, kind, size, id, now, f->flags | extra);
	r->flags |= ks_fill_comm(t, r->comm);
	if (targ_costs) {
		ks_span_costs(t, (__u32)id, now, f, &r->costs);
		r->flags |= KS_SPAN_HAS_COSTS;
	} else {
		__builtin_memset(&r->costs, 0, sizeof(r->costs));
	}
}

#endif /* KERNSPAN_BPF_LIB_FRAMES_BPF_H */
