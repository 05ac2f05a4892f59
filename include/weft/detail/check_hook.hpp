// SPDX-License-Identifier: Apache-2.0
// The seams weft::check (weft/check.hpp) needs in the primitives: a preemption point at
// every public operation, the clock every timeout is measured on, and the name of what a
// spawn runs. Not public API.
//
// Zero cost when off: each seam is one relaxed load of g_check_active and a branch the
// predictor learns at once (it is false for the whole life of a program that never calls
// explore()); everything else is out of line, behind [[unlikely]].
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <source_location>
#include <typeinfo>

namespace weft::detail {

// Where a weft call was made, for weft::check's reports: std::source_location where the
// compiler provides it (g++ 11+, clang 15+: a pointer to static data, passed in one
// register). clang 14 with libstdc++ 12 has no __builtin_source_location, so there it is
// the file and line from __builtin_FILE/__builtin_LINE, which clang evaluates at the call
// site inside a default argument (two registers; no function name).
#if __has_builtin(__builtin_source_location)
using Where = std::source_location;
#define WEFT_HERE (::std::source_location::current())
#else
struct Where {
  const char* file = nullptr;
  unsigned line_ = 0;

  const char* file_name() const noexcept { return file ? file : ""; }
  const char* function_name() const noexcept { return ""; }
  unsigned line() const noexcept { return line_; }
};
#define WEFT_HERE (::weft::detail::Where{__builtin_FILE(), __builtin_LINE()})
#endif

class WaitQueue;
struct Coroutine;
struct Waiter;

// What a coroutine is doing at a preemption point; deadlock reports name it.
enum class CheckOp : std::uint8_t {
  kMutexLock,
  kMutexTryLock,
  kMutexUnlock,
  kCondVarWait,
  kCondVarNotifyOne,
  kCondVarNotifyAll,
  kEventWait,
  kEventSet,
  kEventReset,
  kWaitGroupAdd,
  kWaitGroupWait,
  kChannelSend,
  kChannelRecv,
  kChannelTrySend,
  kChannelTryRecv,
  kChannelClose,
  kJoin,
  kSleep,
  kSpawn,
};

// The number of explore() calls running in this process. Relaxed is enough: the thread
// that runs an exploration's coroutines is handed each iteration through a mutex taken
// after the increment, so it always sees it; any other thread may see either value, and
// both lead it to the same (non-check) behaviour, since the slow paths below look up the
// calling thread's own exploration first.
extern std::atomic<int> g_check_active;

inline bool check_active() noexcept {
  return g_check_active.load(std::memory_order_relaxed) != 0;
}

// Out of line: does nothing unless the caller is a coroutine of an exploration.
void check_point_slow(CheckOp op, const void* object, Where where) noexcept;
std::chrono::steady_clock::time_point check_now_slow() noexcept;
// After a spawn: records what `spawned` runs, then a preemption point.
void check_spawned_slow(Coroutine* spawned, const std::type_info& body) noexcept;
// An absolute deadline (or sleep_until) in an exploration: refused with std::logic_error
// when it was computed from the real steady clock, which the virtual clock never reaches.
void check_deadline_slow(std::chrono::steady_clock::time_point t);

// Unlinks and returns the waiter a notify_one() wakes: under an exploration its policy
// chooses among all of them (any may be woken), otherwise the oldest.
Waiter* check_pick_waiter(WaitQueue& q) noexcept;

// Throws std::logic_error naming `what` when called from a coroutine of an exploration:
// for what the model cannot control (real fds).
void check_refuse(const char* what);

// A preemption point: under explore(), the scheduler may switch to another coroutine here.
inline void check_point(CheckOp op, const void* object, Where where) noexcept {
  if (check_active()) [[unlikely]]
    check_point_slow(op, object, where);
}

// steady_clock::now(), or an exploration's virtual time on its thread.
inline std::chrono::steady_clock::time_point steady_now() noexcept {
  if (check_active()) [[unlikely]]
    return check_now_slow();
  return std::chrono::steady_clock::now();
}

}  // namespace weft::detail
