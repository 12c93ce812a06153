// SPDX-License-Identifier: Apache-2.0
// libksdl.so: loaded by testprog_dlopen with dlopen() after kernspan
// attached. ksdl_run(n) makes n "dl_span" spans (kernspan USDT probes in
// this library), each around one call of ksdl_work (for --uprobe), and n
// "dl_remote" spans joining a W3C trace: a probe kind the target's main
// program does not have, so its BPF program is loaded only when this
// library appears.
#include <kernspan/kernspan.h>

#define KSDL_TRACEPARENT "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

extern "C" __attribute__((noipa, visibility("default"))) long ksdl_work(long i) {
  return i + 7;
}

extern "C" __attribute__((visibility("default"))) long ksdl_run(long n) {
  long sum = 0;
  for (long i = 0; i < n; i++) {
    kernspan::Span span("dl_span");
    sum += ksdl_work(i);
  }
  for (long i = 0; i < n; i++) {
    KERNSPAN_BEGIN_REMOTE("dl_remote", KSDL_TRACEPARENT);
    KERNSPAN_END("dl_remote");
  }
  return sum;
}
