/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Strings read from a target: up to targ_max_string bytes kept, one more
 * read to tell "exactly that long" from "longer" (a cut, counted), and an
 * unreadable pointer counted and kept as an empty string.
 */
#ifndef KERNSPAN_BPF_LIB_STRINGS_BPF_H
#define KERNSPAN_BPF_LIB_STRINGS_BPF_H

#include "maps.bpf.h"

/* Bytes a string read writes at its destination: what is kept, one more
 * and the terminator. */
#define KS_STR_READ_SIZE (targ_max_string + 2)

/*
 * Read the string at user address `ptr` into dst (KS_STR_READ_SIZE bytes of
 * room). Returns the bytes kept (at most targ_max_string) and sets *state
 * to 0, KS_STR_CUT (counted) or KS_STR_UNREADABLE (not counted here).
 */
static __always_inline __u32 ks_read_str_quiet(void *dst, __u64 ptr, __u8 *state)
{
	long n = bpf_probe_read_user_str(dst, KS_STR_READ_SIZE, (const void *)ptr);

	if (n <= 0) {
		*state = KS_STR_UNREADABLE;
		return 0;
	}
	if (n - 1 > targ_max_string) {
		*state = KS_STR_CUT;
		ks_count_drop(KS_DROP_STRING_TRUNCATED);
		return targ_max_string;
	}
	*state = 0;
	return (__u32)(n - 1);
}

/* ks_read_str_quiet, an unreadable string counted as one. */
static __always_inline __u32 ks_read_str(void *dst, __u64 ptr, __u8 *state)
{
	__u32 len = ks_read_str_quiet(dst, ptr, state);

	if (*state == KS_STR_UNREADABLE)
		ks_count_drop(KS_DROP_STRING_UNREADABLE);
	return len;
}

/*
 * --span pairs: what a begin read, for its end. Here, not in pairs.bpf.c,
 * so that a thread's exit (spans.bpf.c) can free what its frames held.
 */
struct ks_pair_stack {
	struct ks_pair_vals v[KS_MAX_DEPTH]; /* by stack depth */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ks_pair_stack);
} pair_vals SEC(".maps") __weak;

/* Strings read at begins (struct ks_pair_strs and its slots); the value
 * size is set at load from --max-string (KS_PAIR_STRS_SIZE). Entries are
 * made only for pairs with a string read at the begin, and removed at the
 * end, or at the thread's exit; a begin finding it full is counted
 * (KS_DROP_STRING_UNSTORED). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(struct ks_pair_strs_key));
	__uint(value_size, KS_PAIR_STRS_SIZE(KS_DEFAULT_STRING));
} pair_strs SEC(".maps") __weak;

/* bpf_loop callback: forget the strings of the exiting thread's frame at
 * depth k (arg: its tid). */
static long ks_forget_pair_strs(__u32 k, void *arg)
{
	struct ks_pair_strs_key key = {.task = *(__u32 *)arg, .slot = KS_PAIR_STRS_SYNC | k};

	bpf_map_delete_elem(&pair_strs, &key);
	return 0;
}

/* At a thread's exit: free the strings its open or abandoned pair frames
 * held (only a thread that began a pair has pair_vals). */
static __always_inline void ks_pair_strs_exit(struct task_struct *task, __u32 tid)
{
	if (bpf_task_storage_get(&pair_vals, task, 0, 0))
		bpf_loop(KS_MAX_DEPTH, ks_forget_pair_strs, &tid, 0);
}

#endif /* KERNSPAN_BPF_LIB_STRINGS_BPF_H */
