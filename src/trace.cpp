// SPDX-License-Identifier: Apache-2.0
#include "trace.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdlib>
#include <new>

namespace weft::detail {

void TraceLog::enable(std::size_t capacity) {
  capacity_ = capacity;
  events_.reserve(std::min<std::size_t>(capacity, 1 << 16));
  on_ = true;
}

std::int64_t TraceLog::now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TraceLog::add(const Event& e) noexcept {
  if (events_.size() >= capacity_) {
    ++dropped_;
    return;
  }
  try {
    events_.push_back(e);
  } catch (const std::bad_alloc&) {
    ++dropped_;  // a trace must not take the scheduler down
  }
}

void TraceLog::switch_to(std::uint64_t next_id) noexcept {
  const std::int64_t now = now_ns();
  if (open_id_ != 0) add({open_since_, now, open_id_, 0, kRun});
  open_id_ = next_id;
  open_since_ = now;
}

void TraceLog::park(std::int64_t begin_ns, std::int64_t end_ns) noexcept {
  add({begin_ns, end_ns, 0, 0, kPark});
}

void TraceLog::steal(std::uint64_t id, unsigned victim) noexcept {
  const std::int64_t now = now_ns();
  add({now, now, id, victim, kSteal});
}

std::string resolve_trace_path(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* env = std::getenv("WEFT_TRACE");
  if (!env || !*env) return {};
  static std::atomic<unsigned> traced{0};
  const unsigned n = traced.fetch_add(1, std::memory_order_relaxed);
  std::string path = env;
  if (n == 0) return path;
  const std::size_t slash = path.rfind('/');
  std::size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) dot = path.size();
  return path.substr(0, dot) + '.' + std::to_string(n) + path.substr(dot);
}

bool write_chrome_trace(std::FILE* out, std::span<const TraceLog* const> logs,
                        std::int64_t origin_ns) {
  std::uint64_t dropped = 0;
  for (const TraceLog* log : logs) dropped += log->dropped();
  std::fprintf(out,
               "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"weft_workers\":%zu,"
               "\"dropped_events\":%" PRIu64
               "},\n\"traceEvents\":[\n"
               "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,"
               "\"args\":{\"name\":\"weft scheduler\"}}",
               logs.size(), dropped);
  // Microseconds with nanosecond precision, the unit the format prescribes.
  const auto us = [origin_ns](std::int64_t ns) {
    return static_cast<double>(ns - origin_ns) / 1e3;
  };
  for (std::size_t tid = 0; tid < logs.size(); ++tid) {
    std::fprintf(out,
                 ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%zu,"
                 "\"args\":{\"name\":\"worker %zu\"}}",
                 tid, tid);
    for (const TraceLog::Event& e : logs[tid]->events()) {
      switch (e.kind) {
        case TraceLog::kRun:
          std::fprintf(out,
                       ",\n{\"name\":\"run\",\"cat\":\"coroutine\",\"ph\":\"X\",\"pid\":1,"
                       "\"tid\":%zu,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"id\":%" PRIu64 "}}",
                       tid, us(e.begin_ns), static_cast<double>(e.end_ns - e.begin_ns) / 1e3, e.id);
          break;
        case TraceLog::kPark:
          std::fprintf(out,
                       ",\n{\"name\":\"park\",\"cat\":\"idle\",\"ph\":\"X\",\"pid\":1,"
                       "\"tid\":%zu,\"ts\":%.3f,\"dur\":%.3f,\"args\":{}}",
                       tid, us(e.begin_ns), static_cast<double>(e.end_ns - e.begin_ns) / 1e3);
          break;
        case TraceLog::kSteal:
          std::fprintf(out,
                       ",\n{\"name\":\"steal\",\"cat\":\"steal\",\"ph\":\"i\",\"s\":\"t\","
                       "\"pid\":1,\"tid\":%zu,\"ts\":%.3f,\"args\":{\"id\":%" PRIu64
                       ",\"victim\":%u}}",
                       tid, us(e.begin_ns), e.id, e.arg);
          break;
      }
    }
  }
  std::fputs("\n]}\n", out);
  return std::ferror(out) == 0;
}

}  // namespace weft::detail
