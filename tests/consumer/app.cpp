// SPDX-License-Identifier: Apache-2.0
// The program each consumer project builds (tools/consumers.sh): weft used from outside
// its own tree, through find_package, pkg-config, add_subdirectory or FetchContent.
#include <cstdio>
#include <cstring>
#include <weft/version.hpp>
#include <weft/weft.hpp>

long fib(int n) {
  if (n < 2) return n;
  weft::Task<long> a = weft::spawn(fib, n - 1);
  long b = fib(n - 2);
  return a.join() + b;
}

int main(int argc, char** argv) {
  weft::Scheduler sched({.workers = 2});
  const long r = sched.run(fib, 20);
  // The headers and the library linked must be the same weft.
  const bool same = std::strcmp(weft::version(), WEFT_VERSION_STRING) == 0;
  std::printf("consumer %s: fib(20) = %ld with weft %s\n", argc > 1 ? argv[1] : "", r,
              weft::version());
  return r == 6765 && same ? 0 : 1;
}
