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

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int ks_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse `n` hex digits at tp[off]; -1 on a bad digit. */
static __always_inline int ks_parse_hex(const char *tp, int off, int n, __u64 *out)
{
	__u64 v = 0;

	for (int i = 0; i < 16; i++) {
		if (i >= n)
			break;
		int d = ks_hexval(tp[(off + i) & 63]);

		if (d < 0)
			return -1;
		v = (v << 4) | d;
	}
	*out = v;
	return 0;
}

/*
 * W3C traceparent: "vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>".
 * Returns 0 and fills the frame's trace and parent on success.
 */
static __always_inline int ks_parse_traceparent(__u64 uptr, struct ks_frame *f)
{
	char tp[64] = {};
	__u64 ver, hi, lo, parent, flags;

	if (!uptr || bpf_probe_read_user(tp, KS_TRACEPARENT_LEN, (const void *)uptr))
		return -1;
	if (tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
		return -1;
	if (ks_parse_hex(tp, 0, 2, &ver) || ver == 0xff || ks_parse_hex(tp, 3, 16, &hi) ||
	    ks_parse_hex(tp, 19, 16, &lo) || ks_parse_hex(tp, 36, 16, &parent) ||
	    ks_parse_hex(tp, 53, 2, &flags))
		return -1;
	if ((!hi && !lo) || !parent)
		return -1;
	f->trace_id_hi = hi;
	f->trace_id_lo = lo;
	f->parent_span_id = parent;
	f->flags |= KS_SPAN_REMOTE_PARENT | ((flags & 1) ? KS_SPAN_SAMPLED : 0);
	return 0;
}

static __always_inline int ks_begin(__u64 name_ptr, __u64 traceparent)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ks_thread *t;
	struct ks_frame *f;
	__u32 d;

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
	t->depth = d + 1;
	f->start_ns = bpf_ktime_get_ns();
	if (targ_costs) {
		ks_sync_oncpu(t, (__u32)id, f->start_ns);
		ks_costs_now(t, f->start_ns, &f->base);
	}
	return 0;
}

/* Submit the span in frames[i], ended at `now`. */
static __always_inline void ks_emit(struct ks_thread *t, __u32 i, __u64 id, __u64 now, __u32 extra,
				    bool read_name)
{
	struct ks_frame *f = &t->frames[i & (KS_MAX_DEPTH - 1)];
	struct ks_span_rec *r;

	if (ks_mode_consumed(t, f, id, now, extra))
		return;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		ks_count_drop(KS_DROP_RINGBUF);
		return;
	}
	ks_fill_hdr(&r->hdr, KS_REC_SPAN, sizeof(*r), id, now);
	r->start_ns = f->start_ns;
	r->end_ns = now;
	r->trace_id_hi = f->trace_id_hi;
	r->trace_id_lo = f->trace_id_lo;
	r->span_id = f->span_id;
	r->parent_span_id = f->parent_span_id;
	r->depth = i;
	r->flags = f->flags | extra;
	r->name_ptr = f->name_ptr;
	r->name[0] = 0;
	if (read_name)
		bpf_probe_read_user_str(r->name, sizeof(r->name), (const void *)f->name_ptr);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	if (targ_costs) {
		struct ks_costs end;

		ks_sync_oncpu(t, (__u32)id, now);
		ks_costs_now(t, now, &end);
		ks_costs_delta(&end, &f->base, &r->costs);
		r->flags |= KS_SPAN_HAS_COSTS;
	} else {
		__builtin_memset(&r->costs, 0, sizeof(r->costs));
	}
	bpf_ringbuf_submit(r, ks_rb_flags(sizeof(*r)));
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
	__u64 id = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	struct ks_thread *t;
	__u32 d, top;

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
	d = t->depth;
	top = (d - 1) & (KS_MAX_DEPTH - 1);
	if (!ks_same_name(t->frames[top].name_ptr, name_ptr)) {
		/* An inner span never ended (exception, longjmp): find the
		 * frame this end belongs to, abandon the ones above it. */
		__u32 found = KS_MAX_DEPTH;

		for (int i = KS_MAX_DEPTH - 1; i >= 0; i--) {
			if ((__u32)i < top && t->frames[i].name_ptr == name_ptr) {
				found = i;
				break;
			}
		}
		if (found == KS_MAX_DEPTH) {
			ks_count_drop(KS_DROP_UNMATCHED_END);
			return 0;
		}
		ks_count_drops(KS_DROP_MISMATCHED_END, top - found);
		top = found;
	}
	ks_emit(t, top, id, now, 0, true);
	t->depth = top;
	return 0;
}

/*
 * kernspan's own header pins the arguments to %rdi and %rsi (x86-64), so
 * these read the registers directly; userspace attaches them only where
 * every site's note says so. Other layouts go through libbpf's argument
 * specs (the *_usdt twins below).
 */
SEC("usdt")
int span_begin(struct pt_regs *ctx)
{
	return ks_begin(PT_REGS_PARM1(ctx), 0);
}

SEC("usdt")
int span_begin_remote(struct pt_regs *ctx)
{
	__u64 tp = PT_REGS_PARM2(ctx);

	return ks_begin(PT_REGS_PARM1(ctx), tp ? tp : 1);
}

SEC("usdt")
int span_end(struct pt_regs *ctx)
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
 * A thread that exits with spans open: report each as incomplete (ended at
 * the exit) so none is lost silently. Since Linux 6.16 this tracepoint fires
 * before exit_mm(), so the name can still be read; on older kernels the read
 * fails, the name stays empty and userspace fills it in from name_ptr.
 */
static __always_inline int ks_thread_exit(struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 now;
	struct ks_thread *t;

	if (!ks_is_target(id >> 32))
		return 0;
	t = bpf_task_storage_get(&threads, task, 0, 0);
	if (!t || t->depth == 0)
		return 0;
	now = bpf_ktime_get_ns();
	for (__u32 i = 0; i < KS_MAX_DEPTH; i++) {
		__u32 top;

		if (t->depth == 0)
			break;
		top = (t->depth - 1) & (KS_MAX_DEPTH - 1);
		if (!(t->frames[top].flags & KS_FRAME_UNSAMPLED))
			ks_count_drop(KS_DROP_INCOMPLETE); /* else counted as sampled out */
		ks_emit(t, top, id, now, KS_SPAN_INCOMPLETE, true);
		t->depth = top;
	}
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
