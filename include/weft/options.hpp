// weft::Options — how a Scheduler is built.
#pragma once

#include <cstddef>
#include <string>

namespace weft {

struct Options {
  // Worker pthreads. 0 means std::thread::hardware_concurrency().
  unsigned workers = 0;
  // Usable bytes of each coroutine stack (rounded up to whole pages); a PROT_NONE guard
  // page sits below it while the guarded-mapping budget lasts (see docs/DESIGN.md).
  std::size_t stack_size = 64 * 1024;
  // Pin worker i to CPU (i mod CPUs).
  bool pin_workers = false;
  // Write this scheduler's timeline (coroutine runs, parks and steals per worker) to this
  // path in Chrome Trace Event JSON when the scheduler ends; load it in Perfetto or
  // chrome://tracing, or draw it with tools/trace_timeline.py. Empty: the environment
  // variable WEFT_TRACE decides (unset: no trace). The constructor throws
  // std::system_error when the file cannot be created.
  std::string trace{};
};

// Accepted ranges; Scheduler's constructor throws std::invalid_argument outside them.
inline constexpr unsigned kMaxWorkers = 1024;
inline constexpr std::size_t kMaxStackSize = std::size_t{1} << 30;  // 1 GiB

}  // namespace weft
