// SPDX-License-Identifier: Apache-2.0
// Strings of known lengths handed to kernspan: a <sys/sdt.h> probe pair
// strs:begin(name, attr) .. strs:end(attr) (for --span
// 'strs:begin..strs:end,name=arg0,attr.b=str(arg1),attr.e=str(end.arg0)'),
// and one header span with a 300-byte name. Prints "ready", waits for
// SIGUSR1, then, on one thread:
//   for L in 63 64 255 256 257 4096: begin(s(L), s(L)) end(s(L))
//   begin("unmapped", <an unmapped page>)  end("e")
//   begin(<the integer 12345>, "int")      end("e")
//   begin("binary", "a" 01 FF "b")         end("e")
//   KERNSPAN_BEGIN/END of a 300-byte name ("h" x 300)
// s(L) is "x", then U+00E9 (C3 A9) repeated, then "y" when L is even: L
// bytes whose character boundaries are at the odd offsets (and L).
#include <sys/sdt.h>

#include "ready_signal.hpp"

#include <kernspan/kernspan.h>

#include <cstdint>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace {

std::string s_of(size_t len) {
  std::string s = "x";
  while (s.size() + 2 <= len) {
    s += "\xC3\xA9";
  }
  if (s.size() < len) {
    s += "y";
  }
  return s;
}

#define H10 "hhhhhhhhhh"
#define H100 H10 H10 H10 H10 H10 H10 H10 H10 H10 H10

// Real calls, so the compiler cannot merge the probe sites' arguments.
__attribute__((noinline)) void pair(const char *name, const char *attr, const char *end) {
  DTRACE_PROBE2(strs, begin, name, attr);
  DTRACE_PROBE1(strs, end, end);
}

} // namespace

int main() {
  const sigset_t set = kernspan_examples::say_ready();
  kernspan_examples::wait_for_go(set);
  for (const size_t len : {63, 64, 255, 256, 257, 4096}) {
    const std::string s = s_of(len);
    pair(s.c_str(), s.c_str(), s.c_str());
  }
  const long page = sysconf(_SC_PAGESIZE);
  void *gone = mmap(nullptr, static_cast<size_t>(page), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (gone == MAP_FAILED || munmap(gone, static_cast<size_t>(page)) != 0) {
    return 1;
  }
  pair("unmapped", static_cast<const char *>(gone), "e");
  // A number where a pointer belongs: what the test is about.
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  pair(reinterpret_cast<const char *>(uintptr_t{12345}), "int", "e");
  pair("binary",
       "a\x01\xFF"
       "b",
       "e");
  KERNSPAN_BEGIN(H100 H100 H100);
  KERNSPAN_END(H100 H100 H100);
  return 0;
}
