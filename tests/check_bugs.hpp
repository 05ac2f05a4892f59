// SPDX-License-Identifier: Apache-2.0
// The catalogue of classic concurrency bugs that weft::check must find (issue #11), written
// with weft primitives. Shared by tests/check_catalogue_test.cpp (found, replayed) and
// tools/weft_check_find.cpp (iterations to the first find per policy, beside plain
// 2-worker runs). Each body is one run of a small program; a run that hits the bug throws
// (a failed weft::check::require), deadlocks, or leaves coroutines blocked.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "weft/check.hpp"
#include "weft/weft.hpp"

namespace weft_bugs {

using weft::check::Policy;
using weft::check::require;
using namespace std::chrono_literals;

struct Bug {
  const char* name;
  Policy policy;     // the policy the catalogue test finds it with
  const char* kind;  // the failure kind explore() reports
  std::function<void()> body;
};

// Joins every task, then rethrows the first exception any of them threw: a coroutine must
// not outlive the frame whose locals it uses, even when another one failed.
template <class... Tasks>
void join_all(Tasks&... tasks) {
  std::exception_ptr first;
  auto join = [&first](auto& t) {
    try {
      t.join();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  };
  (join(tasks), ...);
  if (first) std::rethrow_exception(first);
}

// 1. Lost update: read, yield, write back.
inline void lost_update() {
  int counter = 0;
  auto bump = [&] {
    const int seen = counter;
    weft::yield();
    counter = seen + 1;
  };
  auto a = weft::spawn(bump);
  auto b = weft::spawn(bump);
  a.join();
  b.join();
  require(counter == 2, "both increments are counted");
}

// 2. ABBA deadlock: two locks taken in opposite orders.
inline void abba_deadlock() {
  weft::Mutex a, b;
  auto t1 = weft::spawn([&] {
    std::lock_guard ga(a);
    std::lock_guard gb(b);
  });
  auto t2 = weft::spawn([&] {
    std::lock_guard gb(b);
    std::lock_guard ga(a);
  });
  t1.join();
  t2.join();
}

// 3. CondVar wait without a predicate loop: the notify may come before the wait.
inline void missed_notify() {
  weft::Mutex m;
  weft::CondVar cv;
  bool ready = false;
  auto consumer = weft::spawn([&] {
    std::unique_lock lk(m);
    cv.wait(lk);  // BUG: no `while (!ready)`
    require(ready, "woken with the data ready");
  });
  auto producer = weft::spawn([&] {
    {
      std::lock_guard g(m);
      ready = true;
    }
    cv.notify_one();
  });
  producer.join();
  consumer.join();
}

// 4. Use before initialisation: the child reads what its parent sets up after spawning it.
inline void use_before_init() {
  struct Config {
    int workers = 4;
  };
  const Config* config = nullptr;
  Config storage;
  auto child = weft::spawn([&] { require(config != nullptr, "config is set up before use"); });
  config = &storage;  // BUG: should precede the spawn
  weft::Mutex m;      // some more set-up work, with a weft call in it
  m.lock();
  m.unlock();
  child.join();
}

// 5. Check-then-act on a Channel: size() says an element is there, another consumer takes it.
inline void channel_check_then_act() {
  weft::Channel<int> ch(4);
  ch.send(1);
  auto take = [&] {
    if (ch.size() > 0) {
      weft::yield();
      const std::optional<int> v = ch.try_recv();  // BUG: size() was only a snapshot
      require(v.has_value(), "the element seen is still there");
    }
  };
  auto a = weft::spawn(take);
  auto b = weft::spawn(take);
  join_all(a, b);
}

// 6. WaitGroup::add racing with wait: each worker adds itself, after wait() may have returned.
inline void waitgroup_add_race() {
  weft::WaitGroup wg;
  int finished = 0;
  std::vector<weft::Task<void>> tasks;
  for (int i = 0; i < 2; ++i) {
    tasks.push_back(weft::spawn([&] {
      wg.add(1);  // BUG: belongs before the spawn
      ++finished;
      wg.done();
    }));
  }
  wg.wait();
  const int seen = finished;
  for (auto& t : tasks) t.join();  // before the check: they use this frame
  require(seen == 2, "wait() returns after every worker finished");
}

// 7. Double-checked flag: the flag is published before the data it guards.
inline void double_checked_flag() {
  weft::Mutex m;
  bool initialised = false;
  int value = 0;
  auto get = [&] {
    if (!initialised) {
      std::lock_guard g(m);
      if (!initialised) {
        initialised = true;  // BUG: set before value is written
        weft::yield();       // (any weft call between the two stores)
        value = 42;
      }
    }
    require(value == 42, "the value behind the flag is initialised");
  };
  auto a = weft::spawn(get);
  auto b = weft::spawn(get);
  join_all(a, b);
}

// 8. Timeout ordering (needs virtual time: a real run takes a second): the client gives up
// at the same moment the server answers; when its timeout wins, the server's rendezvous
// send blocks for ever (a leaked coroutine).
inline void timeout_ordering() {
  auto reply = std::make_shared<weft::Channel<int>>(0);
  weft::spawn([reply] {
    weft::sleep_for(1s);  // the work takes as long as the client waits
    reply->send(42);      // BUG: nobody may be listening any more
  }).detach();
  const std::optional<int> answer = reply->recv_for(1s);
  (void)answer;  // a timeout is handled by the caller: not the bug
}

// 9. A lock leaked on an exception path: lock(), throw, unlock() never runs.
inline void lock_leaked_on_throw() {
  weft::Mutex m;
  int jobs = 0;
  auto worker = [&] {
    try {
      m.lock();
      const int mine = ++jobs;
      if (mine == 2) throw std::runtime_error("second job fails");  // BUG: m stays locked
      m.unlock();
    } catch (const std::runtime_error&) {
    }
  };
  auto a = weft::spawn(worker);
  auto b = weft::spawn(worker);
  a.join();
  b.join();
  std::lock_guard g(m);  // the next user of the lock
}

// 10. Three parties: a monitor that must see the producers at work skips its hand-off when
// both producers run all their rounds before its first look. Random scheduling almost
// never starves the monitor for ~80 decisions; PCT gives it the lowest priority in one
// iteration out of three.
inline void starved_monitor() {
  constexpr int kRounds = 20;
  weft::Mutex m;
  weft::CondVar cv;
  int finished = 0;
  auto monitor = weft::spawn([&] {
    std::unique_lock lk(m);
    const bool saw_work = finished < 2;
    cv.wait(lk, [&] { return finished == 2; });
    require(saw_work, "the monitor looked while the producers were running");
  });
  auto producer = [&] {
    int local = 0;
    for (int i = 0; i < kRounds; ++i) {
      std::lock_guard g(m);
      ++local;
    }
    std::lock_guard g(m);
    ++finished;
    cv.notify_all();
  };
  auto p1 = weft::spawn(producer);
  auto p2 = weft::spawn(producer);
  p1.join();
  p2.join();
  monitor.join();
}

// 11. Unlocked read-modify-write of a shared counter by three coroutines, with the weft
// call between the read and the write hidden in a helper (a log mutex).
inline void unlocked_counter() {
  weft::Mutex log_mu;
  int hits = 0;
  auto hit = [&] {
    const int seen = hits;
    {
      std::lock_guard g(log_mu);  // "logging" between the read and the write
    }
    hits = seen + 1;
  };
  auto a = weft::spawn(hit);
  auto b = weft::spawn(hit);
  auto c = weft::spawn(hit);
  a.join();
  b.join();
  c.join();
  require(hits == 3, "three hits counted");
}

// GoogleTest prints a parameter by its name.
inline void PrintTo(const Bug& bug, std::ostream* os) {
  *os << bug.name;
}

inline std::vector<Bug> catalogue() {
  return {
      {"lost_update", Policy::kRandom, "exception", lost_update},
      {"abba_deadlock", Policy::kRandom, "deadlock", abba_deadlock},
      {"missed_notify", Policy::kRandom, "deadlock", missed_notify},
      {"use_before_init", Policy::kRandom, "exception", use_before_init},
      {"channel_check_then_act", Policy::kRandom, "exception", channel_check_then_act},
      {"waitgroup_add_race", Policy::kRandom, "exception", waitgroup_add_race},
      {"double_checked_flag", Policy::kRandom, "exception", double_checked_flag},
      {"timeout_ordering", Policy::kRandom, "leak", timeout_ordering},
      {"lock_leaked_on_throw", Policy::kRandom, "deadlock", lock_leaked_on_throw},
      {"starved_monitor", Policy::kPct, "exception", starved_monitor},
      {"unlocked_counter", Policy::kPct, "exception", unlocked_counter},
  };
}

}  // namespace weft_bugs
