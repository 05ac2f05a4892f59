// SPDX-License-Identifier: Apache-2.0
// The coroutine record shared by the Task<T> templates and the runtime (src/).
// Not part of the public API: its layout may change with any release.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

class Core;
class ForkDeque;
class ResultBase;
struct Stack;

// Life cycle of a record (the `state` word):
//   kFree     in a record pool (or just allocated): no task
//   kFresh    queued, never run: no stack yet; may be run inline by its joiner
//   kReady    queued, suspended earlier: has a saved context
//   kRunning  claimed by exactly one thread (the claim is a CAS from kFresh/kReady)
//   kWaiting  suspended and published to a waker (join, a primitive's queue, a timer)
//   kDone     its function returned or threw (or it could not start: no stack); the
//             result is in the payload
// A queue entry is only a hint: whoever pops it must win the claim CAS, so an entry
// left behind by an out-of-band claim (inline join, yield_to) is simply skipped.
enum State : std::uint32_t { kFresh, kReady, kRunning, kWaiting, kDone, kFree };

// join_word values: 0 nobody waits yet; kJoinDone after completion; otherwise the waiter
// (a Coroutine*, or a ThreadWaiter* with kThreadWaiterTag set).
inline constexpr std::uintptr_t kJoinDone = 1;
inline constexpr std::uintptr_t kThreadWaiterTag = 4;

// payload_word bits. The payload (result, exception, captured state) holds user types
// whose destructors and the unhandled-exception handler may suspend, so it is destroyed
// only by user-facing code: by the coroutine on its own stack when the handle is gone by
// then, else by whoever drops the handle (on its thread). Each side sets its bit with one
// fetch_or; the second to arrive destroys. The handoffs and queue clean-ups that drop the
// record's last reference never run user code.
inline constexpr std::uint32_t kPayloadFinished = 1;    // the function ran (or never will)
inline constexpr std::uint32_t kPayloadHandleGone = 2;  // no Task refers to it any more

inline constexpr std::size_t kPayloadSize = 128;

struct alignas(64) Coroutine {
  std::atomic<std::uint32_t> state{kFree};
  // References: one for the Task handle, one for each queue entry or the execution.
  // The record returns to its pool when the count drops to zero, so a stale queue
  // entry never points at a recycled record.
  std::atomic<std::uint32_t> refs{0};
  std::atomic<std::uintptr_t> join_word{0};
  std::atomic<std::uint32_t> payload_word{0};
  void (*invoke)(Coroutine*) = nullptr;   // runs the function, stores result/exception
  void (*destroy)(Coroutine*) = nullptr;  // destroys what invoke left (result)
  ResultBase* result = nullptr;           // the Result<T> inside the payload
  void* context = nullptr;                // saved stack pointer while switched out
  Stack* stack = nullptr;                 // taken at first run, returned at completion
  Core* core = nullptr;
  std::uint64_t id = 0;
  // Id of the task now running on this record's stack: its own, or that of a joined
  // child running inline on it.
  std::uint64_t active_id = 0;
  void* tsan_fiber = nullptr;
  void* asan_fake_stack = nullptr;
  // The C++ runtime's per-thread exception state (caught-exception stack, uncaught count)
  // while this coroutine is switched out: a coroutine suspended in a catch block must not
  // lend its exception to the next one on the thread.
  void* eh_caught = nullptr;
  unsigned eh_uncaught = 0;
  // Its TaskGroup children (fork_deque.hpp), created on first use; back to the
  // scheduler's pool when it completes.
  ForkDeque* forks = nullptr;
  alignas(16) unsigned char payload[kPayloadSize];
};

}  // namespace weft::detail
