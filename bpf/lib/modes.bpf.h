/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The three modes, shared by every span source: head sampling
 * decided where a trace begins, the --min-duration filter, and stats mode's
 * in-kernel aggregates. Every branch tests a rodata constant, so in plain
 * trace mode the verifier drops all of it.
 */
#ifndef KERNSPAN_BPF_LIB_MODES_BPF_H
#define KERNSPAN_BPF_LIB_MODES_BPF_H

#include "maps.bpf.h"
#include "costs.bpf.h"
#include "strings.bpf.h"

const volatile __u8 targ_mode __weak = KS_MODE_TRACE;
/* sample: keep a trace when its id's low KS_SAMPLE_BITS bits are below this
 * (rate * 2^56). */
const volatile __u64 targ_sample_below __weak = 0;
/* Spans that end sooner than this after their begin are not submitted. */
const volatile __u64 targ_min_duration_ns __weak = 0;
/* --span-timeout (0: none): see expire_spans in spans.bpf.c. */
const volatile __u64 targ_span_timeout_ns __weak = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1); /* sized by userspace in stats mode */
	__type(key, struct ks_stat_key);
	__type(value, struct ks_stat_val);
} span_stats SEC(".maps") __weak;

/* Names of span_stats' identities (struct ks_stat_name and its bytes);
 * sized by userspace in stats mode, entries and value size. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct ks_stat_key));
	__uint(value_size, KS_STAT_NAME_SIZE(KS_DEFAULT_STRING));
} stat_names SEC(".maps") __weak;

struct ks_stat_name_buf {
	struct ks_stat_name h;
	char name[KS_MAX_STRING + 8]; /* room for a read of KS_STR_READ_SIZE */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_stat_name_buf);
} stat_name_scratch SEC(".maps") __weak;

/* Never written: the zero value a new span_stats entry starts from (too big
 * for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_stat_val);
} span_stats_zero SEC(".maps") __weak;

/*
 * KS_FRAME_UNSAMPLED for a frame that begins a trace (no local parent), or 0.
 * A remote parent whose traceparent says "not sampled" is honoured (the
 * caller upstream did not record the trace); otherwise the rate is applied
 * to the trace id, so every kernspan with the same rate keeps the same
 * traces of a distributed trace.
 */
static __always_inline __u32 ks_sample_root(__u64 trace_id_lo, __u32 flags)
{
	if (targ_mode != KS_MODE_SAMPLE)
		return 0;
	if ((flags & KS_SPAN_REMOTE_PARENT) && !(flags & KS_SPAN_SAMPLED))
		return KS_FRAME_UNSAMPLED;
	if ((trace_id_lo & ((1ull << KS_SAMPLE_BITS) - 1)) < targ_sample_below)
		return 0;
	return KS_FRAME_UNSAMPLED;
}

/* What a child frame inherits from its parent's sampling decision. */
static __always_inline __u32 ks_sample_inherit(__u32 parent_flags)
{
	if (targ_mode != KS_MODE_SAMPLE)
		return 0;
	return parent_flags & KS_FRAME_UNSAMPLED;
}

/* floor(log2 v), 0 for v == 0 (core::log2_slot mirrors it). */
static __always_inline __u32 ks_log2(__u64 v)
{
	__u32 r, s;

	r = (v > 0xffffffffull) << 5;
	v >>= r;
	s = (v > 0xffff) << 4;
	v >>= s;
	r |= s;
	s = (v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (v > 0x3) << 1;
	v >>= s;
	r |= s;
	return r | (__u32)(v >> 1);
}

#define KS_STAT_COST(v, end, base, f) __sync_fetch_and_add(&(v)->costs.f, (end)->f - (base)->f)

/*
 * Stats mode: add one ended span to its entry. `t` and `base` are NULL for
 * spans without a thread frame (async pairs: no costs). Atomic adds: a BPF
 * program can be preempted by another on the same CPU, and the counts must
 * be exact. A global function: the verifier checks it once, not once per
 * call site and caller state (fn_return's stack search made that explode).
 */
struct ks_stat_in {
	__u64 span; /* the frame key */
	__u64 id;   /* bpf_get_current_pid_tgid() */
	__u64 start;
	__u64 now;
	__u32 extra; /* KS_SPAN_INCOMPLETE */
	__u32 _pad;
};

/* Read the name at `span` into stat_names under `key`, once: an unreadable
 * one (its page not mapped yet) is tried again at the next span, and
 * userspace reads it from the target if it never was. */
static __always_inline void ks_stat_store_name(const struct ks_stat_key *key, __u64 span,
					       struct ks_stat_val *v)
{
	struct ks_stat_name_buf *b;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(&stat_names, key)) {
		v->named = 1;
		return;
	}
	b = bpf_map_lookup_elem(&stat_name_scratch, &zero);
	if (!b)
		return;
	b->h.len = ks_read_str_quiet(b->name, span, &b->h.state);
	if (b->h.state == KS_STR_UNREADABLE)
		return;
	bpf_map_update_elem(&stat_names, key, b, BPF_NOEXIST);
	v->named = 1; /* stored, or another CPU was first, or no room (never:
		       * stat_names has span_stats' entries) */
}

__weak __noinline int ks_stats_add(struct ks_thread *t, const struct ks_costs *base,
				   const struct ks_stat_in *in)
{
	struct ks_stat_key key = {};
	struct ks_stat_val *v;
	__u64 span, id, now, dur;
	__u32 extra, zero = 0;

	if (!in)
		return 0;
	span = in->span;
	id = in->id;
	now = in->now;
	dur = now - in->start;
	extra = in->extra;
	key.span = span;
	key.tgid = id >> 32;

	v = bpf_map_lookup_elem(&span_stats, &key);
	if (!v) {
		const struct ks_stat_val *z = bpf_map_lookup_elem(&span_stats_zero, &zero);

		if (!z)
			return 0;
		/* Another CPU may insert it first: then the lookup finds it. */
		bpf_map_update_elem(&span_stats, &key, z, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&span_stats, &key);
		if (!v) {
			ks_count_drop(KS_DROP_STATS_FULL);
			return 0;
		}
	}
	if (!v->named && !(span & (KS_FN_TAG | KS_PAIR_TAG)))
		ks_stat_store_name(&key, span, v);
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->sum_ns, dur);
	__sync_fetch_and_add(&v->hist[ks_log2(dur) & (KS_STAT_SLOTS - 1)], 1);
	if (dur > v->max_ns)
		v->max_ns = dur; /* a race here only loses a max to a near-equal one */
	if (extra & KS_SPAN_INCOMPLETE)
		__sync_fetch_and_add(&v->incomplete, 1);
	if (targ_costs && t && base) {
		struct ks_costs end;

		ks_costs_at(t, (__u32)id, now, &end);
		KS_STAT_COST(v, &end, base, cpu_ns);
		KS_STAT_COST(v, &end, base, offcpu_ns);
		KS_STAT_COST(v, &end, base, runq_ns);
		KS_STAT_COST(v, &end, base, io_wait_ns);
		KS_STAT_COST(v, &end, base, sleep_ns);
		KS_STAT_COST(v, &end, base, syscalls);
		KS_STAT_COST(v, &end, base, syscall_ns);
		KS_STAT_COST(v, &end, base, read_bytes);
		KS_STAT_COST(v, &end, base, write_bytes);
		KS_STAT_COST(v, &end, base, net_tx_bytes);
		KS_STAT_COST(v, &end, base, net_rx_bytes);
		KS_STAT_COST(v, &end, base, tcp_retransmits);
		KS_STAT_COST(v, &end, base, minflt);
		KS_STAT_COST(v, &end, base, majflt);
		KS_STAT_COST(v, &end, base, ctxsw_voluntary);
		KS_STAT_COST(v, &end, base, ctxsw_involuntary);
		__sync_fetch_and_add(&v->with_costs, 1);
	}
	return 0;
}

/*
 * At a span's end, before any record is reserved: true when no record is to
 * be submitted, because its trace was sampled out, it is shorter than
 * --min-duration (complete spans only: an incomplete span is always
 * reported), or stats mode aggregated it. Each case is counted.
 */
static __always_inline bool ks_mode_consumed(struct ks_thread *t, const struct ks_frame *f,
					     __u64 id, __u64 now, __u32 extra)
{
	if (targ_span_timeout_ns && (f->flags & KS_FRAME_TIMED_OUT))
		return true; /* reported when it timed out */
	if (targ_mode == KS_MODE_SAMPLE && (f->flags & KS_FRAME_UNSAMPLED)) {
		ks_count_drop(KS_DROP_SAMPLED_OUT);
		return true;
	}
	if (targ_min_duration_ns && !(extra & KS_SPAN_INCOMPLETE) &&
	    now - f->start_ns < targ_min_duration_ns) {
		ks_count_drop(KS_DROP_FILTERED);
		return true;
	}
	if (targ_mode == KS_MODE_STATS) {
		struct ks_stat_in in = {.span = f->name_ptr,
					.id = id,
					.start = f->start_ns,
					.now = now,
					.extra = extra};

		ks_stats_add(t, &f->base, &in);
		return true;
	}
	return false;
}

#endif /* KERNSPAN_BPF_LIB_MODES_BPF_H */
