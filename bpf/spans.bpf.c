// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * spans.bpf.c - turns the kernspan:span_begin / span_end USDT probes of the
 * target into span records.
 *
 * Begin pushes a frame onto the thread's stack of open spans (task local
 * storage); end pops it and submits one record with ids, times and costs
 * already computed. Nothing is sent at begin, so a span costs one ring
 * buffer record.
 */
#define __KERNSPAN_BPF__
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "kernspan.h"
#include "lib/maps.bpf.h"
#include "lib/costs.bpf.h"
#include "lib/modes.bpf.h"
#include "lib/frames.bpf.h"
#include "lib/strings.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * n lower-case hex digits at s as a number (W3C trace context allows no
 * upper case, and OpenTelemetry's propagators refuse it), without a branch: each digit's class and
 * value come from sign bits, and a bad character sets *bad. Straight-line
 * code is verified in one pass; the bpf_loop callback this replaces was
 * checked again and again until its states converged (~6000 instructions,
 * ~10 ms of span_begin_remote's verification).
 */
static __always_inline __u64 ks_hex(const unsigned char *s, const int n, __u64 *bad)
{
	__u64 v = 0;

#pragma unroll
	for (int i = 0; i < n; i++) {
		__s64 x = s[i];
		__s64 dig = (((x - '0') | ('9' - x)) >> 63) + 1; /* 1 for 0-9, else 0 */
		__s64 alp = (((x - 'a') | ('f' - x)) >> 63) + 1; /* 1 for a-f, else 0 */

		v = (v << 4) | (__u64)(dig * (x - '0') + alp * (x - 'a' + 10));
		*bad |= (__u64)(1 - (dig | alp));
	}
	return v;
}

/*
 * W3C traceparent: "vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>".
 * Returns 0 and fills the frame's trace and parent on success.
 */
static __always_inline int ks_parse_traceparent(__u64 uptr, struct ks_frame *f)
{
	/* One byte past the flags: version 00 ends there ('\0'); a later
	 * version may go on behind a '-'. A shorter string may end a page:
	 * the read then fails, and it is refused as it would be anyway. */
	unsigned char tp[KS_TRACEPARENT_LEN + 1] = {};
	__u64 bad = 0, version, hi, lo, parent, flags;

	if (!uptr || bpf_probe_read_user(tp, KS_TRACEPARENT_LEN + 1, (const void *)uptr))
		return -1;
	bad |= (__u64)(tp[2] ^ '-') | (__u64)(tp[35] ^ '-') | (__u64)(tp[52] ^ '-');
	version = ks_hex(tp, 2, &bad);
	hi = ks_hex(tp + 3, 16, &bad);
	lo = ks_hex(tp + 19, 16, &bad);
	parent = ks_hex(tp + 36, 16, &bad);
	flags = ks_hex(tp + 53, 2, &bad);
	if (bad || version == 0xff || (!hi && !lo) || !parent)
		return -1;
	if (tp[KS_TRACEPARENT_LEN] && (version == 0 || tp[KS_TRACEPARENT_LEN] != '-'))
		return -1;
	f->trace_id_hi = hi;
	f->trace_id_lo = lo;
	f->parent_span_id = parent;
	f->flags |= KS_SPAN_REMOTE_PARENT | ((flags & 1) ? KS_SPAN_SAMPLED : 0);
	return 0;
}

/*
 * The global cost functions of frames.bpf.h, defined once for the whole
 * object (the traceparent paths had tripled span_begin_remote's
 * verification). The NULL checks are the verifier's: a global function's
 * pointer arguments may be NULL as far as it knows.
 */
__noinline int ks_begin_costs(struct ks_thread *t, __u32 tid, __u64 now, struct ks_costs *out)
{
	if (!t || !out)
		return 0;
	ks_watch_open();
	ks_costs_at(t, tid, now, out);
	return 0;
}

__noinline int ks_span_costs(struct ks_thread *t, __u32 tid, __u64 now, const struct ks_frame *f,
			     struct ks_costs *out)
{
	struct ks_costs end;

	if (!t || !f || !out)
		return 0;
	ks_costs_at(t, tid, now, &end);
	ks_costs_delta(&end, &f->base, out);
	return 0;
}

static __always_inline int ks_begin(__u64 name_ptr, __u64 traceparent)
{
	__u64 id;
	struct task_struct *task = ks_current(&id);
	struct ks_thread *t;
	struct ks_frame *f;
	__u32 d;

	if (!ks_is_target(id >> 32))
		return 0;
	t = ks_thread_of(task, true);
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
	f = &t->frames[d & (KS_MAX_DEPTH - 1)];
	f->name_ptr = name_ptr;
	f->span_id = ks_next_id(t);
	f->flags = 0;
	if (traceparent && ks_parse_traceparent(traceparent, f) == 0) {
		/* joins a trace begun in another service */
		f->flags |= ks_sample_root(f->trace_id_lo, f->flags);
	} else {
		if (traceparent)
			ks_count_drop(KS_DROP_BAD_TRACEPARENT);
		ks_frame_trace(t, f, d);
	}
	t->depth = d + 1;
	f->start_ns = bpf_ktime_get_ns();
	if (targ_costs)
		ks_begin_costs(t, (__u32)id, f->start_ns, &f->base);
	return 0;
}

/* A span record with its name, built here and copied to the ring buffer
 * at its length (a reservation must have a constant size). */
struct ks_named_span {
	struct ks_span_rec r;
	char name[KS_MAX_STRING + 8]; /* room for a read of KS_STR_READ_SIZE */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_named_span);
} named_scratch SEC(".maps");

/*
 * Submit the span in frames[i], ended at `now`. with_name is a constant at
 * each call: without it the record is reserved without its name (or costs);
 * with it, the record is built in named_scratch and copied out at its
 * length. Returns false when the ring buffer was full.
 */
static __always_inline bool ks_emit_rec(struct ks_thread *t, __u32 i, __u64 id, __u64 now,
					__u32 extra, const bool with_name)
{
	struct ks_frame *f = &t->frames[i & (KS_MAX_DEPTH - 1)];
	struct ks_named_span *ns = NULL;
	struct ks_span_rec *r;
	__u32 zero = 0, len;
	__u64 size;
	__u8 state;

	if (ks_mode_consumed(t, f, id, now, extra))
		return false;
	if (with_name) {
		ns = bpf_map_lookup_elem(&named_scratch, &zero);
		if (!ns)
			return false;
		r = &ns->r;
		size = sizeof(*r);
	} else {
		size = targ_costs ? KS_SPAN_REC_NO_NAME : KS_SPAN_REC_NO_COSTS_NO_NAME;
		r = bpf_ringbuf_reserve(&events, size, 0);
		if (!r) {
			ks_count_drop(KS_DROP_RINGBUF);
			return false;
		}
	}
	ks_fill_span_fields(r, f, i, KS_REC_SPAN, size, id, now,
			    f->flags | extra | (with_name ? 0 : KS_SPAN_NAME_OMITTED));
	r->flags |= ks_fill_comm(t, r->comm);
	if (targ_costs) {
		ks_span_costs(t, (__u32)id, now, f, &r->costs);
		r->flags |= KS_SPAN_HAS_COSTS;
	} else if (with_name) {
		__builtin_memset(&r->costs, 0, sizeof(r->costs));
	}
	if (!with_name) {
		bpf_ringbuf_submit(r, ks_rb_flags(size));
		return true;
	}
	if (!ns)
		return false;
	/* Unreadable (the page not mapped yet, or gone at exit): sent empty,
	 * userspace reads it from name_ptr. Not counted: that is no loss. */
	len = ks_read_str_quiet(ns->name, f->name_ptr, &state);
	if (state == KS_STR_CUT)
		ns->r.flags |= KS_SPAN_NAME_CUT;
	if (len > KS_MAX_STRING)
		len = KS_MAX_STRING;
	size = sizeof(ns->r) + len;
	ns->r.hdr.size = size;
	if (bpf_ringbuf_output(&events, ns, size, ks_rb_flags(size))) {
		ks_count_drop(KS_DROP_RINGBUF);
		return false;
	}
	return true;
}

/*
 * Names in read-only mappings cannot change, so each thread sends one only
 * the first time (per slot of its small cache); copying it is the dearest
 * part of a span record.
 */
static __always_inline void ks_emit(struct ks_thread *t, __u32 i, __u64 id, __u64 now, __u32 extra)
{
	__u64 p = t->frames[i & (KS_MAX_DEPTH - 1)].name_ptr;
	__u32 slot = (p >> 3) & (KS_NAME_CACHE - 1);

	if (t->sent_names[slot] == p && p) {
		ks_emit_rec(t, i, id, now, extra, false);
		return;
	}
	if (ks_emit_rec(t, i, id, now, extra, true) && ks_name_stable(id >> 32, p))
		t->sent_names[slot] = p;
}

static __always_inline bool ks_same_name(__u64 a, __u64 b)
{
	__u64 x[KS_NAME_LEN / 8] = {}, y[KS_NAME_LEN / 8] = {};

	if (a == b)
		return true;
	/* The same literal may sit at two addresses (begin and end in
	 * different translation units): compare the text, a word at a time
	 * (zero-filled, so bytes past the terminator compare equal). */
	if (bpf_probe_read_user_str(x, sizeof(x), (const void *)a) < 0 ||
	    bpf_probe_read_user_str(y, sizeof(y), (const void *)b) < 0)
		return false;
	for (int i = 0; i < KS_NAME_LEN / 8; i++) {
		if (x[i] != y[i])
			return false;
	}
	return true;
}

static __always_inline int ks_end(__u64 name_ptr)
{
	__u64 id;
	struct task_struct *task = ks_current(&id);
	__u64 now = bpf_ktime_get_ns();
	struct ks_thread *t;
	__u32 d, top;

	t = ks_end_thread(task);
	if (!t)
		return 0;
	d = t->depth;
	top = (d - 1) & (KS_MAX_DEPTH - 1);
	if (t->frames[top].name_ptr != name_ptr &&
	    !ks_same_name(t->frames[top].name_ptr, name_ptr)) {
		/* An inner span never ended (exception, longjmp): find the
		 * frame this end belongs to, abandon the ones above it. */
		__u32 found = ks_find_below(t, top, name_ptr);

		if (found == KS_MAX_DEPTH) {
			ks_count_drop(KS_DROP_UNMATCHED_END);
			return 0;
		}
		ks_count_drops(KS_DROP_MISMATCHED_END, top - found);
		top = found;
	}
	ks_emit(t, top, id, now, 0);
	t->depth = top;
	return 0;
}

/*
 * kernspan's own header pins the arguments to %rdi and %rsi (x86-64), so
 * these read the registers directly; userspace attaches them only where
 * every site's note says so. Other layouts go through libbpf's argument
 * specs (the *_usdt twins below).
 *
 * KS_REGS_PROG(name) defines each body once for two programs: `name`, a
 * USDT program, and `name_m`, the same attached through multi-uprobe links
 * (userspace sets the expected attach type): one link per probe name for all
 * its sites. The body is inlined into both.
 */
#define KS_REGS_PROG(name)                                                                         \
	static __always_inline int name##_body(struct pt_regs *ctx);                               \
	SEC("usdt") int name(struct pt_regs *ctx)                                                  \
	{                                                                                          \
		return name##_body(ctx);                                                           \
	}                                                                                          \
	SEC("uprobe") int name##_m(struct pt_regs *ctx)                                            \
	{                                                                                          \
		return name##_body(ctx);                                                           \
	}                                                                                          \
	static __always_inline int name##_body(struct pt_regs *ctx)

KS_REGS_PROG(span_begin)
{
	return ks_begin(PT_REGS_PARM1(ctx), 0);
}

KS_REGS_PROG(span_begin_remote)
{
	__u64 tp = PT_REGS_PARM2(ctx);

	return ks_begin(PT_REGS_PARM1(ctx), tp ? tp : 1);
}

KS_REGS_PROG(span_end)
{
	return ks_end(PT_REGS_PARM1(ctx));
}

SEC("usdt")
int BPF_USDT(span_begin_usdt, __u64 name)
{
	return ks_begin(name, 0);
}

SEC("usdt")
int BPF_USDT(span_begin_remote_usdt, __u64 name, __u64 traceparent)
{
	return ks_begin(name, traceparent ? traceparent : 1);
}

SEC("usdt")
int BPF_USDT(span_end_usdt, __u64 name)
{
	return ks_end(name);
}

/*
 * The floor for bench/run_spine.sh: an empty program on kernspan's own span
 * probes, attached as the real ones are (multi-uprobe links, or libbpf's
 * USDT attach for sites it cannot use them on), or that program doing the
 * least a span needs (ks_floor). Loaded only with `kernspan trace
 * --bench-floor`, `--bench-floor-clock` or `--bench-floor-record` (hidden).
 */
/* 0: empty; 1: --bench-floor-clock; 2: --bench-floor-record (Plan::bench_floor_work) */
const volatile __u8 targ_floor_clock = 0;
__u64 floor_clock_sink;

/* The time of the previous probe hit on this CPU, 0 after an emitted pair. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} floor_begun SEC(".maps");

/*
 * --bench-floor-clock: the one clock read a span's begin and its end each
 * need, and nothing else. --bench-floor-record: that, and every second hit
 * on a CPU emits the least a latency record holds (header, start, end), as
 * a lower bound of any tracer that sends its spans out. (A benchmark's
 * begin and end alternate on one CPU; nothing here pairs them by thread.)
 */
static __always_inline int ks_floor(void)
{
	__u32 zero = 0;
	struct ks_bench_rec *r;
	__u64 now, *begun;

	if (!targ_floor_clock)
		return 0;
	now = bpf_ktime_get_ns();
	floor_clock_sink = now;
	if (targ_floor_clock != 2)
		return 0;
	begun = bpf_map_lookup_elem(&floor_begun, &zero);
	if (!begun)
		return 0;
	if (!*begun) {
		*begun = now;
		return 0;
	}
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r) {
		r->hdr.kind = KS_REC_BENCH;
		r->hdr.size = sizeof(*r);
		r->hdr.ktime = now;
		r->start_ns = *begun;
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	}
	*begun = 0;
	return 0;
}

SEC("uprobe")
int floor_span_m(struct pt_regs *ctx)
{
	return ks_floor();
}

/* The same for probes attached through libbpf's USDT support. */
SEC("usdt")
int floor_span_usdt(struct pt_regs *ctx)
{
	return ks_floor();
}

/* A renamed target thread sends its new comm with its next record. */
SEC("tp_btf/task_rename")
int BPF_PROG(task_rename, struct task_struct *task, const char *comm)
{
	struct ks_thread *t;

	if (!ks_is_target(task->tgid))
		return 0;
	t = ks_thread_of(task, false);
	if (t)
		t->comm_sent = 0;
	return 0;
}

/*
 * A thread that exits with spans open: report each as incomplete (ended at
 * the exit) so none is lost silently. Since Linux 6.16 this tracepoint fires
 * before exit_mm(), so the name can still be read; on older kernels the read
 * fails, the name stays empty and userspace fills it in from name_ptr.
 */
struct ks_exit_ctx {
	struct ks_thread *t;
	__u64 id;
	__u64 now;
};

/* bpf_loop callback: report the innermost open span as incomplete. */
static long ks_exit_one(__u32 k, void *arg)
{
	struct ks_exit_ctx *c = arg;
	struct ks_thread *t = c->t;
	__u32 top;

	if (t->depth == 0)
		return 1;
	top = (t->depth - 1) & (KS_MAX_DEPTH - 1);
	if (!(t->frames[top].flags & (KS_FRAME_UNSAMPLED | KS_FRAME_TIMED_OUT)))
		ks_count_drop(KS_DROP_INCOMPLETE); /* else counted as sampled out or timed out */
	ks_emit_rec(t, top, c->id, c->now, KS_SPAN_INCOMPLETE, true);
	t->depth = top;
	return 0;
}

static __always_inline int ks_thread_exit(struct task_struct *task)
{
	__u64 id = ks_task_id(task); /* the exiting task is the current one */
	struct ks_exit_ctx ec = {};
	struct ks_thread *t;

	if (!ks_is_target(id >> 32))
		return 0;
	t = ks_thread_of(task, false);
	if (t && t->depth != 0) {
		ec.t = t;
		ec.id = id;
		ec.now = bpf_ktime_get_ns();
		bpf_loop(KS_MAX_DEPTH, ks_exit_one, &ec, 0);
	}
	ks_pair_strs_exit(task, (__u32)id);
	ks_thread_release(task);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(thread_exit, struct task_struct *task)
{
	return ks_thread_exit(task);
}

/* raw_tp arguments are plain numbers that task storage refuses; the
 * exiting task is the current one, so take its BTF pointer. */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(thread_exit_raw, struct task_struct *task)
{
	return ks_thread_exit(bpf_get_current_task_btf());
}

/*
 * --span-timeout: run by userspace once a second over each target's threads
 * (iter/task, attached per process). A frame open longer than the timeout
 * is reported now as an incomplete span and marked, so its end, if it ever
 * comes, sends nothing more. The record carries no name (userspace names it
 * from the target: bpf_probe_read_user here would read kernspan's memory)
 * and no costs (they belong to the thread's own context).
 */
struct ks_expire_ctx {
	struct ks_thread *t;
	__u64 id; /* tgid << 32 | tid of the iterated thread */
	__u64 now;
	char comm[KS_COMM_LEN];
};

static long ks_expire_one(__u32 k, void *arg)
{
	struct ks_expire_ctx *c = arg;
	struct ks_frame *f;
	struct ks_span_rec *r;

	if (k >= c->t->depth)
		return 1;
	f = &c->t->frames[k & (KS_MAX_DEPTH - 1)];
	if ((f->flags & (KS_FRAME_TIMED_OUT | KS_FRAME_UNSAMPLED)) || c->now < f->start_ns ||
	    c->now - f->start_ns < targ_span_timeout_ns)
		return 0;
	if (targ_mode == KS_MODE_STATS) { /* no records: counted only */
		f->flags |= KS_FRAME_TIMED_OUT;
		ks_count_drop(KS_DROP_TIMED_OUT);
		return 0;
	}
	r = bpf_ringbuf_reserve(&events, KS_SPAN_REC_NO_COSTS_NO_NAME, 0);
	if (!r) {
		ks_count_drop(KS_DROP_RINGBUF);
		return 0; /* tried again next second */
	}
	ks_fill_span_fields(r, f, k, KS_REC_SPAN, KS_SPAN_REC_NO_COSTS_NO_NAME, c->id, c->now,
			    (f->flags & ~(KS_FRAME_TIMED_OUT | KS_FRAME_UNSAMPLED)) |
				KS_SPAN_INCOMPLETE | KS_SPAN_NAME_OMITTED);
	__builtin_memcpy(r->comm, c->comm, KS_COMM_LEN);
	bpf_ringbuf_submit(r, ks_rb_flags(KS_SPAN_REC_NO_COSTS_NO_NAME));
	f->flags |= KS_FRAME_TIMED_OUT;
	ks_count_drop(KS_DROP_TIMED_OUT);
	return 0;
}

SEC("iter/task")
int expire_spans(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct ks_expire_ctx c = {};
	struct ks_thread *t;

	if (!task || !targ_span_timeout_ns)
		return 0;
	t = ks_thread_of(task, false);
	if (!t || t->depth == 0)
		return 0;
	c.t = t;
	c.id = ((__u64)task->tgid << 32) | (__u32)task->pid;
	c.now = bpf_ktime_get_ns();
	bpf_probe_read_kernel_str(c.comm, sizeof(c.comm), task->comm);
	bpf_loop(KS_MAX_DEPTH, ks_expire_one, &c, 0);
	return 0;
}
