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
#include <typeinfo>

namespace weft::detail {

// Where a weft call was made, for weft::check's reports. std::source_location would do,
// but clang 14 with libstdc++ 12 lacks it (no __builtin_source_location); the builtins
// below, written directly as a default argument (WEFT_HERE), give the caller's location
// on both compilers.
struct Where {
  const char* file = nullptr;
  const char* function = nullptr;
  unsigned line_ = 0;

  const char* file_name() const noexcept { return file ? file : ""; }
  const char* function_name() const noexcept { return function ? function : ""; }
  unsigned line() const noexcept { return line_; }
};

// The default argument of every weft call that records its caller's location.
#define WEFT_HERE (::weft::detail::Where{__builtin_FILE(), __builtin_FUNCTION(), __builtin_LINE()})

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
