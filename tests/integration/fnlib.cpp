// SPDX-License-Identifier: Apache-2.0
// A small shared library the uprobe test program calls: its functions get
// uprobes through the library's name in the process's maps.
#include "fnlib.hpp"

extern "C" __attribute__((noipa)) long fnlib_square(long x) {
  return x * x;
}
