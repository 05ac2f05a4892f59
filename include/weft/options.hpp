// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::Options — how a Scheduler is built.
#pragma once

#include <cstddef>
#include <string>

namespace weft {

/// How a Scheduler is built; out-of-range values make its constructor throw
/// std::invalid_argument naming the field and the accepted range.
struct Options {
  /// Worker pthreads. 0 means std::thread::hardware_concurrency().
  unsigned workers = 0;
  /// Usable bytes of each coroutine stack (rounded up to whole pages); a PROT_NONE guard
  /// sits below it while the guarded-mapping budget lasts (see docs/DESIGN.md).
  std::size_t stack_size = 64 * 1024;
  /// Bytes of that guard (rounded up to whole pages). An overflow that lands in it is
  /// reported by name; a frame larger than the guard can jump it and write below unseen,
  /// unless the code is built with -fstack-clash-protection (probes every page). The guard
  /// costs address space only, no memory. Past the budget, stacks have a canary instead.
  std::size_t guard_size = 4 * 1024;
  /// Pin worker i to CPU (i mod CPUs).
  bool pin_workers = false;
  /// Write this scheduler's timeline (coroutine runs, parks and steals per worker) to this
  /// path in Chrome Trace Event JSON when the scheduler ends; load it in Perfetto or
  /// chrome://tracing, or draw it with tools/trace_timeline.py. Empty: the environment
  /// variable WEFT_TRACE decides (unset: no trace). The constructor throws
  /// std::system_error when the file cannot be created.
  std::string trace{};
};

/// Accepted ranges; Scheduler's constructor throws std::invalid_argument outside them.
inline constexpr unsigned kMaxWorkers = 1024;
/// The largest Options::stack_size: 1 GiB.
inline constexpr std::size_t kMaxStackSize = std::size_t{1} << 30;
/// The largest Options::guard_size: 64 MiB.
inline constexpr std::size_t kMaxGuardSize = std::size_t{64} << 20;

}  // namespace weft
