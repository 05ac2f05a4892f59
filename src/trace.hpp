// SPDX-License-Identifier: Apache-2.0
// Scheduling timeline for WEFT_TRACE / weft::Options::trace: each worker logs what its
// thread did (coroutine runs, parks, steals) and the scheduler writes the logs as one
// Chrome Trace Event file when it ends (Perfetto and chrome://tracing load it).
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace weft::detail {

// One worker's log. Only its own thread appends; the writer reads it after that thread has
// been joined, which orders every append before the read (no atomics needed). When
// tracing is off the only cost is the on() branch at each switch.
class TraceLog {
 public:
  enum Kind : std::uint8_t { kRun, kPark, kSteal };
  struct Event {
    std::int64_t begin_ns;
    std::int64_t end_ns;  // == begin_ns for an instant (steal)
    std::uint64_t id;     // the coroutine (run, steal)
    std::uint32_t arg;    // steal: the victim worker
    Kind kind;
  };

  // Starts logging, keeping at most `capacity` events (later ones are counted as dropped).
  void enable(std::size_t capacity);
  bool on() const noexcept { return on_; }

  // The thread switches to coroutine `next_id` (0: its root context): closes the run slice
  // of the coroutine it leaves, if any, and opens one for the next.
  void switch_to(std::uint64_t next_id) noexcept;
  void park(std::int64_t begin_ns, std::int64_t end_ns) noexcept;
  void steal(std::uint64_t id, unsigned victim) noexcept;

  std::span<const Event> events() const noexcept { return events_; }
  std::uint64_t dropped() const noexcept { return dropped_; }

  static std::int64_t now_ns() noexcept;

 private:
  void add(const Event& e) noexcept;

  bool on_ = false;
  std::size_t capacity_ = 0;
  std::vector<Event> events_;
  std::uint64_t dropped_ = 0;
  std::uint64_t open_id_ = 0;  // the coroutine whose run slice is open (0: none)
  std::int64_t open_since_ = 0;
};

// Where a scheduler's trace goes: `configured` (Options::trace) if set, else $WEFT_TRACE,
// where the second and later schedulers of the process get ".N" before the extension so
// they do not overwrite each other; "" for no trace.
std::string resolve_trace_path(const std::string& configured);

// Writes the logs (index = worker) as a Chrome Trace Event JSON object, times in
// microseconds since `origin_ns`. False if the stream reported an error.
bool write_chrome_trace(std::FILE* out, std::span<const TraceLog* const> logs,
                        std::int64_t origin_ns);

}  // namespace weft::detail
