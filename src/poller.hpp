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
// Registrations are one-shot and level-triggered, re-armed (EPOLL_CTL_MOD, or ADD when
// the kernel forgot a closed fd) for every wait: an fd closed and reused needs no
// bookkeeping, and data already waiting is reported at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "weft/detail/wait.hpp"

namespace weft::detail {

class Poller {
 public:
  Poller();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Blocks the calling coroutine until `fd` is ready for `events` (EPOLLIN or EPOLLOUT)
  // or `deadline` passes. False on timeout.
  bool wait(int fd, std::uint32_t events, const Clock::time_point* deadline);

  // Whether any coroutine waits on an fd (cheap, for the workers' scheduling decisions).
  bool active() const noexcept { return waits_.load(std::memory_order_acquire) > 0; }
  // The poller role: at most one worker blocks in epoll_wait at a time.
  // seq_cst: each pairs (Dekker) with the idle set's sleeper count, see Worker::find_work.
  bool try_acquire() noexcept { return !busy_.exchange(true, std::memory_order_seq_cst); }
  void release() noexcept { busy_.store(false, std::memory_order_seq_cst); }
  // Holding the role: waits up to `timeout_ns` (-1: forever, 0: just look) and notifies the
  // waiters of every ready fd. Returns how many waiters it woke.
  int poll(std::int64_t timeout_ns);
  // Makes a blocked poll() return (from any thread).
  void interrupt() noexcept;

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
  std::atomic<int> waits_{0};
  std::atomic<bool> busy_{false};
  std::mutex grow_mu_;
  std::unique_ptr<std::atomic<Entry*>[]> chunks_;
};

}  // namespace weft::detail
