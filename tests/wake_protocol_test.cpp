// SPDX-License-Identifier: Apache-2.0
// Destroy after wake: the party a primitive wakes may destroy the primitive as soon as it
// runs (POSIX allows it for a mutex; glibc bug 13690), so a waker must not touch the
// object once the woken party can observe that it is woken. For every primitive and every
// way to wake (Mutex hand-off, CondVar notify_one/notify_all, Event::set, WaitGroup reaching
// zero, Channel send/recv/close, rendezvous and buffered), the woken party destroys the
// object right after it wakes, the waker being a plain thread or a coroutine of another
// scheduler and the woken party a coroutine or a plain thread.
//
// The race is forced, not hoped for: everything runs on one CPU and the waker is
// SCHED_IDLE, so the thread it wakes (a parked worker or a blocked plain thread) preempts
// it on the spot and destroys the object before the waker's next instruction. The object
// lives in a buffer of ours that is filled with a pattern once it is destroyed: a write
// after destruction breaks the pattern even in a build without sanitizers (ThreadSanitizer
// also reports it as a race with the fill).
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft_test::scaled;
using weft_test::Watchdog;

constexpr unsigned char kPattern = 0xA5;

// Pins the calling thread, and so every thread it creates meanwhile (the workers of the
// schedulers below, the plain threads), to one CPU; restores its mask when done.
class OneCpu {
 public:
  OneCpu() {
    ok_ = sched_getaffinity(0, sizeof(saved_), &saved_) == 0;
    if (!ok_) return;
    int cpu = 0;
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &saved_)) ++cpu;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ok_ = sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~OneCpu() {
    if (ok_) sched_setaffinity(0, sizeof(saved_), &saved_);
  }
  OneCpu(const OneCpu&) = delete;
  OneCpu& operator=(const OneCpu&) = delete;

 private:
  cpu_set_t saved_{};
  bool ok_ = false;
};

// Lowers the calling thread to SCHED_IDLE: a normal thread it wakes on the same CPU runs
// before it takes another step. Without the permission the race just becomes rarer.
void become_idle_priority() {
  sched_param p{};
  p.sched_priority = 0;
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
}

pid_t this_tid() {
  return static_cast<pid_t>(syscall(SYS_gettid));
}

// The scheduling state letter of thread `tid` of this process ('S': asleep in the
// kernel), or 0 if it cannot be read.
char thread_state(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
  std::FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char buf[512];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  return paren && paren[1] == ' ' ? paren[2] : 0;
}

// Waits (bounded) until the thread that will block in the primitive has recorded its id
// and sleeps in the kernel: it is then parked in the primitive (a plain thread on its
// futex word, a coroutine's worker idle because its only coroutine is suspended).
bool wait_until_blocked(const std::atomic<pid_t>& tid) {
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < limit) {
    const pid_t t = tid.load();
    if (t != 0 && thread_state(t) == 'S') return true;
    std::this_thread::sleep_for(20us);
  }
  return false;
}

// Storage for one T of ours: after destroy() it holds only kPattern, so any later write
// by a waker that still touches the dead object shows.
template <class T>
class Quarantine {
 public:
  template <class... A>
  T& create(A&&... args) {
    std::memset(buf_, 0, sizeof buf_);
    obj_ = ::new (static_cast<void*>(buf_)) T(std::forward<A>(args)...);
    return *obj_;
  }
  void destroy() {
    obj_->~T();
    obj_ = nullptr;
    std::memset(buf_, kPattern, sizeof buf_);
  }
  // The offset of the first byte written after destroy(), or -1.
  long first_overwritten() const {
    for (std::size_t i = 0; i < sizeof buf_; ++i) {
      if (buf_[i] != kPattern) return static_cast<long>(i);
    }
    return -1;
  }

 private:
  alignas(T) unsigned char buf_[sizeof(T)];
  T* obj_ = nullptr;
};

enum class Waker { kThread, kCoroutine };
enum class Woken { kCoroutine, kThread };

const char* name(Waker w) {
  return w == Waker::kThread ? "waker=thread" : "waker=coroutine";
}
const char* name(Woken w) {
  return w == Woken::kThread ? "woken=thread" : "woken=coroutine";
}

// One scenario: `setup` prepares the fresh object, `wait` blocks on it in the woken party
// (and returns whether it saw the right outcome), `wake` releases it from the waker (same).
template <class T>
struct Scenario {
  const char* what;
  std::function<void(T&)> setup;
  std::function<bool(T&)> wait;
  std::function<bool(T&)> wake;
};

const int kRounds = scaled(20, 8);

// Runs `sc` kRounds times for every kind of waker and woken party. The woken party
// destroys the object as soon as its wait returns; the waker's writes after that show in
// the quarantine.
template <class T, class... A>
void run_destroy_after_wake(const Scenario<T>& sc, A... ctor_args) {
  Watchdog dog(sc.what);
  OneCpu pin;
  // Fresh schedulers of one worker each, created while pinned: the woken coroutines run
  // on `home`, the waking ones on `wakers` (whose worker becomes SCHED_IDLE for good).
  weft::Options o;
  o.workers = 1;
  weft::Scheduler home(o);
  weft::Scheduler wakers(o);
  for (Waker waker : {Waker::kThread, Waker::kCoroutine}) {
    for (Woken woken : {Woken::kCoroutine, Woken::kThread}) {
      SCOPED_TRACE(std::string(sc.what) + ", " + name(waker) + ", " + name(woken));
      for (int round = 0; round < kRounds; ++round) {
        Quarantine<T> q;
        T& obj = q.create(ctor_args...);
        if (sc.setup) sc.setup(obj);
        std::atomic<pid_t> blocker{0};
        std::atomic<bool> waited_ok{false}, destroyed{false};
        auto woken_body = [&] {
          blocker.store(this_tid());
          waited_ok.store(sc.wait(obj));
          q.destroy();
          destroyed.store(true);
        };
        std::optional<weft::Task<void>> woken_task;
        std::thread woken_thread;
        if (woken == Woken::kCoroutine) {
          woken_task.emplace(home.spawn(woken_body));
        } else {
          woken_thread = std::thread(woken_body);
        }
        // Not an ASSERT: the woken party must still be woken and joined below.
        EXPECT_TRUE(wait_until_blocked(blocker)) << "the woken party never blocked";

        bool woke_ok = false;
        auto waker_body = [&] {
          become_idle_priority();
          woke_ok = sc.wake(obj);
        };
        if (waker == Waker::kThread) {
          std::thread(waker_body).join();
        } else {
          wakers.spawn(waker_body).join();
        }
        if (woken_task) woken_task->join();
        if (woken_thread.joinable()) woken_thread.join();

        ASSERT_TRUE(destroyed.load());
        EXPECT_TRUE(woke_ok) << "round " << round;
        EXPECT_TRUE(waited_ok.load()) << "round " << round;
        const long bad = q.first_overwritten();
        ASSERT_EQ(bad, -1) << "round " << round << ": the waker wrote byte " << bad
                           << " of the object after its woken party destroyed it";
      }
    }
  }
}

TEST(DestroyAfterWake, MutexUnlockHandOff) {
  run_destroy_after_wake<weft::Mutex>({
      "Mutex unlock -> lock",
      [](weft::Mutex& m) { m.lock(); },
      [](weft::Mutex& m) {
        m.lock();  // queues behind the owner; the hand-off makes us the owner
        m.unlock();
        return true;
      },
      [](weft::Mutex& m) {
        m.unlock();
        return true;
      },
  });
}

// The mutex of the condition variable outlives it: only the CondVar is destroyed.
void condvar_case(const char* what, bool all) {
  weft::Mutex mu;
  bool ready = false;
  run_destroy_after_wake<weft::CondVar>({
      what,
      [&](weft::CondVar&) { ready = false; },
      [&](weft::CondVar& cv) {
        std::unique_lock<weft::Mutex> lock(mu);
        cv.wait(lock, [&] { return ready; });
        return true;
      },
      [&, all](weft::CondVar& cv) {
        {
          std::lock_guard<weft::Mutex> lock(mu);
          ready = true;
        }
        // Notified without the mutex, so the waiter can run (and destroy) at once.
        if (all) {
          cv.notify_all();
        } else {
          cv.notify_one();
        }
        return true;
      },
  });
}

TEST(DestroyAfterWake, CondVarNotifyOne) {
  condvar_case("CondVar notify_one -> wait", false);
}

TEST(DestroyAfterWake, CondVarNotifyAll) {
  condvar_case("CondVar notify_all -> wait", true);
}

TEST(DestroyAfterWake, EventSet) {
  run_destroy_after_wake<weft::Event>({
      "Event set -> wait",
      nullptr,
      [](weft::Event& e) {
        e.wait();
        return true;
      },
      [](weft::Event& e) {
        e.set();
        return true;
      },
  });
}

TEST(DestroyAfterWake, WaitGroupDone) {
  run_destroy_after_wake<weft::WaitGroup>({
      "WaitGroup done -> wait",
      [](weft::WaitGroup& wg) { wg.add(1); },
      [](weft::WaitGroup& wg) {
        wg.wait();
        return true;
      },
      [](weft::WaitGroup& wg) {
        wg.done();
        return true;
      },
  });
}

using Chan = weft::Channel<int>;

// Send hands the value to a blocked receiver (rendezvous, or a buffered channel's empty
// buffer).
void send_wakes_receiver(const char* what, std::size_t cap) {
  run_destroy_after_wake<Chan>({
                                   what,
                                   nullptr,
                                   [](Chan& ch) { return ch.recv() == std::optional<int>(7); },
                                   [](Chan& ch) { return ch.send(7); },
                               },
                               cap);
}

TEST(DestroyAfterWake, RendezvousSendWakesReceiver) {
  send_wakes_receiver("Channel(0) send -> recv", 0);
}

TEST(DestroyAfterWake, BufferedSendWakesReceiver) {
  send_wakes_receiver("Channel(1) send -> recv", 1);
}

TEST(DestroyAfterWake, RendezvousRecvWakesSender) {
  run_destroy_after_wake<Chan>({
                                   "Channel(0) recv -> send",
                                   nullptr,
                                   [](Chan& ch) { return ch.send(7); },
                                   [](Chan& ch) { return ch.recv() == std::optional<int>(7); },
                               },
                               std::size_t{0});
}

// recv() from a full buffer refills it from the blocked sender (whose value then dies
// with the channel).
TEST(DestroyAfterWake, BufferedRecvWakesSender) {
  run_destroy_after_wake<Chan>({
                                   "Channel(1) recv -> send",
                                   [](Chan& ch) { ch.try_send(1); },
                                   [](Chan& ch) { return ch.send(7); },
                                   [](Chan& ch) { return ch.recv() == std::optional<int>(1); },
                               },
                               std::size_t{1});
}

void close_wakes_receiver(const char* what, std::size_t cap) {
  run_destroy_after_wake<Chan>({
                                   what,
                                   nullptr,
                                   [](Chan& ch) { return !ch.recv().has_value(); },
                                   [](Chan& ch) {
                                     ch.close();
                                     return true;
                                   },
                               },
                               cap);
}

TEST(DestroyAfterWake, RendezvousCloseWakesReceiver) {
  close_wakes_receiver("Channel(0) close -> recv", 0);
}

TEST(DestroyAfterWake, BufferedCloseWakesReceiver) {
  close_wakes_receiver("Channel(1) close -> recv", 1);
}

TEST(DestroyAfterWake, RendezvousCloseWakesSender) {
  run_destroy_after_wake<Chan>({
                                   "Channel(0) close -> send",
                                   nullptr,
                                   [](Chan& ch) { return !ch.send(7); },
                                   [](Chan& ch) {
                                     ch.close();
                                     return true;
                                   },
                               },
                               std::size_t{0});
}

TEST(DestroyAfterWake, BufferedCloseWakesSender) {
  run_destroy_after_wake<Chan>({
                                   "Channel(1) close -> send",
                                   [](Chan& ch) { ch.try_send(1); },
                                   [](Chan& ch) { return !ch.send(7); },
                                   [](Chan& ch) {
                                     ch.close();
                                     return true;
                                   },
                               },
                               std::size_t{1});
}

}  // namespace
