/* SPDX-License-Identifier: Apache-2.0 */
/* An application outside kernspan's tree, built against the installed
 * header (tests/deploy/check.sh install): waits up to 10 s for a tracer,
 * then runs N spans named "outside" and exits 0; exit 3 if no tracer came. */
#include <kernspan/kernspan.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  const long n = argc > 1 ? atol(argv[1]) : 1000;
  const struct timespec tick = {0, 1000000};

  for (int i = 0; i < 10000 && !KERNSPAN_ENABLED(); i++)
    nanosleep(&tick, NULL);
  if (!KERNSPAN_ENABLED())
    return 3;
  for (long i = 0; i < n; i++) {
    KERNSPAN_BEGIN("outside");
    KERNSPAN_END("outside");
  }
  return 0;
}
