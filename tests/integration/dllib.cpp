// SPDX-License-Identifier: Apache-2.0
// libksdl.so: loaded by testprog_dlopen with dlopen() after kernspan
// attached. ksdl_run(n) makes n "dl_span" spans (kernspan USDT probes in
// this library), each around one call of ksdl_work (for --uprobe).
#include <kernspan/kernspan.h>

extern "C" __attribute__((noipa, visibility("default"))) long ksdl_work(long i) {
  return i + 7;
}

extern "C" __attribute__((visibility("default"))) long ksdl_run(long n) {
  long sum = 0;
  for (long i = 0; i < n; i++) {
    kernspan::Span span("dl_span");
    sum += ksdl_work(i);
  }
  return sum;
}
