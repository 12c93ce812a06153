#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Writes the syscall table of this architecture as C++ initializers,
# {number, "name"}, from the kernel's own <asm/unistd.h> (linux-libc-dev),
# so that no syscall number is typed by hand. Usage: gen_syscall_names.sh CC OUT
set -eu
echo '#include <asm/unistd.h>' | "$1" -E -dM - |
  sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9][0-9]*\)$/{\2, "\1"},/p' |
  sort -t, -k1.2n >"$2.tmp"
[ "$(wc -l <"$2.tmp")" -gt 100 ] || { echo "gen_syscall_names: too few syscalls found" >&2; exit 1; }
mv "$2.tmp" "$2"
