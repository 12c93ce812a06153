/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kernspan.h - the one definition of every record, key and constant that
 * crosses between the BPF programs and userspace. Plain C, fixed-width
 * types only, explicit padding: both clang -target bpf and g++ include it.
 */
#ifndef KERNSPAN_BPF_KERNSPAN_H
#define KERNSPAN_BPF_KERNSPAN_H

#ifdef __KERNSPAN_BPF__
/* vmlinux.h already defines __u8..__u64 */
#else
#include <linux/types.h>
#endif

#define KS_MAX_DEPTH 32 /* open spans per thread */
/* Bytes of a span name compared when an end's name pointer differs from its
 * begin's. */
#define KS_NAME_LEN 64
/* Strings read from the target (span names, string attributes) keep up to
 * targ_max_string bytes (--max-string), at most KS_MAX_STRING. Longer ones
 * are cut there and marked (KS_SPAN_NAME_CUT, KS_STR_CUT). */
#define KS_MAX_STRING 4096
#define KS_DEFAULT_STRING 256
#define KS_COMM_LEN 16	      /* TASK_COMM_LEN */
#define KS_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define KS_MAX_TARGETS 4096   /* tgids in the target set */
#define KS_MAX_NAME_RANGES 16 /* read-only mappings whose span names are cached */
#define KS_NAME_CACHE 8	      /* span name pointers each thread remembers sending */

/* Record kinds (ks_hdr.kind). */
#define KS_REC_SPAN 1
/* 4: ks_bench_rec, from the benchmark-only floor (trace --bench-floor-record);
 * userspace drops it unread. */
#define KS_REC_BENCH 4

/* ks_span_rec.flags */
#define KS_SPAN_REMOTE_PARENT (1u << 0) /* parent came from a traceparent */
#define KS_SPAN_INCOMPLETE (1u << 1)	/* thread exited before the end */
#define KS_SPAN_SAMPLED (1u << 2)	/* traceparent flags had sampled */
#define KS_SPAN_HAS_COSTS (1u << 3)	/* costs were measured */
/* The name was not copied (the record stops before `name`): name_ptr lies in
 * a read-only mapping of the target, whose text cannot change, and this
 * thread already sent it in an earlier record. Userspace names the span from
 * that record. */
#define KS_SPAN_NAME_OMITTED (1u << 4)
/* comm was not copied: the thread sent it in an earlier record and has not
 * been renamed since (task_rename clears the thread's flag). */
#define KS_SPAN_COMM_OMITTED (1u << 5)
/* The name was longer than targ_max_string: the record holds its first
 * targ_max_string bytes (counted in KS_DROP_STRING_TRUNCATED). */
#define KS_SPAN_NAME_CUT (1u << 6)

/*
 * Places that can lose or refuse data. Each is a slot of the per-CPU
 * `drops` array; userspace sums the CPUs and reports every slot.
 */
#define KS_DROP_RINGBUF 0	  /* ring buffer reserve failed */
#define KS_DROP_STACK_OVERFLOW 1  /* begin at depth KS_MAX_DEPTH */
#define KS_DROP_UNMATCHED_END 2	  /* end with no open span (begun before attach) */
#define KS_DROP_MISMATCHED_END 3  /* end whose name is not the innermost open span */
#define KS_DROP_BAD_TRACEPARENT 4 /* unparsable traceparent: a new trace was started */
#define KS_DROP_NO_STORAGE 5	  /* task storage could not be created */
#define KS_DROP_INCOMPLETE 6	  /* spans still open when their thread exited */
/* Slot 7: strings read from the target longer than targ_max_string, cut. */
#define KS_DROP_STRING_TRUNCATED 7
/* Slots 8.. belong to function uprobes. KS_DROP_FN_ABANDONED:
 * function spans whose return never came (longjmp, exceptions), reported
 * incomplete when an outer traced return passed them. */
#define KS_DROP_FN_ABANDONED 8
#define KS_DROP_ASYNC_FULL 9 /* async --span begins refused: async_spans full */
/* Modes: slots 10 and 11 are not losses but choices (shown apart
 * from the drops); slot 12 is a loss. */
#define KS_DROP_SAMPLED_OUT 10 /* --mode sample: spans of traces not kept */
#define KS_DROP_FILTERED 11    /* --min-duration: spans ended too soon */
#define KS_DROP_STATS_FULL 12  /* --mode stats: no room for a new span name */
/* Slot 13: spans open longer than --span-timeout, reported incomplete by
 * the expire_spans iterator (their ends never came: exceptions, longjmp
 * out of a marked region, a thread blocked for good). */
#define KS_DROP_TIMED_OUT 13
/* Slot 14: a process to follow (fork child, exec of --binary) found the
 * `targets` set full and is not traced. */
#define KS_DROP_FOLLOW_FULL 14
/* Slot 15 belongs to the cost programs: TCP retransmit segments
 * of a target's socket not charged to a thread (its last sender exited, or
 * its storage was busy), or a send whose socket storage failed. */
#define KS_DROP_RETRANS_UNATTRIBUTED 15
/* Slot 16: string arguments that could not be read (unmapped memory, or a
 * number that is no pointer): their value is empty. Slot 17: strings read at
 * a --span begin that found no room in `pair_strs`: empty at the end. */
#define KS_DROP_STRING_UNREADABLE 16
#define KS_DROP_STRING_UNSTORED 17
#define KS_DROP_MAX 18

/* Common header of every record in the `events` ring buffer. */
struct ks_hdr {
	__u16 kind;
	__u16 size; /* whole record, header included */
	__u32 tgid;
	__u32 tid;
	__u32 cpu;
	__u64 ktime; /* bpf_ktime_get_ns() when the record was made */
};

/* The least a latency record can carry: when it began and ended. */
struct ks_bench_rec {
	struct ks_hdr hdr;
	__u64 start_ns;
};

/*
 * What a span cost, as deltas between its begin and its end on its thread.
 * Zero unless the cost programs are loaded (KS_SPAN_HAS_COSTS).
 */
struct ks_costs {
	__u64 cpu_ns;
	__u64 offcpu_ns;
	__u64 runq_ns;
	__u64 io_wait_ns;
	__u64 sleep_ns;
	__u64 syscalls;
	__u64 syscall_ns;
	__u64 read_bytes;
	__u64 write_bytes;
	__u64 net_tx_bytes;
	__u64 net_rx_bytes;
	__u64 tcp_retransmits;
	__u64 minflt;
	__u64 majflt;
	__u64 ctxsw_voluntary;
	__u64 ctxsw_involuntary;
};

/*
 * One finished span. The record may stop early, before `costs`, when no
 * costs were measured and the name was omitted (hdr.size says which; see
 * KS_SPAN_NAME_OMITTED). Ring buffer memory is cold, so every cache line not
 * written is time saved on the traced thread. A KS_REC_SPAN record with its
 * name goes on after `costs` with the name's bytes, no terminator:
 * hdr.size - sizeof(struct ks_span_rec) of them, at most KS_MAX_STRING.
 */
struct ks_span_rec {
	struct ks_hdr hdr;
	__u64 start_ns; /* bpf_ktime_get_ns() at begin */
	__u64 end_ns;	/* at end (or at thread exit when incomplete) */
	__u64 trace_id_hi;
	__u64 trace_id_lo;
	__u64 span_id;
	__u64 parent_span_id; /* 0 for a root */
	__u32 depth;	      /* 0 for a root */
	__u32 flags;	      /* KS_SPAN_* */
	__u64 name_ptr;	      /* target address of the name: userspace names
			       * incomplete spans whose memory is gone by it */
	char comm[KS_COMM_LEN];
	struct ks_costs costs;
};

#define KS_SPAN_REC_NO_COSTS_NO_NAME __builtin_offsetof(struct ks_span_rec, costs)
#define KS_SPAN_REC_NO_NAME sizeof(struct ks_span_rec)

/* A read-only mapping of a target, [lo, hi): span names there never change. */
struct ks_name_range {
	__u32 tgid;
	__u32 _pad;
	__u64 lo;
	__u64 hi;
};

/*
 * One thread's running totals since attach, as written by the `dump_threads`
 * task iterator (not the ring buffer: read on demand by `kernspan top`).
 * cpu_ns and the off-CPU buckets include the piece in progress.
 */
struct ks_thread_rec {
	__u32 tid;
	__u32 tgid;
	__u64 ktime; /* when the record was made */
	char comm[KS_COMM_LEN];
	struct ks_costs costs;
};

/*
 * Function uprobes. A function span's frame is keyed by a tag
 * instead of a name pointer: KS_FN_TAG | probe id. The tag can never be a
 * user address, so USDT name comparisons never match it, and userspace names
 * every span whose name_ptr carries the tag from its plan (probe id = index).
 * The attach cookie of each uprobe is probe id | nargs << 32.
 */
#define KS_REC_FN_SPAN 2
#define KS_FN_TAG (1ull << 63)
#define KS_FN_MAX_ARGS 6 /* integer argument registers on x86-64 */

/* A finished function span: the span, then its arguments and return value. */
struct ks_fn_span_rec {
	struct ks_span_rec span; /* span.hdr.kind == KS_REC_FN_SPAN */
	__u32 probe_id;
	__u32 nargs; /* args[0..nargs) are valid */
	__u64 args[KS_FN_MAX_ARGS];
	__u64 ret;
};

/*
 * USDT pairs: --span 'P:BEGIN..P:END,...' turns any two existing
 * USDT probes into spans. Frames are keyed by KS_PAIR_TAG | pair id (the
 * usdt cookie); KS_PAIR_TAG is above every user address and distinct from
 * KS_FN_TAG.
 */
#define KS_REC_PAIR_SPAN 3
#define KS_PAIR_TAG (1ull << 62)
#define KS_MAX_PAIRS 64
#define KS_PAIR_MAX_ATTRS 4
/* Strings of a pair span: its name (KS_PAIR_STR_NAME), then one per
 * attribute (unused for integer attributes). */
#define KS_PAIR_NSTRS (1 + KS_PAIR_MAX_ATTRS)
#define KS_PAIR_STR_NAME 0
/* ks_pair_span_rec.str_state */
#define KS_STR_CUT 1	      /* longer than targ_max_string: its first bytes */
#define KS_STR_UNREADABLE 2   /* not readable (KS_DROP_STRING_UNREADABLE): empty */
#define KS_MAX_USDT_COUNTS 64 /* --usdt probes counted */

/* Where a name or attribute comes from. */
#define KS_PAIR_FROM_BEGIN 0
#define KS_PAIR_FROM_END 1

/* Per pair, set by userspace in the `pair_cfg` array (index: pair id). */
struct ks_pair_cfg {
	__s8 name_arg; /* argument holding the name (a string); -1: a literal */
	__u8 name_from;
	__s8 id_arg; /* async: pair by this argument's value; -1: per thread */
	__u8 nattrs;
	__s8 attr_arg[KS_PAIR_MAX_ATTRS];
	__u8 attr_from[KS_PAIR_MAX_ATTRS];
	__u8 attr_str[KS_PAIR_MAX_ATTRS]; /* 1: char pointer, copied bounded */
	__u8 _pad[4];
};

/* What a pair's begin saved for its end, besides strings (`pair_strs`). */
struct ks_pair_vals {
	__u64 ints[KS_PAIR_MAX_ATTRS];
};

/*
 * A finished pair span. After the fixed part come its strings, packed in
 * order (the name, then each attribute's), no terminators: str_len[i] bytes
 * each, hdr.size = sizeof(struct ks_pair_span_rec) + their sum. A literal
 * name has no bytes (userspace has it).
 */
struct ks_pair_span_rec {
	struct ks_span_rec span; /* span.hdr.kind == KS_REC_PAIR_SPAN */
	__u32 pair_id;
	__u32 async; /* 1: paired by id across threads */
	__u64 ints[KS_PAIR_MAX_ATTRS];
	__u16 str_len[KS_PAIR_NSTRS];
	__u8 str_state[KS_PAIR_NSTRS]; /* KS_STR_* */
	__u8 _pad;
};

/*
 * Strings a pair's begin read, kept for its end in the `pair_strs` hash
 * map, keyed by thread and depth (or, async, by tgid, pair and id). Each
 * string has a slot of targ_str_stride bytes after this header: the map's
 * value size is set at load, so it grows with --max-string only.
 */
struct ks_pair_strs_key {
	__u32 task; /* tid; async: tgid */
	__u32 slot; /* KS_PAIR_STRS_SYNC | depth; async: pair id */
	__u64 id;   /* async: the id argument's value; else 0 */
};
#define KS_PAIR_STRS_SYNC (1u << 31)
struct ks_pair_strs {
	__u16 len[KS_PAIR_NSTRS];
	__u8 state[KS_PAIR_NSTRS];
	__u8 _pad;
	/* then KS_PAIR_NSTRS slots of targ_str_stride bytes */
};
/* A slot holds a read of targ_max_string + 2 bytes (one more than kept,
 * and the terminator), rounded up to 8. */
#define KS_STR_STRIDE(n) ((((n) + 2) + 7) & ~7u)
#define KS_PAIR_STRS_SIZE(n) (sizeof(struct ks_pair_strs) + KS_PAIR_NSTRS * KS_STR_STRIDE(n))

/*
 * Modes, rodata targ_mode. trace: a record per span. sample: a
 * trace is kept or dropped whole, decided where it begins (a frame with no
 * local parent), by its trace id's low 56 bits against targ_sample_below.
 * stats: no records; per span identity a log2 histogram and sums in the
 * `span_stats` map, read by userspace.
 */
#define KS_MODE_TRACE 0
#define KS_MODE_SAMPLE 1
#define KS_MODE_STATS 2
#define KS_SAMPLE_BITS 56
/* ks_frame.flags only, never in a record: the frame's trace is not kept. */
#define KS_FRAME_UNSAMPLED (1u << 31)
/* --span-timeout: this open frame was already reported incomplete by the
 * expire_spans iterator; its end, if it ever comes, sends nothing. */
#define KS_FRAME_TIMED_OUT (1u << 30)
#define KS_STAT_SLOTS 64 /* slot i: durations in [2^i, 2^(i+1)) ns; 0 also in 0 */

/* Who a span is: its frame key (name pointer, KS_FN_TAG | probe id or
 * KS_PAIR_TAG | pair id) in one process. */
struct ks_stat_key {
	__u64 span;
	__u32 tgid;
	__u32 _pad;
};

/* Per CPU (BPF_MAP_TYPE_PERCPU_HASH): userspace adds the CPUs. */
struct ks_stat_val {
	__u64 count;
	__u64 incomplete;
	__u64 sum_ns;
	__u64 max_ns;
	__u64 with_costs;      /* spans whose costs are in `costs` */
	struct ks_costs costs; /* sums */
	__u64 hist[KS_STAT_SLOTS];
	__u64 named; /* this CPU found the name in `stat_names` */
};

/*
 * --mode stats: the name of one of kernspan's own spans (a ks_stat_key),
 * read on first use into the `stat_names` hash map, whose value size is set
 * at load (KS_STAT_NAME_SIZE): len bytes of it follow this header.
 */
struct ks_stat_name {
	__u16 len;
	__u8 state; /* KS_STR_CUT: longer than targ_max_string */
	__u8 _pad[5];
};
#define KS_STAT_NAME_SIZE(n) (sizeof(struct ks_stat_name) + KS_STR_STRIDE(n))

/*
 * The sysadmin tools (bpf/tools/, their own object and skeleton): machine-
 * wide or one process, no spans.
 *
 * kernspan syscalls: per syscall number, counts, failures and a log2
 * histogram of the time in the kernel; per (number, errno), failures.
 * Per CPU (BPF_MAP_TYPE_PERCPU_HASH): userspace adds the CPUs.
 */
#define KS_SYS_SLOTS 40	      /* slot i: [2^i, 2^(i+1)) ns; 0 also 0 */
#define KS_SYS_MAX 1024	      /* syscall numbers kept (the kernel's table is smaller) */
#define KS_SYS_ERRNO_MAX 4096 /* (number, errno) pairs kept */
/* Slots of the tools' per-CPU `tool_drops` array. */
#define KS_TOOL_DROP_STATS_FULL 0 /* a syscall number found the stats map full */
#define KS_TOOL_DROP_ERRNO_FULL 1 /* a (number, errno) pair found its map full */
#define KS_TOOL_DROP_NO_STORAGE 2 /* a thread's entry time could not be stored */
#define KS_TOOL_DROP_MAX 4

struct ks_sys_val {
	__u64 count;  /* returns seen (exit/exit_group never return) */
	__u64 errors; /* returns of -4095..-1 */
	__u64 total_ns;
	__u64 hist[KS_SYS_SLOTS];
};

struct ks_sys_errno_key {
	__u32 nr;
	__u32 err; /* positive errno */
};

#endif /* KERNSPAN_BPF_KERNSPAN_H */
