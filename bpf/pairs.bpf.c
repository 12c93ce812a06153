// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pairs.bpf.c - spans from any two USDT probes a program already ships
 * (--span), and hit counts of single probes (--usdt).
 *
 * Each attach carries a usdt cookie: the pair id (or counter index). A pair
 * is configured in `pair_cfg`: where its name and attributes come from, and
 * whether begin and end are matched per thread (a frame on the thread's
 * stack, nesting with every other span source) or by an argument's value
 * across threads (`async_spans`, keyed by tgid and that value).
 */
#define __KERNSPAN_BPF__
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "kernspan.h"
#include "lib/maps.bpf.h"
#include "lib/frames.bpf.h"
#include "lib/strings.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KS_MAX_PAIRS);
	__type(key, __u32);
	__type(value, struct ks_pair_cfg);
} pair_cfg SEC(".maps");

struct ks_async_key {
	__u32 tgid;
	__u32 pair_id;
	__u64 id; /* the id argument's value */
};

struct ks_async_span {
	__u64 start_ns;
	__u64 span_id;
	__u64 parent_span_id;
	__u64 trace_id_hi;
	__u64 trace_id_lo;
	__u32 flags; /* KS_FRAME_UNSAMPLED */
	__u32 _pad;
	struct ks_pair_vals v;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ks_async_key);
	__type(value, struct ks_async_span);
} async_spans SEC(".maps");

/* Scratch for building an async entry (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_async_span);
} async_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_MAX_USDT_COUNTS);
	__type(key, __u32);
	__type(value, __u64);
} usdt_counts SEC(".maps");

/* Read this side's integer attributes of a pair into ints. */
static __always_inline void ks_pair_read_ints(struct pt_regs *ctx, const struct ks_pair_cfg *c,
					      __u8 side, __u64 *ints)
{
	long val;

	for (int i = 0; i < KS_PAIR_MAX_ATTRS; i++) {
		if (i >= c->nattrs || c->attr_from[i] != side || c->attr_arg[i] < 0 ||
		    c->attr_str[i])
			continue;
		if (bpf_usdt_arg(ctx, c->attr_arg[i], &val) == 0)
			ints[i] = val;
	}
}

/* Whether string i of a pair (KS_PAIR_STR_NAME, then attributes) is read
 * on `side`, and from which argument. */
static __always_inline bool ks_pair_str_arg(const struct ks_pair_cfg *c, int i, __u8 side, int *arg)
{
	if (i == KS_PAIR_STR_NAME) {
		*arg = c->name_arg;
		return c->name_arg >= 0 && c->name_from == side;
	}
	i = (i - 1) & (KS_PAIR_MAX_ATTRS - 1);
	*arg = c->attr_arg[i];
	return i < c->nattrs && c->attr_str[i] && c->attr_from[i] == side && c->attr_arg[i] >= 0;
}

/* Whether a pair reads any string at its begin (kept in pair_strs). */
static __always_inline bool ks_pair_begin_has_strs(const struct ks_pair_cfg *c)
{
	int arg;

	for (int i = 0; i < KS_PAIR_NSTRS; i++) {
		if (ks_pair_str_arg(c, i, KS_PAIR_FROM_BEGIN, &arg))
			return true;
	}
	return false;
}

/* Read string argument `arg` into dst (KS_STR_READ_SIZE bytes of room). */
static __always_inline __u32 ks_pair_read_str(struct pt_regs *ctx, int arg, void *dst, __u8 *state)
{
	long val;

	if (bpf_usdt_arg(ctx, arg, &val) != 0) {
		*state = KS_STR_UNREADABLE;
		ks_count_drop(KS_DROP_STRING_UNREADABLE);
		return 0;
	}
	return ks_read_str(dst, val, state);
}

/* A pair_strs value being built at a begin. */
struct ks_pair_strs_buf {
	struct ks_pair_strs h;
	char slots[KS_PAIR_NSTRS * KS_STR_STRIDE(KS_MAX_STRING)];
};

/* A pair record being built at an end: copied out at its length. */
struct ks_pair_rec_buf {
	struct ks_pair_span_rec r;
	/* KS_PAIR_NSTRS - 1 strings kept, then room for a read of
	 * KS_STR_READ_SIZE */
	char strs[KS_PAIR_NSTRS * KS_MAX_STRING + 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_pair_strs_buf);
} pair_strs_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_pair_rec_buf);
} pair_rec_scratch SEC(".maps");

/*
 * At a begin: read the strings this side reads and keep them in pair_strs
 * under `key` (nothing when the pair reads none at its begin).
 */
static __always_inline void ks_pair_begin_strs(struct pt_regs *ctx, const struct ks_pair_cfg *c,
					       const struct ks_pair_strs_key *key)
{
	struct ks_pair_strs_buf *b;
	__u32 zero = 0;
	int arg;

	if (!ks_pair_begin_has_strs(c))
		return;
	b = bpf_map_lookup_elem(&pair_strs_scratch, &zero);
	if (!b)
		return;
	__builtin_memset(&b->h, 0, sizeof(b->h));
	for (int i = 0; i < KS_PAIR_NSTRS; i++) {
		if (!ks_pair_str_arg(c, i, KS_PAIR_FROM_BEGIN, &arg))
			continue;
		b->h.len[i] = ks_pair_read_str(
		    ctx, arg, b->slots + i * KS_STR_STRIDE(targ_max_string), &b->h.state[i]);
	}
	if (bpf_map_update_elem(&pair_strs, key, b, BPF_ANY) != 0)
		ks_count_drop(KS_DROP_STRING_UNSTORED);
}

/*
 * At an end: the strings of the record in b, those of the begin from
 * pair_strs under `key` (then removed), those of the end read now, packed.
 * Returns their bytes.
 */
static __always_inline __u32 ks_pair_end_strs(struct pt_regs *ctx, const struct ks_pair_cfg *c,
					      struct ks_pair_rec_buf *b,
					      const struct ks_pair_strs_key *key)
{
	const struct ks_pair_strs *e = NULL;
	__u32 off = 0, len;
	int arg;

	if (ks_pair_begin_has_strs(c))
		e = bpf_map_lookup_elem(&pair_strs, key);
	for (int i = 0; i < KS_PAIR_NSTRS; i++) {
		b->r.str_len[i] = 0;
		b->r.str_state[i] = 0;
		if (ks_pair_str_arg(c, i, KS_PAIR_FROM_END, &arg)) {
			len = ks_pair_read_str(ctx, arg, b->strs + off, &b->r.str_state[i]);
		} else if (e && ks_pair_str_arg(c, i, KS_PAIR_FROM_BEGIN, &arg)) {
			len = e->len[i];
			if (len > targ_max_string)
				len = targ_max_string;
			b->r.str_state[i] = e->state[i];
			bpf_probe_read_kernel(b->strs + off, len,
					      (const char *)(e + 1) +
						  i * KS_STR_STRIDE(targ_max_string));
		} else {
			continue;
		}
		if (len > KS_MAX_STRING)
			len = KS_MAX_STRING;
		b->r.str_len[i] = len;
		off += len;
	}
	if (e)
		bpf_map_delete_elem(&pair_strs, key);
	return off;
}

/* Copy the record in b, with `strs` bytes of strings, to the ring buffer. */
static __always_inline void ks_pair_submit(struct ks_pair_rec_buf *b, __u32 strs)
{
	__u64 size;

	if (strs > KS_PAIR_NSTRS * KS_MAX_STRING)
		return;
	size = sizeof(b->r) + strs;
	b->r.span.hdr.size = size;
	if (bpf_ringbuf_output(&events, b, size, ks_rb_flags(size)))
		ks_count_drop(KS_DROP_RINGBUF);
}

/* ks_mode_consumed for an async span (no thread frame, no costs). */
static __always_inline bool ks_async_consumed(const struct ks_async_span *a, __u32 pair, __u64 id,
					      __u64 now)
{
	if (targ_mode == KS_MODE_SAMPLE && (a->flags & KS_FRAME_UNSAMPLED)) {
		ks_count_drop(KS_DROP_SAMPLED_OUT);
		return true;
	}
	if (targ_min_duration_ns && now - a->start_ns < targ_min_duration_ns) {
		ks_count_drop(KS_DROP_FILTERED);
		return true;
	}
	if (targ_mode == KS_MODE_STATS) {
		struct ks_stat_in in = {
		    .span = KS_PAIR_TAG | pair, .id = id, .start = a->start_ns, .now = now};

		ks_stats_add(NULL, NULL, &in);
		return true;
	}
	return false;
}

static __always_inline int ks_async_begin(struct pt_regs *ctx, const struct ks_pair_cfg *c,
					  __u32 pair, struct task_struct *task, __u64 id)
{
	struct ks_async_key key = {.tgid = id >> 32, .pair_id = pair};
	struct ks_pair_strs_key skey;
	struct ks_thread *t;
	struct ks_async_span *a;
	__u32 zero = 0;
	long v;

	if (bpf_usdt_arg(ctx, c->id_arg, &v) != 0)
		return 0;
	key.id = v;
	a = bpf_map_lookup_elem(&async_scratch, &zero);
	if (!a)
		return 0;
	__builtin_memset(&a->v, 0, sizeof(a->v));
	skey.task = key.tgid;
	skey.slot = pair;
	skey.id = key.id;
	a->span_id = ks_frames_rand64();
	/* A child of whatever the beginning thread has open, if anything. */
	t = ks_thread_of(task, false);
	if (t && t->depth > 0) {
		struct ks_frame *up = &t->frames[(t->depth - 1) & (KS_MAX_DEPTH - 1)];

		a->trace_id_hi = up->trace_id_hi;
		a->trace_id_lo = up->trace_id_lo;
		a->parent_span_id = up->span_id;
		a->flags = ks_sample_inherit(up->flags);
	} else {
		a->trace_id_hi = ks_frames_rand64();
		a->trace_id_lo = ks_frames_rand64();
		a->parent_span_id = 0;
		a->flags = ks_sample_root(a->trace_id_lo, 0);
	}
	ks_pair_read_ints(ctx, c, KS_PAIR_FROM_BEGIN, a->v.ints);
	a->start_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&async_spans, &key, a, BPF_ANY) != 0) {
		ks_count_drop(KS_DROP_ASYNC_FULL);
		return 0;
	}
	ks_pair_begin_strs(ctx, c, &skey);
	return 0;
}

static __always_inline int ks_async_end(struct pt_regs *ctx, const struct ks_pair_cfg *c,
					__u32 pair, __u64 id)
{
	struct ks_async_key key = {.tgid = id >> 32, .pair_id = pair};
	struct ks_pair_strs_key skey;
	struct ks_pair_rec_buf *b;
	struct ks_pair_span_rec *r;
	struct ks_async_span *a;
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0, strs;
	long v;

	if (bpf_usdt_arg(ctx, c->id_arg, &v) != 0)
		return 0;
	key.id = v;
	skey.task = key.tgid;
	skey.slot = pair;
	skey.id = key.id;
	a = bpf_map_lookup_elem(&async_spans, &key);
	if (!a) {
		ks_count_drop(KS_DROP_UNMATCHED_END);
		return 0;
	}
	b = bpf_map_lookup_elem(&pair_rec_scratch, &zero);
	if (!b || ks_async_consumed(a, pair, id, now)) {
		bpf_map_delete_elem(&pair_strs, &skey);
		bpf_map_delete_elem(&async_spans, &key);
		return 0;
	}
	r = &b->r;
	ks_fill_hdr(&r->span.hdr, KS_REC_PAIR_SPAN, sizeof(*r), id, now);
	r->span.start_ns = a->start_ns;
	r->span.end_ns = now;
	r->span.trace_id_hi = a->trace_id_hi;
	r->span.trace_id_lo = a->trace_id_lo;
	r->span.span_id = a->span_id;
	r->span.parent_span_id = a->parent_span_id;
	r->span.depth = 0;
	r->span.flags = 0;
	r->span.name_ptr = KS_PAIR_TAG | pair;
	bpf_get_current_comm(r->span.comm, sizeof(r->span.comm));
	__builtin_memset(&r->span.costs, 0, sizeof(r->span.costs));
	r->pair_id = pair;
	r->async = 1;
	__builtin_memcpy(r->ints, a->v.ints, sizeof(r->ints));
	ks_pair_read_ints(ctx, c, KS_PAIR_FROM_END, r->ints);
	bpf_map_delete_elem(&async_spans, &key);
	strs = ks_pair_end_strs(ctx, c, b, &skey);
	ks_pair_submit(b, strs);
	return 0;
}

SEC("usdt")
int pair_begin(struct pt_regs *ctx)
{
	__u64 id;
	struct task_struct *task = ks_current(&id);
	__u32 pair = (__u32)bpf_usdt_cookie(ctx);
	const struct ks_pair_cfg *c;
	struct ks_pair_strs_key skey;
	struct ks_pair_stack *ps;
	struct ks_thread *t;
	struct ks_pair_vals *v;
	int d;

	if (!ks_is_target(id >> 32))
		return 0;
	c = bpf_map_lookup_elem(&pair_cfg, &pair);
	if (!c)
		return 0;
	if (c->id_arg >= 0)
		return ks_async_begin(ctx, c, pair, task, id);
	t = ks_thread_of(task, true);
	ps = bpf_task_storage_get(&pair_vals, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t || !ps) {
		ks_count_drop(KS_DROP_NO_STORAGE);
		return 0;
	}
	d = ks_push_frame(t, (__u32)id, KS_PAIR_TAG | pair);
	if (d < 0)
		return 0;
	v = &ps->v[d & (KS_MAX_DEPTH - 1)];
	ks_pair_read_ints(ctx, c, KS_PAIR_FROM_BEGIN, v->ints);
	skey.task = (__u32)id;
	skey.slot = KS_PAIR_STRS_SYNC | d;
	skey.id = 0;
	ks_pair_begin_strs(ctx, c, &skey);
	return 0;
}

SEC("usdt")
int pair_end(struct pt_regs *ctx)
{
	__u64 id;
	struct task_struct *task = ks_current(&id);
	__u64 now = bpf_ktime_get_ns();
	__u32 pair = (__u32)bpf_usdt_cookie(ctx);
	const struct ks_pair_cfg *c;
	struct ks_pair_strs_key skey;
	struct ks_pair_rec_buf *b;
	struct ks_pair_span_rec *r;
	struct ks_pair_stack *ps;
	struct ks_pair_vals *v;
	struct ks_thread *t;
	__u32 top, found, zero = 0, strs;

	if (!ks_is_target(id >> 32))
		return 0;
	c = bpf_map_lookup_elem(&pair_cfg, &pair);
	if (!c)
		return 0;
	if (c->id_arg >= 0)
		return ks_async_end(ctx, c, pair, id);
	t = ks_thread_of(task, false);
	ps = bpf_task_storage_get(&pair_vals, task, 0, 0);
	if (!t || !ps || t->depth == 0) {
		ks_count_drop(KS_DROP_UNMATCHED_END);
		return 0;
	}
	if (t->overflow) {
		t->overflow--;
		return 0;
	}
	top = (t->depth - 1) & (KS_MAX_DEPTH - 1);
	found = ks_find_frame(t, KS_PAIR_TAG | pair);
	if (found == KS_MAX_DEPTH) {
		ks_count_drop(KS_DROP_UNMATCHED_END);
		return 0;
	}
	if (found != top) /* inner spans that never ended are abandoned */
		ks_count_drops(KS_DROP_MISMATCHED_END, top - found);
	skey.task = (__u32)id;
	skey.slot = KS_PAIR_STRS_SYNC | found;
	skey.id = 0;
	if (ks_mode_consumed(t, &t->frames[found & (KS_MAX_DEPTH - 1)], id, now, 0)) {
		if (ks_pair_begin_has_strs(c))
			bpf_map_delete_elem(&pair_strs, &skey);
		t->depth = found;
		return 0;
	}
	b = bpf_map_lookup_elem(&pair_rec_scratch, &zero);
	if (!b) {
		t->depth = found;
		return 0;
	}
	r = &b->r;
	ks_fill_from_frame(&r->span, t, found, KS_REC_PAIR_SPAN, sizeof(*r), id, now, 0);
	v = &ps->v[found & (KS_MAX_DEPTH - 1)];
	r->pair_id = pair;
	r->async = 0;
	__builtin_memcpy(r->ints, v->ints, sizeof(r->ints));
	ks_pair_read_ints(ctx, c, KS_PAIR_FROM_END, r->ints);
	strs = ks_pair_end_strs(ctx, c, b, &skey);
	ks_pair_submit(b, strs);
	t->depth = found;
	return 0;
}

SEC("usdt")
int usdt_count(struct pt_regs *ctx)
{
	__u32 idx = (__u32)bpf_usdt_cookie(ctx);
	__u64 *n;

	if (!ks_is_target(bpf_get_current_pid_tgid() >> 32))
		return 0;
	n = bpf_map_lookup_elem(&usdt_counts, &idx);
	if (n)
		*n += 1;
	return 0;
}
