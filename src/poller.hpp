// SPDX-License-Identifier: Apache-2.0
// Poller: one epoll instance per scheduler, for coroutines waiting on file descriptors.
//
// One shared instance rather than one per worker: a coroutine that waits on an fd may
// resume on any worker, and with a shared set any idle worker can collect readiness
// (Go's netpoller makes the same choice). An idle worker that finds nothing to run takes
// the poller role and blocks in epoll_wait instead of its futex, until I/O, its next timer
// or a wake-up (an eventfd in the set); the others park on their futexes. Busy workers
// peek with a zero timeout every few dozen scheduling ticks so readiness is not left
// waiting while every worker computes. The coroutines an event wakes are queued on the
// worker that collected it, which runs them next: no extra thread hop.
//
// A wait that starts while nobody holds the poller role calls the collector-wake hook (the
// scheduler wakes a parked worker, which takes the role): so while any worker is idle,
// readiness is collected at once, even when the worker that started the wait stays busy.
//
// Registrations are one-shot and level-triggered, re-armed (EPOLL_CTL_MOD, or ADD when
// the kernel forgot a closed fd) for every wait: an fd closed and reused needs no
// bookkeeping, and data already waiting is reported at once.
//
// Closing: a raw close(2) drops the epoll registration (once the file's last descriptor
// is gone) without waking anyone, so weft::close goes through close_fd(), which wakes the
// waiters of that fd in every Poller of the process, and plain threads waiting in
// ThreadFdWait, with "closed while waiting" (EBADF).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>

#include "weft/detail/wait.hpp"

namespace weft::detail {

class Poller {
 public:
  Poller();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Blocks the calling coroutine until `fd` is ready for `events` (EPOLLIN or EPOLLOUT)
  // or `deadline` passes. False on timeout. Throws std::system_error(EBADF, "... closed
  // while waiting ...") when close_fd() closed `fd` during the wait.
  bool wait(int fd, std::uint32_t events, const Clock::time_point* deadline);

  // Memory orders. waits_ and busy_ (the role) are read and written seq_cst, and each
  // access below is one side of a Dekker pair (store one variable, then load the other;
  // in the single total order of seq_cst operations at least one side sees the other's
  // store):
  //  - a waiter increments waits_, then loads busy_ and (in the hook) the idle set's
  //    sleeper count; a parking worker increments the sleeper count, then loads waits_
  //    (active()) and exchanges busy_ (try_acquire()). So either the waiter sees the
  //    sleeper and wakes it, or the sleeper sees the wait and takes the role.
  //  - a role holder that gives the role up stores busy_ = false, then loads waits_; a
  //    waiter that loaded busy_ == true was ordered before that store, so its increment
  //    is seen and the holder hands the role on (wakes a sleeper). A holder blocked in
  //    epoll_wait needs nothing: the kernel reports the new registration to it.
  // Hence no wait is left with an idle worker and no collector.

  // Whether any coroutine waits on an fd (cheap, for the workers' scheduling decisions).
  bool active() const noexcept { return waits_.load(std::memory_order_seq_cst) > 0; }
  // Some coroutine waits on an fd and nobody holds the poller role: an idle worker should
  // take it.
  bool needs_collector() const noexcept {
    return waits_.load(std::memory_order_seq_cst) > 0 && !busy_.load(std::memory_order_seq_cst);
  }
  // `fn(ctx)` is called (from the waiting coroutine's worker, holding no lock) when a wait
  // starts while nobody holds the role; it should wake a parked worker. Set it before the
  // first wait (the scheduler does, while constructing).
  void set_collector_wake(void (*fn)(void*), void* ctx) noexcept {
    collector_wake_ = fn;
    collector_ctx_ = ctx;
  }
  // The poller role: at most one worker blocks in epoll_wait at a time.
  bool try_acquire() noexcept { return !busy_.exchange(true, std::memory_order_seq_cst); }
  void release() noexcept { busy_.store(false, std::memory_order_seq_cst); }
  // Holding the role: waits up to `timeout_ns` (-1: forever, 0: just look) and notifies the
  // waiters of every ready fd. Returns how many waiters it woke.
  int poll(std::int64_t timeout_ns);
  // Makes a blocked poll() return (from any thread).
  void interrupt() noexcept;

  // Closes `fd` and wakes every coroutine (in every Poller) and every ThreadFdWait waiting
  // on it; they throw EBADF "closed while waiting". Returns close(2)'s errno, or 0 (EINTR
  // counts as success: Linux has released the descriptor by then).
  static int close_fd(int fd) noexcept;

 private:
  // Waiters of one fd, per direction, in intrusive lists (no allocation). An event wakes
  // every waiter of its direction: readiness is a broadcast, and each retries its call.
  struct Entry {
    SpinLock lock;
    Waiter* readers = nullptr;
    Waiter* writers = nullptr;
  };
  static constexpr std::size_t kChunk = 1024, kChunks = 1024;  // fds below 1M

  Entry& entry(int fd);
  void arm(int fd, const Entry& e);  // under e.lock

  int epfd_ = -1;
  int eventfd_ = -1;
  void (*collector_wake_)(void*) = nullptr;
  void* collector_ctx_ = nullptr;
  Poller* reg_prev_ = nullptr;  // the process-wide list of Pollers close_fd() visits
  Poller* reg_next_ = nullptr;
  Entry* closing_ = nullptr;  // the locked entry during close_fd(), under its mutex
  std::atomic<int> waits_{0};
  std::atomic<bool> busy_{false};
  std::mutex grow_mu_;
  std::unique_ptr<std::atomic<Entry*>[]> chunks_;
};

// A plain thread's wait on `fd` (poll(2) on the fd and this thread's eventfd), registered
// for the lifetime of this object so that Poller::close_fd() can wake it.
class ThreadFdWait {
 public:
  explicit ThreadFdWait(int fd);
  ~ThreadFdWait();
  ThreadFdWait(const ThreadFdWait&) = delete;
  ThreadFdWait& operator=(const ThreadFdWait&) = delete;

  // Becomes readable when close_fd() closed the fd: poll it together with the fd.
  int wake_fd() const noexcept { return wake_fd_; }
  // close_fd() closed the fd while this wait was registered.
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

 private:
  friend class Poller;
  int fd_;
  int wake_fd_;
  std::atomic<bool> closed_{false};
  ThreadFdWait* prev_ = nullptr;
  ThreadFdWait* next_ = nullptr;
};

// The error of a wait whose fd was closed by weft::close.
std::system_error closed_while_waiting(int fd);

}  // namespace weft::detail
